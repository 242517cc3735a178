"""CloudWatch dispatcher against the moto server: metrics are read back with GetMetricData."""

from __future__ import annotations

import datetime

import pytest

from lambda_batch import CloudwatchBatchDispatcher, PayloadError
from tests.faults import OK, Fault, FaultInjector, fast_policy

pytestmark = pytest.mark.integration

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _request_compression_moto_can_read(monkeypatch):
    """moto before 5.2 (the last moto for Python 3.9) cannot read the gzip-compressed JSON bodies
    that newer botocore sends for large PutMetricData calls; there, send them uncompressed."""
    import moto

    if tuple(int(part) for part in moto.__version__.split(".")[:2]) < (5, 2):
        monkeypatch.setenv("AWS_DISABLE_REQUEST_COMPRESSION", "true")


@pytest.fixture()
def cloudwatch(aws_client):
    return aws_client("cloudwatch")


def make(boto3_session, endpoint_url, namespace, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return CloudwatchBatchDispatcher(
        namespace, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def metric_sum(cloudwatch, namespace, name, dimensions):
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=NOW - datetime.timedelta(minutes=5),
        EndTime=NOW + datetime.timedelta(minutes=5),
    )
    return sum(result["MetricDataResults"][0]["Values"])


def test_metrics_arrive_in_calls_of_up_to_1000(boto3_session, endpoint_url, cloudwatch, unique_name):
    namespace = unique_name("Shop")
    injector = FaultInjector(boto3_session, "cloudwatch", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, namespace)
    for i in range(1500):
        dispatcher.submit_metric("Orders", 1, timestamp=NOW, dimensions={"Shard": str(i % 3)})
    dispatcher.submit_metric(
        "Latency", values=[10.0, 20.0], counts=[3, 1], unit="Milliseconds", timestamp=NOW
    )
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1000, 501]
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace=namespace)["Metrics"]}
    assert names == {"Orders", "Latency"}
    assert metric_sum(cloudwatch, namespace, "Orders", [{"Name": "Shard", "Value": "0"}]) == 500


def test_throttled_put_is_retried_and_a_denied_one_returns_the_metrics(
    boto3_session, endpoint_url, cloudwatch, unique_name
):
    namespace = unique_name("Retry")
    plan = {0: Fault("throttle"), 2: Fault("denied")}
    FaultInjector(boto3_session, "cloudwatch", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, namespace)
    dispatcher.submit_metric("Kept", 2, timestamp=NOW)
    assert dispatcher.flush_payloads() == []
    datum = {"MetricName": "Lost", "Value": 1.0, "Unit": "Count"}
    dispatcher.submit_payload(datum)
    failed = dispatcher.flush_payloads()
    assert failed == [datum] and failed[0] is datum
    assert dispatcher.unprocessed_details[0].code == "AccessDenied"
    assert metric_sum(cloudwatch, namespace, "Kept", []) == 2


def test_bad_metrics_are_refused_at_submit(boto3_session, endpoint_url, unique_name):
    dispatcher = make(boto3_session, endpoint_url, unique_name("Bad"))
    with pytest.raises(PayloadError, match="must be a datetime"):
        dispatcher.submit_metric("Text", 1, timestamp="2024-01-01")
    with pytest.raises(PayloadError, match=r"Value must be a str, not bytes \(decode bytes first\)"):
        dispatcher.submit_metric("Raw", 1, dimensions={"Shop": b"secret"})
    with pytest.raises(PayloadError, match="Value must be a str, not int"):
        dispatcher.submit_payload(
            {"MetricName": "Int", "Value": 1, "Dimensions": [{"Name": "a", "Value": 7}]}
        )
    with pytest.raises(PayloadError, match="over the limit of 150"):
        dispatcher.submit_metric("Many", values=list(range(151)))
    with pytest.raises(PayloadError, match="outside the range"):
        dispatcher.submit_metric("Inf", float("inf"))
    assert dispatcher.flush_payloads() == []
    assert dispatcher.stats.submitted == 0


def test_naive_timestamps_are_utc_and_boto3_batch_utils_dimensions_work(
    boto3_session, endpoint_url, cloudwatch, unique_name
):
    """boto3-batch-utils 5.x code: a naive datetime is UTC (as boto3 takes it); one
    cloudwatch_dimension or a list of them."""
    from lambda_batch import cloudwatch_dimension as cd

    namespace = unique_name("Compat")
    dispatcher = make(boto3_session, endpoint_url, namespace)
    naive_now = NOW.replace(tzinfo=None)
    dispatcher.submit_metric("Count", value=3, timestamp=naive_now, dimensions=cd("dimA", 12345))
    dispatcher.submit_metric("Count", value=4, timestamp=naive_now, dimensions=[cd("dimA", "12345")])
    assert dispatcher.flush_payloads() == []
    assert metric_sum(cloudwatch, namespace, "Count", [{"Name": "dimA", "Value": "12345"}]) == 7
