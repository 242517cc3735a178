"""retry_delay against a real SQS wire protocol (moto on loopback): when a failed message is received again.

moto honours ChangeMessageVisibility timing, so a failed record's message becomes receivable after
its retry delay, not after the queue's 30 s visibility timeout. Faults come from botocore hooks.
"""

from __future__ import annotations

import logging
import time

import pytest
from botocore.awsrequest import AWSResponse

from lambda_batch import (
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    RetryDelay,
    SQSBatchProcessingError,
    SqsFifoPartialProcessor,
    process_partial_response,
    sqs_batch_processor,
)
from tests.processing_events import CallCounter, make_queue, receive_all, receive_sqs_event, send_bodies

pytestmark = [pytest.mark.integration, pytest.mark.realtime]


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


def _fail(record):
    raise ValueError("poison")


def _visibility_asked(boto3_session):
    """The VisibilityTimeout of every entry of the ChangeMessageVisibilityBatch calls made (the
    delays the processor chose, read off the requests: exact, whatever the machine's load)."""
    asked = []

    def record(params, **_):
        asked.extend(entry["VisibilityTimeout"] for entry in params["Entries"])

    boto3_session.events.register("before-parameter-build.sqs.ChangeMessageVisibilityBatch", record)
    return asked


def _received_again_after(sqs, url, started, limit=14.0):
    """Seconds from ``started`` until the message can be received again (polling every 0.1 s)."""
    while time.monotonic() - started < limit:
        messages = sqs.receive_message(QueueUrl=url, AttributeNames=["All"]).get("Messages", [])
        if messages:
            return time.monotonic() - started, messages[0]
        time.sleep(0.1)
    return None, None


def _bump_receive_count(sqs, queue, times):
    """Receive the one message ``times`` times, making it visible again at once each time."""
    for _ in range(times):
        message = receive_all(sqs, queue["url"], 1)[0]
        sqs.change_message_visibility(
            QueueUrl=queue["url"], ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


@pytest.mark.parametrize(
    ("earlier_receives", "delay", "expected"),
    [
        (0, RetryDelay(initial_seconds=2, jitter=False), 2.0),
        (2, RetryDelay(initial_seconds=2, jitter=False), 8.0),
        (2, RetryDelay(initial_seconds=2, max_seconds=3, jitter=False), 3.0),
    ],
    ids=["receive-1-after-2s", "receive-3-after-8s", "max-seconds-caps-at-3s"],
)
def test_a_failed_message_comes_back_after_its_retry_delay_not_the_queue_timeout(
    sqs, boto3_session, endpoint_url, unique_name, earlier_receives, delay, expected
):
    queue = make_queue(sqs, unique_name("delay"), visibility_timeout=30)
    send_bodies(sqs, queue["url"], ["poison"])
    _bump_receive_count(sqs, queue, earlier_receives)
    event = receive_sqs_event(sqs, queue, 1)
    assert event["Records"][0]["attributes"]["ApproximateReceiveCount"] == str(earlier_receives + 1)
    processor = BatchProcessor(
        EventType.SQS,
        retry_delay=delay,
        raise_on_entire_batch_failure=False,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    asked = _visibility_asked(boto3_session)
    started = time.monotonic()
    response = process_partial_response(event, _fail, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert asked == [int(expected)]  # the delay the processor set, to the second
    after, message = _received_again_after(sqs, queue["url"], started)
    # Not back before its delay (a busy machine can only make it later); back well before the
    # queue's own 30 s timeout: the 14 s limit leaves a loaded machine 6 s or more to poll.
    assert after is not None, "not received again within 14 s (the queue's timeout is 30 s)"
    assert after >= expected - 0.6, after
    assert message["Attributes"]["ApproximateReceiveCount"] == str(earlier_receives + 2)


def test_visibility_calls_are_one_per_ten_failures_per_queue_and_successes_are_left_alone(
    sqs, boto3_session, endpoint_url, unique_name
):
    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    first = make_queue(sqs, unique_name("delay-a"), visibility_timeout=30)
    second = make_queue(sqs, unique_name("delay-b"), visibility_timeout=30)
    send_bodies(sqs, first["url"], [f"bad-{n}" for n in range(11)] + ["good"])
    send_bodies(sqs, second["url"], ["bad-x"])
    records = receive_sqs_event(sqs, first, 12)["Records"] + receive_sqs_event(sqs, second, 1)["Records"]

    def handler(record):
        if record["body"].startswith("bad"):
            raise ValueError("bad")

    processor = BatchProcessor(
        EventType.SQS,
        retry_delay=RetryDelay(initial_seconds=1, jitter=False),
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    response = process_partial_response({"Records": records}, handler, processor)
    assert len(response["batchItemFailures"]) == 12
    assert sorted(calls.entries_per_call()) == [1, 1, 10]
    # the URL built from each record's ARN (the queue, in its region)
    names = sorted(call["QueueUrl"].rsplit("/", 1)[1] for call in calls.calls)
    assert names == sorted([first["arn"].rsplit(":", 1)[1]] * 2 + [second["arn"].rsplit(":", 1)[1]])
    assert all(entry["VisibilityTimeout"] == 1 for call in calls.calls for entry in call["Entries"])
    assert processor.visibility_failures == []
    time.sleep(1.3)
    back = receive_all(sqs, first["url"], 11) + receive_all(sqs, second["url"], 1)
    assert sorted(m["Body"] for m in back) == sorted([f"bad-{n}" for n in range(11)] + ["bad-x"])


def test_no_failure_no_call(sqs, boto3_session, endpoint_url, unique_name):
    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, unique_name("delay-ok"), visibility_timeout=30)
    send_bodies(sqs, queue["url"], ["a", "b"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = BatchProcessor(
        EventType.SQS, retry_delay=RetryDelay(1), boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    assert process_partial_response(event, lambda record: None, processor) == {"batchItemFailures": []}
    assert calls.count == 0


def _throttle_first(counter):
    def hook(**_):
        counter["n"] += 1
        if counter["n"] == 1:
            error = {"Code": "ThrottlingException", "Message": "slow down"}
            return AWSResponse("http://x", 400, {}, None), {
                "Error": error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    return hook


def test_a_throttled_visibility_change_is_retried_in_delete_mode_and_the_error_still_raised(
    sqs, boto3_session, endpoint_url, unique_name
):
    counter = {"n": 0}
    boto3_session.events.register("before-call.sqs.ChangeMessageVisibilityBatch", _throttle_first(counter))
    queue = make_queue(sqs, unique_name("delay-throttle"), visibility_timeout=30)
    send_bodies(sqs, queue["url"], ["good", "bad"])
    event = receive_sqs_event(sqs, queue, 2)

    def handler(record):
        if record["body"] == "bad":
            raise ValueError("bad")

    processor = PartialSQSProcessor(
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        retry_delay=RetryDelay(initial_seconds=1, jitter=False),
    )
    started = time.monotonic()
    expected = pytest.raises(SQSBatchProcessingError, match="1 of 2 records failed, 1 deleted")
    with expected, processor(event["Records"], handler) as proc:
        proc.process()
    assert counter["n"] == 2  # throttled once, then changed
    assert processor.visibility_failures == []
    # Back within 10 s, not the queue's 30 s (1 s asked; the rest is room for a busy machine).
    after, message = _received_again_after(sqs, queue["url"], started, limit=10)
    assert after is not None
    assert message["Body"] == "bad"  # the success was deleted, the failure came back early


def test_a_visibility_change_that_keeps_failing_is_reported_and_hides_nothing_and_loses_nothing(
    sqs, boto3_session, endpoint_url, unique_name, caplog
):
    def deny(**_):
        error = {"Code": "AccessDenied", "Message": "no sqs:ChangeMessageVisibility"}
        return AWSResponse("http://x", 403, {}, None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    boto3_session.events.register("before-call.sqs.ChangeMessageVisibilityBatch", deny)
    queue = make_queue(sqs, unique_name("delay-denied"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["good", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    bad_id = next(r["messageId"] for r in event["Records"] if r["body"] == "bad")

    def handler(record):
        if record["body"] == "bad":
            raise ValueError("bad")

    processor = BatchProcessor(
        EventType.SQS,
        retry_delay=RetryDelay(initial_seconds=0, jitter=False),
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    with caplog.at_level(logging.ERROR, logger="lambda_batch.processing"):
        response = process_partial_response(event, handler, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert [(f.message_id, f.code) for f in processor.visibility_failures] == [(bad_id, "AccessDenied")]
    assert any(bad_id in r.getMessage() and "AccessDenied" in r.getMessage() for r in caplog.records)
    # Neither deleted nor lost: the failed message comes back after the queue's own 2 s (the
    # success too, since this test plays no Lambda deleting it).
    time.sleep(2.2)
    assert sorted(m["Body"] for m in receive_all(sqs, queue["url"], 2)) == ["bad", "good"]


def test_the_decorator_and_fifo_processor_take_retry_delay_and_fifo_delays_the_held_group(
    sqs, boto3_session, endpoint_url, unique_name
):
    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, unique_name("delay-fifo"), visibility_timeout=30, fifo=True)
    send_bodies(sqs, queue["url"], ["g1-a", "g1-b"], group="g1")
    send_bodies(sqs, queue["url"], ["g2-a"], group="g2")
    event = receive_sqs_event(sqs, queue, 3)

    def handler(record):
        if record["body"] == "g1-a":
            raise ValueError("bad")

    processor = SqsFifoPartialProcessor(
        skip_group_on_error=True,
        retry_delay=RetryDelay(initial_seconds=2, jitter=False),
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    response = process_partial_response(event, handler, processor)
    failed_ids = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert {r["body"] for r in event["Records"] if r["messageId"] in failed_ids} == {"g1-a", "g1-b"}
    changed = sorted(entry["VisibilityTimeout"] for call in calls.calls for entry in call["Entries"])
    assert changed == [2, 2]  # the failed record and the record of its group held back behind it
    time.sleep(2.3)
    # The group is back after 2 s, not 30 s. (SQS hands out g1-a first; moto 5.2 re-checks the
    # group's in-flight set message by message and hands out g1-b first: order is not asserted.)
    back = {m["Body"] for m in receive_all(sqs, queue["url"], 1, attempts=3)}
    assert back and back <= {"g1-a", "g1-b"}

    # The documented decorator takes the option too (delete mode).
    decorated = sqs_batch_processor(
        record_handler=_fail,
        retry_delay=RetryDelay(initial_seconds=1, jitter=False),
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )(lambda event, context: "ok")
    assert decorated is not None


@pytest.mark.parametrize("mode", ["native", "delete"])
def test_a_batch_that_fully_fails_still_gets_its_delays_before_the_error(
    sqs, boto3_session, endpoint_url, unique_name, mode
):
    from lambda_batch import BatchProcessingError

    calls = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, unique_name(f"delay-all-{mode}"), visibility_timeout=30)
    send_bodies(sqs, queue["url"], ["bad-1", "bad-2"])
    event = receive_sqs_event(sqs, queue, 2)
    options = {
        "retry_delay": RetryDelay(initial_seconds=1, jitter=False),
        "boto3_session": boto3_session,
        "endpoint_url": endpoint_url,
    }
    started = time.monotonic()
    with pytest.raises(BatchProcessingError):  # SQSBatchProcessingError is one too
        if mode == "native":
            process_partial_response(event, _fail, BatchProcessor(EventType.SQS, **options))
        else:
            sqs_batch_processor(record_handler=_fail, **options)(lambda event, context: None)(event, None)
    assert calls.entries_per_call() == [2]
    # Back within 10 s, not the queue's 30 s (1 s asked; the rest is room for a busy machine).
    after, _ = _received_again_after(sqs, queue["url"], started, limit=10)
    assert after is not None
