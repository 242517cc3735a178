"""Firehose dispatcher against the moto server: records are read back from the S3 destination."""

from __future__ import annotations

import json

import pytest

from lambda_batch import FirehoseBatchDispatcher, PayloadError
from tests.faults import OK, Fault, FaultInjector, fast_policy

pytestmark = pytest.mark.integration


@pytest.fixture()
def delivery(aws_client, unique_name):
    s3 = aws_client("s3")
    firehose = aws_client("firehose")
    bucket = unique_name("firehose-dest")
    s3.create_bucket(Bucket=bucket)
    name = unique_name("events")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": f"arn:aws:s3:::{bucket}",
        },
    )
    return name, bucket, s3


def delivered(s3, bucket):
    lines = []
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        lines.extend(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines())
    return lines


def make(boto3_session, endpoint_url, name, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return FirehoseBatchDispatcher(
        name, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def test_records_reach_the_destination(boto3_session, endpoint_url, delivery):
    name, bucket, s3 = delivery
    injector = FaultInjector(boto3_session, "firehose", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, record_delimiter=b"\n")
    for i in range(730):
        dispatcher.submit_payload({"n": i})
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [500, 230]
    assert sorted(json.loads(line)["n"] for line in delivered(s3, bucket)) == list(range(730))


def test_four_mib_per_call(boto3_session, endpoint_url, delivery):
    name, _bucket, _s3 = delivery
    injector = FaultInjector(boto3_session, "firehose", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, record_delimiter=b"\n")
    for _ in range(9):
        dispatcher.submit_payload("z" * 1_000_000)  # 9 x ~1 MB: 4 per call
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [4, 4, 1]
    with pytest.raises(PayloadError, match="1,000 KiB"):
        dispatcher.submit_payload("z" * 1_024_001)


def test_service_unavailable_records_are_retried(boto3_session, endpoint_url, delivery):
    name, bucket, s3 = delivery
    plan = {0: Fault("partial", {1: True, 2: False})}
    injector = FaultInjector(boto3_session, "firehose", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, name, record_delimiter=b"\n")
    payloads = [{"n": i} for i in range(4)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert failed == [payloads[2]] and failed[0] is payloads[2]
    assert [c.entries for c in injector.calls] == [4, 1]
    assert sorted(json.loads(line)["n"] for line in delivered(s3, bucket)) == [0, 1, 3]


def test_stream_named_by_arn(boto3_session, endpoint_url, delivery):
    name, bucket, s3 = delivery
    dispatcher = make(
        boto3_session, endpoint_url, f"arn:aws:firehose:us-east-1:123456789012:deliverystream/{name}"
    )
    dispatcher.submit_payload(b"raw-bytes\n")
    assert dispatcher.flush_payloads() == []
    assert delivered(s3, bucket) == [b"raw-bytes"]
