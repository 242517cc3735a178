"""Issue 8, processing side, in delete mode against the moto server (faults from botocore event hooks).

Events are built from messages really received from the emulator; what was deleted is read back
from the queue. Faults: ``before-send`` hooks (they also see botocore's own retries, so they count
every HTTP send) and ``after-call`` hooks that edit the parsed response.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import threading
import time

import pytest

from lambda_batch import PartialSQSProcessor, RetryPolicy, SQSBatchProcessingError
from tests.processing_events import (
    CallCounter,
    FakeLambdaContext,
    bodies_back_after_timeout,
    make_queue,
    receive_sqs_event,
    send_bodies,
)

pytestmark = pytest.mark.integration

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0, deadline_margin=0.0)
SECRET = "SECRET-4111-1111"


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture()
def deletes(boto3_session):
    return CallCounter(boto3_session, "sqs", "DeleteMessageBatch")


def processor_for(boto3_session, endpoint_url, **options):
    return PartialSQSProcessor(boto3_session=boto3_session, endpoint_url=endpoint_url, **options)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_):
        return self.body


def _sqs_error_response(request, status, code, message):
    """An SQS (JSON protocol) error answer, as the service sends it."""
    from botocore.awsrequest import AWSResponse

    body = json.dumps({"__type": f"com.amazonaws.sqs#{code}", "message": message}).encode()
    headers = {"x-amzn-query-error": f"{code};Sender", "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(request.url, status, headers, _Raw(body))


# -- defect 1, delete mode: a coroutine is awaited, never deleted unrun --------------------------------


@pytest.mark.parametrize("concurrency", [1, 3])
def test_delete_mode_awaits_a_coroutine_returned_by_a_lambda(
    sqs, boto3_session, endpoint_url, unique_name, concurrency
):
    queue = make_queue(sqs, unique_name("coro"))
    send_bodies(sqs, queue["url"], ["a", "b", "bad", "c"])
    event = receive_sqs_event(sqs, queue, 4)
    ran = []

    async def handle(record):
        ran.append(record["body"])
        if record["body"] == "bad":
            raise ValueError("cannot handle")

    @functools.wraps(handle)
    def wrapped(record):
        return handle(record)

    around = lambda record: handle(record)  # noqa: E731, PLW0108 - the shape under test
    for handler in (around, wrapped):
        for run in ("process", "async_process"):
            ran.clear()
            processor = processor_for(boto3_session, endpoint_url, max_concurrency=concurrency)
            with pytest.raises(SQSBatchProcessingError), processor(event["Records"], handler) as proc:
                getattr(proc, run)()
            assert sorted(ran) == ["a", "b", "bad", "c"]  # every body ran before its message was deleted
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["bad"]


# -- defect 5: an entry the DeleteMessageBatch response omits is retried, then reported ---------------


def _omit_from_successful(boto3_session, times):
    state = {"calls": 0}

    def omit(parsed, **_):
        state["calls"] += 1
        if state["calls"] <= times and parsed.get("Successful"):
            parsed["Successful"] = parsed["Successful"][1:]  # the service "forgot" one entry

    boto3_session.events.register("after-call.sqs.DeleteMessageBatch", omit)


def test_an_entry_missing_from_the_response_is_retried(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    _omit_from_successful(boto3_session, times=1)
    queue = make_queue(sqs, unique_name("missing"))
    send_bodies(sqs, queue["url"], ["a", "b", "c", "bad"])
    event = receive_sqs_event(sqs, queue, 4)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], _fail_on("bad")) as proc:
        proc.process()
    assert deletes.entries_per_call() == [3, 1]  # the omitted entry was sent again
    assert processor.delete_failures == []


def test_an_entry_always_missing_from_the_response_is_reported_not_deleted(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    _omit_from_successful(boto3_session, times=100)
    queue = make_queue(sqs, unique_name("missing"))
    send_bodies(sqs, queue["url"], ["a", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with (
        pytest.raises(SQSBatchProcessingError, match=r"1 processed messages could not be deleted") as raised,
        processor(event["Records"], _fail_on("bad")) as proc,
    ):
        proc.process()
    assert deletes.count == FAST_RETRIES.max_attempts
    [failure] = processor.delete_failures
    assert failure.code == "MissingFromResponse"
    assert failure.message_id == next(r["messageId"] for r in event["Records"] if r["body"] == "a")
    assert "0 deleted" in str(raised.value)


# -- defect 3: one retry loop (no botocore retries underneath), within the deadline --------------------


def _throttle_every_send(boto3_session):
    sends = []

    def throttle(request, **_):
        sends.append(time.monotonic())
        return _sqs_error_response(request, 400, "ThrottlingException", "Rate exceeded")

    boto3_session.events.register("before-send.sqs.DeleteMessageBatch", throttle)
    return sends


@pytest.mark.parametrize(("with_config", "remaining_ms"), [(False, 3000), (True, 3000), (False, None)])
def test_throttled_deletes_make_at_most_the_layer_attempts_and_end_before_the_deadline(
    sqs, boto3_session, endpoint_url, unique_name, with_config, remaining_ms
):
    from botocore.config import Config

    queue = make_queue(sqs, unique_name("throttled"))
    send_bodies(sqs, queue["url"], ["a", "b", "bad"])
    event = receive_sqs_event(sqs, queue, 3)
    sends = _throttle_every_send(boto3_session)
    options = {"config": Config(retries={"max_attempts": 10, "mode": "standard"})} if with_config else {}
    processor = processor_for(boto3_session, endpoint_url, **options)  # the default retry policy
    context = FakeLambdaContext(remaining_ms) if remaining_ms is not None else None
    started = time.monotonic()
    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor(event["Records"], _fail_on("bad"), lambda_context=context) as proc,
    ):
        proc.process()
    elapsed = time.monotonic() - started
    assert 1 <= len(sends) <= processor.retry_policy.max_attempts  # one chunk: the layer's budget, no more
    if remaining_ms is not None:
        assert elapsed < remaining_ms / 1000
    assert [f.code for f in processor.delete_failures] == ["ThrottlingException"] * 2
    assert "could not be deleted (ThrottlingException: 2)" in str(raised.value)


@pytest.mark.realtime
def test_a_hung_endpoint_does_not_hold_the_delete_past_the_deadline(sqs, unique_name, boto3_session):
    # An endpoint that accepts connections and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    hung_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    queue = make_queue(sqs, unique_name("hung"))
    send_bodies(sqs, queue["url"], ["a", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = PartialSQSProcessor(boto3_session=boto3_session, endpoint_url=hung_url)
    outcome = {}

    def run():
        try:
            with processor(event["Records"], _fail_on("bad"), lambda_context=FakeLambdaContext(3000)) as proc:
                proc.process()
        except SQSBatchProcessingError as error:
            outcome["error"] = error
        outcome["at"] = time.monotonic()

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(8)
    listener.close()
    assert "at" in outcome, "the delete was still waiting for the hung endpoint 8 s later"
    assert outcome["at"] - started < 3.0
    assert "error" in outcome
    [failure] = processor.delete_failures
    assert failure.code in ("ReadTimeoutError", "DeadlineExceeded")


def test_a_user_given_client_is_used_as_is_with_a_warning_once(
    sqs, aws_client, boto3_session, endpoint_url, unique_name, caplog
):
    client = aws_client("sqs")
    queue = make_queue(sqs, unique_name("client"))
    send_bodies(sqs, queue["url"], ["a", "bad"])
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        processors = [PartialSQSProcessor(client=client) for _ in range(3)]
    warnings = [r for r in caplog.records if "retries" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per processor
    event = receive_sqs_event(sqs, queue, 2)
    with pytest.raises(SQSBatchProcessingError), processors[0](event["Records"], _fail_on("bad")) as proc:
        proc.process()
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["bad"]


# -- the delete-failure error names the AWS error code ------------------------------------------------


def test_delete_failure_error_names_the_aws_error_code(sqs, boto3_session, endpoint_url, unique_name):
    boto3_session.events.register(
        "before-send.sqs.DeleteMessageBatch",
        lambda request, **_: _sqs_error_response(request, 503, "ServiceUnavailable", "try later"),
    )
    queue = make_queue(sqs, unique_name("unavailable"))
    send_bodies(sqs, queue["url"], ["a", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with (
        pytest.raises(SQSBatchProcessingError, match=r"could not be deleted \(ServiceUnavailable: 1\)"),
        processor(event["Records"], _fail_on("bad")) as proc,
    ):
        proc.process()


# -- defect 7, delete mode: no body in the logs or the error ------------------------------------------


def test_delete_mode_logs_and_error_carry_no_body(sqs, boto3_session, endpoint_url, unique_name, caplog):
    queue = make_queue(sqs, unique_name("secret"))
    send_bodies(sqs, queue["url"], ["1", SECRET])
    event = receive_sqs_event(sqs, queue, 2)
    secret_id = next(r["messageId"] for r in event["Records"] if r["body"] == SECRET)
    processor = processor_for(boto3_session, endpoint_url)
    with (
        caplog.at_level(logging.DEBUG, logger="lambda_batch"),
        pytest.raises(SQSBatchProcessingError) as raised,
        processor(event["Records"], lambda record: int(record["body"])) as proc,
    ):
        proc.process()
    for output in (caplog.text, str(raised.value)):
        assert "SECRET" not in output
        assert "ValueError" in output
        assert secret_id in output


# -- suppress_exception: never silent -----------------------------------------------------------------


def test_suppress_exception_logs_at_error_the_failed_ids_that_will_be_deleted(
    sqs, boto3_session, endpoint_url, unique_name, caplog
):
    queue = make_queue(sqs, unique_name("suppressed"))
    send_bodies(sqs, queue["url"], ["a", "bad-1", "bad-2"])
    event = receive_sqs_event(sqs, queue, 3)
    failed_ids = sorted(r["messageId"] for r in event["Records"] if r["body"].startswith("bad"))
    processor = PartialSQSProcessor(None, True, boto3_session, endpoint_url=endpoint_url)  # v1 order
    with (
        caplog.at_level(logging.DEBUG, logger="lambda_batch"),
        processor(event["Records"], _fail_on("bad-1", "bad-2")) as proc,
    ):
        proc.process()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per batch
    text = errors[0].getMessage()
    assert all(message_id in text for message_id in failed_ids)
    assert "delete" in text


def _fail_on(*bad):
    def record_handler(record):
        if record["body"] in bad:
            raise ValueError(f"cannot handle {record['body']}")
        return record["body"]

    return record_handler
