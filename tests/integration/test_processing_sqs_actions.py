"""The SQS batch actions of the processors (DeleteMessageBatch, ChangeMessageVisibilityBatch) on the
batching engine, against a real SQS wire protocol (moto on loopback): what the queue shows after.
"""

from __future__ import annotations

import time

import pytest

from lambda_batch import RetryPolicy
from lambda_batch.engine.delivery import DeliveryLoop
from lambda_batch.engine.dispatcher import BaseDispatcher
from lambda_batch.errors import ConfigurationError
from lambda_batch.processing.sqs_actions import MessageDeletes, VisibilityChanges
from tests.processing_events import CallCounter, make_queue, receive_all, receive_sqs_event, send_bodies

pytestmark = pytest.mark.integration

FAST = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, deadline_margin=0.0)


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


def _receive_hidden(sqs, queue, count, hidden_for=60):
    """Receive ``count`` messages and keep them invisible for ``hidden_for`` seconds."""
    sqs.set_queue_attributes(QueueUrl=queue["url"], Attributes={"VisibilityTimeout": str(hidden_for)})
    return receive_sqs_event(sqs, queue, count)["Records"]


def _visible_now(sqs, url, expected):
    return sorted(m["Body"] for m in receive_all(sqs, url, expected, attempts=3))


def test_both_actions_are_thin_users_of_the_one_delivery_loop():
    arn = "arn:aws:sqs:us-east-1:123456789012:jobs"
    deletes, changes = MessageDeletes(arn), VisibilityChanges(arn)
    assert issubclass(MessageDeletes, BaseDispatcher)
    assert issubclass(VisibilityChanges, BaseDispatcher)
    assert type(deletes._delivery) is DeliveryLoop
    assert type(changes._delivery) is DeliveryLoop


def test_visibility_changed_to_zero_makes_messages_visible_at_once_in_calls_of_ten(
    sqs, boto3_session, endpoint_url, unique_name
):
    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, unique_name("visibility"))
    bodies = [f"m{n:02}" for n in range(12)]
    send_bodies(sqs, queue["url"], bodies)
    records = _receive_hidden(sqs, queue, 12)
    assert _visible_now(sqs, queue["url"], 0) == []  # hidden for 60 s
    with VisibilityChanges(
        queue["arn"], boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=FAST
    ) as changes:
        for record in records[:11]:
            changes.change(record["messageId"], record["receiptHandle"], visibility_timeout=0)
    assert changes.unprocessed_details == []
    assert calls.entries_per_call() == [10, 1]
    assert _visible_now(sqs, queue["url"], 11) == sorted(r["body"] for r in records[:11])


def test_a_throttled_visibility_change_is_retried_and_a_stale_handle_is_handed_back(
    sqs, boto3_session, endpoint_url, unique_name
):
    from botocore.awsrequest import AWSResponse

    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    state = {"n": 0}

    def throttle_first(**_):
        state["n"] += 1
        if state["n"] == 1:
            error = {"Code": "ThrottlingException", "Message": "slow down"}
            return AWSResponse("http://x", 400, {}, None), {
                "Error": error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    boto3_session.events.register("before-call.sqs.ChangeMessageVisibilityBatch", throttle_first)
    queue = make_queue(sqs, unique_name("visibility"))
    send_bodies(sqs, queue["url"], ["a", "b"])
    records = _receive_hidden(sqs, queue, 2)
    changes = VisibilityChanges(
        queue["arn"], boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=FAST
    )
    changes.change(records[0]["messageId"], records[0]["receiptHandle"], visibility_timeout=0)
    changes.change(records[1]["messageId"], "no-longer-valid", visibility_timeout=0)
    [failure] = changes.run()
    assert calls.count == 2  # the throttled call, then one retry; the stale handle is not retried
    assert failure.record_id == records[1]["messageId"]
    assert failure.code == "ReceiptHandleIsInvalid"
    assert changes.stats.retries == 1
    assert _visible_now(sqs, queue["url"], 1) == [records[0]["body"]]


def test_a_visibility_timeout_out_of_range_is_refused_before_any_call(
    sqs, boto3_session, endpoint_url, unique_name
):
    queue = make_queue(sqs, unique_name("visibility"))
    changes = VisibilityChanges(queue["arn"], boto3_session=boto3_session, endpoint_url=endpoint_url)
    for bad in (-1, 43_201, 1.5, True):
        with pytest.raises(ConfigurationError, match="visibility_timeout"):
            changes.change("m-1", "handle", visibility_timeout=bad)
    assert changes.run() == []
    with pytest.raises(ConfigurationError, match="not an SQS queue ARN"):
        VisibilityChanges("arn:aws:sns:us-east-1:123456789012:topic")


def test_deletes_split_a_call_refused_for_one_bad_entry(sqs, boto3_session, endpoint_url, unique_name):
    calls = CallCounter(boto3_session, "sqs", "DeleteMessageBatch")

    state = {"refuse": False}

    def look(params, **_):
        entries = params["Entries"]
        state["refuse"] = len(entries) > 1 and any(e["ReceiptHandle"] == "bad" for e in entries)

    def refuse_calls_with_the_bad_handle(**_):
        if state["refuse"]:
            from botocore.awsrequest import AWSResponse

            error = {"Code": "InvalidParameterValue", "Message": "bad entry"}
            return AWSResponse("http://x", 400, {}, None), {
                "Error": error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    boto3_session.events.register("provide-client-params.sqs.DeleteMessageBatch", look)
    boto3_session.events.register("before-call.sqs.DeleteMessageBatch", refuse_calls_with_the_bad_handle)
    queue = make_queue(sqs, unique_name("split"))
    send_bodies(sqs, queue["url"], ["a", "b", "c"])
    records = _receive_hidden(sqs, queue, 3, hidden_for=1)
    deletes = MessageDeletes(
        queue["arn"], boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=FAST
    )
    for record in records:
        deletes.delete(record["messageId"], record["receiptHandle"])
    deletes.delete("m-bad", "bad")
    failures = deletes.run()
    assert [f.record_id for f in failures] == ["m-bad"]
    assert deletes.stats.splits >= 1
    assert calls.entries_per_call()[0] == 4
    time.sleep(1.2)
    assert _visible_now(sqs, queue["url"], 0) == []  # the three good ones were deleted
