"""Bad options and bad input are refused where they are given, and never quoted in logs."""

from __future__ import annotations

import inspect
import logging

import pytest

from lambda_batch import (
    CloudwatchBatchDispatcher,
    EventBridgeBatchDispatcher,
    PayloadError,
    SQSBatchDispatcher,
    cloudwatch_dimension,
)
from lambda_batch.core.clients import CLIENT_KEYWORDS
from tests.unit.test_dispatch_config import FACTORIES

ENDPOINT = "http://127.0.0.1:9"  # never contacted


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


# -- defect 10: unknown options refused at construction -----------------------------------------


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_a_misspelt_option_is_refused_when_the_dispatcher_is_built(service):
    with pytest.raises(TypeError, match="'max_batch_sise'"):
        FACTORIES[service](max_batch_sise=5)
    with pytest.raises(TypeError, match="'endpoint'"):
        FACTORIES[service](endpoint="http://127.0.0.1:9")


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_boto3_client_argument_is_accepted(service):
    dispatcher = FACTORIES[service](
        endpoint_url=ENDPOINT, region_name="eu-west-1", use_ssl=False, verify=False, api_version=None
    )
    assert dispatcher is not None


def test_the_client_keywords_are_those_of_boto3s_session_client():
    import boto3.session

    parameters = set(inspect.signature(boto3.session.Session.client).parameters) - {"self", "service_name"}
    assert parameters == CLIENT_KEYWORDS


# -- defect 9 (EventBridge, CloudWatch): bad input refused at submit ------------------------------


def test_eventbridge_resources_must_be_a_list_of_arns():
    events = EventBridgeBatchDispatcher("bus", region_name="us-east-1")
    with pytest.raises(PayloadError, match="not a single string"):
        events.submit_payload({"a": 1}, resources="arn:aws:s3:::bucket")
    with pytest.raises(PayloadError, match=r"resources\[0\] must be a non-empty string .* not int"):
        events.submit_payload({"a": 1}, resources=[1])
    with pytest.raises(PayloadError, match="not int"):
        events.submit_payload({"a": 1}, resources=7)
    events.submit_payload({"a": 1}, resources=("arn:aws:s3:::bucket",))
    assert events._buffer.open[0].request["Resources"] == ["arn:aws:s3:::bucket"]


def test_eventbridge_naive_time_is_utc():
    import datetime

    events = EventBridgeBatchDispatcher("bus", region_name="us-east-1")
    events.submit_payload({"a": 1}, time=datetime.datetime(2024, 5, 1, 12, 0))
    assert events._buffer.open[0].request["Time"] == datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


def test_a_cloudwatch_dimension_value_in_bytes_is_refused_at_submit():
    metrics = CloudwatchBatchDispatcher("Shop", region_name="us-east-1")
    with pytest.raises(PayloadError, match="Value must be a str, not bytes"):
        metrics.submit_metric("Orders", 1, dimensions={"Country": b"FR"})
    with pytest.raises(PayloadError, match="Value must be a str"):
        metrics.submit_metric("Orders", 1, dimensions=[{"Name": "Country", "Value": b"FR"}])
    assert metrics._buffer.open == []


def test_cloudwatch_dimension_is_boto3_batch_utils_shape():
    assert cloudwatch_dimension("dimA", 12345) == {"Name": "dimA", "Value": "12345"}
    metrics = CloudwatchBatchDispatcher("Shop", region_name="us-east-1")
    metrics.submit_metric("Orders", 1, dimensions=cloudwatch_dimension("dimA", "1"))
    assert metrics._buffer.open[0].request["Dimensions"] == [{"Name": "dimA", "Value": "1"}]


# -- defect 7 (send path): botocore validation errors are not quoted --------------------------


def test_a_botocore_validation_error_is_logged_without_the_payload(caplog):
    metrics = CloudwatchBatchDispatcher("Shop", region_name="us-east-1", endpoint_url=ENDPOINT)
    datum = {"MetricName": "Orders", "Value": 1, "Unit": b"SECRET-TOKEN-123"}
    metrics.submit_payload(datum)
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        assert metrics.flush_payloads() == [datum]
    (detail,) = metrics.unprocessed_details
    assert detail.code == "ParamValidationError"
    assert "MetricData[0].Unit" in detail.message
    assert "SECRET" not in detail.message
    assert "SECRET" not in caplog.text
    assert "metric Orders" in caplog.text and "ParamValidationError" in caplog.text


def test_an_unexpected_error_on_the_send_path_is_not_quoted(caplog):
    dispatcher = SQSBatchDispatcher(
        "https://sqs.us-east-1.amazonaws.com/123456789012/jobs", endpoint_url=ENDPOINT
    )

    def explode(client, entries):
        raise ValueError(f"cannot encode {entries[0].request['MessageBody']}")

    dispatcher._send = explode
    dispatcher._attributes_read = dispatcher._probed = True
    dispatcher.submit_payload("SECRET-BODY")
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        assert dispatcher.flush_payloads() == ["SECRET-BODY"]
    assert "SECRET" not in caplog.text
