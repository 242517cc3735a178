"""Lambda's SQS event source rules shared by the tooling: the record built from a message, what is deleted."""

from __future__ import annotations

import base64
from typing import Any, Dict

import pytest

from devtools.lambda_context import LambdaContext
from devtools.lambda_sqs import lambda_sqs_record, reported_failures, returned_ids, send_attributes

ARN = "arn:aws:sqs:eu-west-1:123456789012:jobs"


def _message(**attributes: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "Body": '{"n": 1}',
        "MD5OfBody": "abc",
        "Attributes": {"ApproximateReceiveCount": "2"},
        "MessageAttributes": attributes,
    }


def test_a_record_has_lambdas_shape_with_binary_values_as_base64_text() -> None:
    record = lambda_sqs_record(
        _message(
            blob={"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            name={"DataType": "String", "StringValue": "x"},
        ),
        ARN,
    )
    assert record["messageAttributes"]["blob"] == {
        "binaryValue": base64.b64encode(b"\x00\x01").decode(),
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert record["messageAttributes"]["name"] == {
        "stringValue": "x",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["awsRegion"] == "eu-west-1" and record["eventSourceARN"] == ARN
    assert record["eventSource"] == "aws:sqs" and record["attributes"]["ApproximateReceiveCount"] == "2"


def test_attributes_of_a_sample_go_back_to_sqs_as_bytes() -> None:
    record = lambda_sqs_record(_message(blob={"DataType": "Binary", "BinaryValue": b"\xff"}), ARN)
    assert send_attributes(record) == {"blob": {"DataType": "Binary", "BinaryValue": b"\xff"}}


@pytest.mark.parametrize(
    ("ok", "response", "reports", "returned"),
    [
        (False, None, True, ["a", "b"]),  # an error or a timeout: nothing deleted
        (True, None, True, []),
        (True, {"batchItemFailures": []}, True, []),
        (True, {"batchItemFailures": [{"itemIdentifier": "b"}]}, True, ["b"]),
        (True, {"batchItemFailures": [{"itemIdentifier": "b"}]}, False, []),  # not read without the setting
        (True, {"batchItemFailures": [{"itemIdentifier": "zzz"}]}, True, ["a", "b"]),  # malformed
        (True, {"batchItemFailures": [{"itemIdentifier": ""}]}, True, ["a", "b"]),
        (True, {"batchItemFailures": ["b"]}, True, ["a", "b"]),
        (True, {"batchItemFailures": "b"}, True, ["a", "b"]),
        (True, '{"batchItemFailures": [{"itemIdentifier": "a"}]}', True, ["a"]),  # JSON text
        (True, "not json", True, []),
    ],
)
def test_which_records_lambda_returns_to_the_queue(
    ok: bool, response: Any, reports: bool, returned: Any
) -> None:
    assert returned_ids(["a", "b"], ok=ok, response=response, report_batch_item_failures=reports) == returned


def test_a_malformed_response_is_told_apart_from_no_failures() -> None:
    assert reported_failures({"batchItemFailures": [{}]}, ["a"]) is None
    assert reported_failures({}, ["a"]) == set()


def test_the_context_counts_down_to_its_deadline() -> None:
    context = LambdaContext("consumer", timeout_seconds=30, region="eu-west-1", account_id="111122223333")
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:111122223333:function:consumer"
    assert context.log_group_name == "/aws/lambda/consumer"
    assert LambdaContext(timeout_seconds=-1).get_remaining_time_in_millis() == 0
