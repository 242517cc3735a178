"""extend_visibility against a real SQS wire protocol (moto on loopback): a slow record's message stays
hidden from a concurrent receiver while it is handled, and a fast batch makes no visibility call.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    SQSBatchProcessingError,
    async_process_partial_response,
    process_partial_response,
)
from lambda_batch.processing.features.heartbeat import HOLD_SECONDS
from tests.processing_events import CallCounter, FakeLambdaContext, make_queue, receive_sqs_event, send_bodies

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

HEARTBEAT_THREAD = "lambda-batch-visibility"


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


class ConcurrentReceiver:
    """Another consumer of the queue: receives every 0.2 s while started; keeps what it saw, and when."""

    def __init__(self, sqs, url):
        self._sqs = sqs
        self._url = url
        self.seen = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            for message in self._sqs.receive_message(QueueUrl=self._url, VisibilityTimeout=0).get(
                "Messages", []
            ):
                self.seen.append((round(time.monotonic() - self.started, 2), message["Body"]))
            self._stop.wait(0.2)


def _counters(boto3_session):
    return (
        CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch"),
        CallCounter(boto3_session, "sqs", "ChangeMessageVisibility"),
        CallCounter(boto3_session, "sqs", "GetQueueAttributes"),
    )


def test_a_6s_handler_on_a_2s_queue_is_never_seen_by_a_concurrent_receiver(
    sqs, boto3_session, endpoint_url, unique_name
):
    batch_calls, single_calls, attribute_calls = _counters(boto3_session)
    queue = make_queue(sqs, unique_name("heartbeat"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["slow"])
    event = receive_sqs_event(sqs, queue, 1)
    processor = BatchProcessor(
        EventType.SQS, extend_visibility=True, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    with ConcurrentReceiver(sqs, queue["url"]) as other:
        response = process_partial_response(
            event, lambda record: time.sleep(6), processor, FakeLambdaContext(30_000)
        )
        worked = time.monotonic() - other.started
    assert response == {"batchItemFailures": []}
    assert worked >= 6
    assert other.seen == []
    assert attribute_calls.count == 1  # the queue's VisibilityTimeout, read once
    *beats, hold = batch_calls.calls
    assert 6 <= len(beats) <= 12  # every third of 2 s
    assert single_calls.count == 0
    assert all(entry["VisibilityTimeout"] == 2 for call in beats for entry in call["Entries"])
    # As the batch ended, the succeeded message was left invisible until Lambda deletes it.
    assert [entry["VisibilityTimeout"] for entry in hold["Entries"]] == [HOLD_SECONDS]
    assert not any(thread.name == HEARTBEAT_THREAD for thread in threading.enumerate())

    # Warm reuse: the queue's timeout is not read again; a 100 ms batch makes no visibility call.
    send_bodies(sqs, queue["url"], ["fast"])
    event = receive_sqs_event(sqs, queue, 1)
    before = batch_calls.count
    process_partial_response(event, lambda record: time.sleep(0.1), processor, FakeLambdaContext(30_000))
    assert batch_calls.count == before
    assert attribute_calls.count == 1


#: The queue's visibility timeout in the batch-end tests: the heartbeat beats every second, so a
#: message always has 2 s of invisibility left (with 2 s, 1.33 s: a loaded machine ran out of it).
END_TIMEOUT = 3


def _processor(mode, flavour, concurrency, boto3_session, endpoint_url):
    options = dict(
        extend_visibility=True,
        visibility_timeout=END_TIMEOUT,
        max_concurrency=concurrency,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    if mode == "delete":
        return PartialSQSProcessor(**options)
    if flavour == "async":
        return AsyncBatchProcessor(EventType.SQS, **options)
    return BatchProcessor(EventType.SQS, **options)


def _run_batch(mode, flavour, processor, event, context):
    """The batch as Lambda would run it: the native response, or delete mode's error."""
    if flavour == "async":

        async def handler(record):
            if record["body"] == "bad":
                raise ValueError("bad")
            if record["body"] == "slow":
                await asyncio.sleep(6)

    else:

        def handler(record):
            if record["body"] == "bad":
                raise ValueError("bad")
            if record["body"] == "slow":
                time.sleep(6)

    if mode == "native":
        run = async_process_partial_response if flavour == "async" else process_partial_response
        return run(event, handler, processor, context)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], handler, context) as proc:
        proc.async_process() if flavour == "async" else proc.process()
    return None


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("mode", ["native", "delete"])
def test_no_message_of_the_batch_is_seen_elsewhere_before_the_batch_ends(
    mode, flavour, concurrency, sqs, boto3_session, endpoint_url, unique_name
):
    # A 3 s queue; "fast" succeeds at once, "bad" fails at once, "slow" takes 6 s. The succeeded
    # "fast" is deleted only after the batch (by Lambda, or by the layer in delete mode), so it
    # must stay invisible as long as "slow" runs.
    # Margin: the heartbeat beats every second, counted from the previous beat's start, and each beat
    # gives the full 3 s: a message always has at least 2 s of invisibility left. The receiver
    # (every 0.2 s, VisibilityTimeout=0 so it hides nothing) can see "fast" or "slow" only when the
    # layer lets them go, or when a beat is over 2 s late (a machine stalled that long). No
    # timing is asserted beyond that.
    batch_calls, single_calls, _ = _counters(boto3_session)
    queue = make_queue(
        sqs, unique_name(f"heartbeat-end-{mode}-{flavour}-{concurrency}"), visibility_timeout=END_TIMEOUT
    )
    send_bodies(sqs, queue["url"], ["fast", "bad", "slow"])
    event = receive_sqs_event(sqs, queue, 3)
    event["Records"].sort(key=lambda record: ["fast", "bad", "slow"].index(record["body"]))
    handles = {record["body"]: record["receiptHandle"] for record in event["Records"]}
    processor = _processor(mode, flavour, concurrency, boto3_session, endpoint_url)
    with ConcurrentReceiver(sqs, queue["url"]) as other:
        response = _run_batch(mode, flavour, processor, event, FakeLambdaContext(30_000))
    seen = {body for _, body in other.seen}
    assert not seen & {"fast", "slow"}, other.seen
    assert single_calls.count == 0
    assert not any(thread.name == HEARTBEAT_THREAD for thread in threading.enumerate())
    # The last round of calls, as the batch ended: what Lambda deletes held for its delete.
    holds = {
        entry["ReceiptHandle"]: entry["VisibilityTimeout"]
        for call in batch_calls.calls
        for entry in call["Entries"]
        if entry["VisibilityTimeout"] != END_TIMEOUT
    }
    if mode == "native":
        bad_id = next(r["messageId"] for r in event["Records"] if r["body"] == "bad")
        assert response == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
        assert holds == {handles["fast"]: HOLD_SECONDS, handles["slow"]: HOLD_SECONDS}
    else:  # the layer deleted the successes itself, right away: nothing held, only "bad" is left
        assert holds == {}
        attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
        left = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert left == 1


def test_a_fast_batch_makes_no_visibility_call(sqs, boto3_session, endpoint_url, unique_name):
    batch_calls, single_calls, _ = _counters(boto3_session)
    queue = make_queue(sqs, unique_name("heartbeat-fast"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["a", "b", "c"])
    event = receive_sqs_event(sqs, queue, 3)
    processor = BatchProcessor(
        EventType.SQS,
        extend_visibility=True,
        visibility_timeout=2,
        max_concurrency=3,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    process_partial_response(event, lambda record: time.sleep(0.1), processor, FakeLambdaContext(30_000))
    assert batch_calls.count == single_calls.count == 0


def test_the_heartbeat_stops_at_the_deadline_margin(sqs, boto3_session, endpoint_url, unique_name):
    batch_calls, _, _ = _counters(boto3_session)
    queue = make_queue(sqs, unique_name("heartbeat-deadline"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["slow"])
    event = receive_sqs_event(sqs, queue, 1)
    stamps = []
    boto3_session.events.register(
        "before-call.sqs.ChangeMessageVisibilityBatch", lambda **_: stamps.append(time.monotonic())
    )
    alive_late = []

    def handler(record):
        time.sleep(3.4)  # past the stop (3.5 s left, margin 1 s: the heartbeat stops at 2.5 s)
        alive_late.append(any(thread.name == HEARTBEAT_THREAD for thread in threading.enumerate()))
        time.sleep(1.8)  # the last extension (at most 2.5 s) lapses by 4.5 s

    processor = BatchProcessor(
        EventType.SQS,
        extend_visibility=True,
        deadline_margin=1.0,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    context = FakeLambdaContext(3_500)
    stop_at = time.monotonic() + 2.5
    with ConcurrentReceiver(sqs, queue["url"]) as other:
        process_partial_response(event, handler, processor, context)
    assert batch_calls.count >= 2  # it did beat before the stop
    assert all(stamp <= stop_at + 0.05 for stamp in stamps)
    assert alive_late == [False]
    # Nothing kept it hidden after the stop: the other consumer saw it before the handler ended.
    assert [body for _, body in other.seen] and {body for _, body in other.seen} == {"slow"}


def test_a_record_done_early_stays_hidden_under_concurrency_and_a_failed_one_comes_back(
    sqs, boto3_session, endpoint_url, unique_name
):
    batch_calls, _, _ = _counters(boto3_session)
    queue = make_queue(sqs, unique_name("heartbeat-threads"), visibility_timeout=3)
    send_bodies(sqs, queue["url"], ["quick", "bad", "slow-1", "slow-2"])
    event = receive_sqs_event(sqs, queue, 4)
    handles = {r["body"]: r["receiptHandle"] for r in event["Records"]}

    def handler(record):
        if record["body"] == "bad":
            raise ValueError("bad")
        time.sleep(0.05 if record["body"] == "quick" else 3.5)

    processor = PartialSQSProcessor(
        extend_visibility=True, max_concurrency=2, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    context = FakeLambdaContext(60_000)
    with (
        ConcurrentReceiver(sqs, queue["url"]) as other,
        pytest.raises(SQSBatchProcessingError),
        processor(event["Records"], handler, context) as p,
    ):
        p.process()
    # About 7 s on a 3 s queue (two records wait for a thread). "quick" succeeded at once but is
    # deleted only after the batch: it stayed hidden throughout, extended with the slow ones
    # (at least 1 s of margin per beat: see the test above). "bad" left the heartbeat when it
    # failed: it came back on the queue's timeout, while the batch went on.
    assert {body for _, body in other.seen} == {"bad"}
    extended = {entry["ReceiptHandle"] for call in batch_calls.calls for entry in call["Entries"]}
    assert handles["quick"] in extended
    assert handles["bad"] not in extended


def test_an_async_handler_is_kept_invisible_too(sqs, boto3_session, endpoint_url, unique_name):
    queue = make_queue(sqs, unique_name("heartbeat-async"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["a", "b"])
    event = receive_sqs_event(sqs, queue, 2)

    async def handler(record):
        await asyncio.sleep(3.5)

    processor = AsyncBatchProcessor(
        EventType.SQS, extend_visibility=True, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    with ConcurrentReceiver(sqs, queue["url"]) as other:
        response = async_process_partial_response(event, handler, processor, FakeLambdaContext(30_000))
    assert response == {"batchItemFailures": []}
    assert other.seen == []


def test_with_retry_delay_a_failed_record_stays_hidden_until_its_delay_is_set_at_the_batch_end(
    sqs, boto3_session, endpoint_url, unique_name
):
    from lambda_batch import RetryDelay

    queue = make_queue(sqs, unique_name("heartbeat-delay"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], ["bad", "slow"])
    event = receive_sqs_event(sqs, queue, 2)

    def handler(record):
        if record["body"] == "bad":
            raise ValueError("bad")
        time.sleep(4)

    processor = BatchProcessor(
        EventType.SQS,
        extend_visibility=True,
        retry_delay=RetryDelay(initial_seconds=1, jitter=False),
        max_concurrency=2,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    with ConcurrentReceiver(sqs, queue["url"]) as other:
        process_partial_response(event, handler, processor, FakeLambdaContext(30_000))
        ended = time.monotonic() - other.started
        time.sleep(2.0)
    # Nothing during the batch (4 s on a 2 s queue); "bad" only after it, about its 1 s delay later.
    # ("slow" succeeded; this test plays no Lambda deleting it: it may lapse 2 s after its last beat.)
    assert all(at >= ended for at, _ in other.seen), (ended, other.seen)
    first_bad = min(at for at, body in other.seen if body == "bad")
    assert ended + 0.5 <= first_bad <= ended + 1.9, (ended, other.seen)
