"""RetryDelay's arithmetic and the processors' checks of the SQS options (no server needed)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    ConfigurationError,
    EventType,
    MalformedEventError,
    PartialSQSProcessor,
    RetryDelay,
    SqsFifoPartialProcessor,
    process_partial_response,
    sqs_batch_processor,
)
from lambda_batch.processing.events.sqs import message_group_id
from lambda_batch.processing.features.retry_delays import delayed_positions, receive_count
from tests.processing_events import sqs_record


def test_delays_grow_from_the_receive_count_and_stop_at_max_seconds():
    delay = RetryDelay(initial_seconds=2, max_seconds=60, jitter=False)
    assert [delay.seconds(count) for count in (1, 2, 3, 4, 5, 6, 50)] == [2, 4, 8, 16, 32, 60, 60]
    assert RetryDelay(initial_seconds=1.5, multiplier=3, jitter=False).seconds(2) == 5  # 4.5 rounded up


def test_never_beyond_the_sqs_maximum_of_12_hours():
    delay = RetryDelay(initial_seconds=60, jitter=False)  # max_seconds defaults to the SQS maximum
    assert delay.seconds(10_000) == 43_200
    with pytest.raises(ConfigurationError, match="43200"):
        RetryDelay(initial_seconds=1, max_seconds=43_201)


@given(
    initial=st.floats(min_value=0, max_value=1000),
    receive=st.integers(min_value=1, max_value=10_000),
    draw=st.floats(min_value=0, max_value=0.999999),
)
def test_full_jitter_stays_between_zero_and_the_ceiling(initial, receive, draw):
    delay = RetryDelay(initial_seconds=initial, max_seconds=max(initial, 900))
    seconds = delay.seconds(receive, rand=lambda: draw)
    assert isinstance(seconds, int)
    assert 0 <= seconds <= delay.ceiling(receive) <= 43_200


@pytest.mark.parametrize(
    "options",
    [
        {"initial_seconds": -1},
        {"initial_seconds": True},
        {"initial_seconds": "2"},
        {"initial_seconds": 10, "max_seconds": 5},
        {"initial_seconds": 1, "multiplier": 0.5},
        {"initial_seconds": 1, "multiplier": float("inf")},
        {"initial_seconds": 1, "jitter": "yes"},
    ],
)
def test_bad_retry_delays_are_refused(options):
    with pytest.raises(ConfigurationError):
        RetryDelay(**options)


def test_receive_count_is_read_from_the_record_and_defaults_to_one():
    record = sqs_record(1)
    record["attributes"]["ApproximateReceiveCount"] = "4"
    assert receive_count(record) == 4
    assert receive_count({"attributes": {}}) == 1
    assert receive_count({"attributes": {"ApproximateReceiveCount": "x"}}) == 1


def test_fifo_gives_the_held_back_records_of_a_failed_group_its_delay_and_no_other():
    records = [sqs_record(n, queue="q.fifo", group=group) for n, group in enumerate("aabba")]
    records[0]["attributes"]["ApproximateReceiveCount"] = "3"
    delay = RetryDelay(initial_seconds=1, jitter=False)
    # record 0 (group a) failed; 1 (a), 2 (b), 3 (b), 4 (a) were held back behind it
    timeouts = delayed_positions(records, [0], [1, 2, 3, 4], delay, message_group_id)
    assert timeouts == {0: 4, 1: 4, 4: 4}
    # a standard queue: only the failed record
    assert delayed_positions(records, [0], [1, 2], delay) == {0: 4}


@pytest.mark.parametrize(
    ("event_type", "options"),
    [
        (EventType.KinesisDataStreams, {"retry_delay": RetryDelay(1)}),
        (EventType.DynamoDBStreams, {"extend_visibility": True}),
        (EventType.Kafka, {"retry_delay": RetryDelay(1)}),
        (EventType.KinesisDataStreams, {"endpoint_url": "http://127.0.0.1:1"}),
        (EventType.SQS, {"retry_delay": 5}),
        (EventType.SQS, {"extend_visibility": "yes"}),
        (EventType.SQS, {"visibility_timeout": 30}),  # without extend_visibility
        (EventType.SQS, {"extend_visibility": True, "visibility_timeout": 0}),
        (EventType.SQS, {"extend_visibility": True, "visibility_timeout": 43_201}),
    ],
)
def test_options_that_cannot_apply_are_refused_when_built(event_type, options):
    with pytest.raises(ConfigurationError):
        BatchProcessor(event_type, **options)


@pytest.mark.parametrize(
    "make",
    [
        lambda: BatchProcessor(EventType.SQS, retry_delai=RetryDelay(1)),
        lambda: AsyncBatchProcessor(EventType.SQS, extend_visibilty=True),
        lambda: SqsFifoPartialProcessor(metrics_namespase="N"),
        lambda: PartialSQSProcessor(retry_delai=RetryDelay(1)),
        lambda: sqs_batch_processor(record_handler=print, retry_delai=RetryDelay(1)),
    ],
    ids=[
        "BatchProcessor",
        "AsyncBatchProcessor",
        "SqsFifoPartialProcessor",
        "PartialSQSProcessor",
        "decorator",
    ],
)
def test_misspelt_options_are_still_refused_with_type_error_naming_them(make):
    with pytest.raises(TypeError, match=r"_delai|visibilty|namespase"):
        make()


def test_every_sqs_processor_takes_the_options_and_client_arguments():
    import boto3

    session = boto3.session.Session(region_name="us-east-1")
    options = {
        "retry_delay": RetryDelay(1),
        "extend_visibility": True,
        "visibility_timeout": 30,
        "metrics_namespace": "N",
        "boto3_session": session,
    }
    for processor in (
        BatchProcessor(EventType.SQS, **options),
        AsyncBatchProcessor(EventType.SQS, **options),
        SqsFifoPartialProcessor(**options),
        PartialSQSProcessor(**options),
    ):
        assert processor._retry_delay is options["retry_delay"]
        assert processor._sqs._clients is not None


def test_a_record_without_receipt_handle_is_malformed_when_visibility_is_changed():
    record = sqs_record(1)
    del record["receiptHandle"]
    processor = BatchProcessor(EventType.SQS, retry_delay=RetryDelay(1))
    with pytest.raises(MalformedEventError, match="receiptHandle"):
        process_partial_response({"Records": [record]}, print, processor)
    # Without the option the native response still needs none (Lambda deletes).
    assert process_partial_response({"Records": [record]}, lambda r: None, BatchProcessor(EventType.SQS)) == {
        "batchItemFailures": []
    }


def test_repr_names_the_policy():
    assert repr(RetryDelay(2, 60, jitter=False)) == (
        "RetryDelay(initial_seconds=2, max_seconds=60, multiplier=2, jitter=False)"
    )


def _heartbeat(timeout, last_beat_ago, stop_in=60.0):
    """A heartbeat of records m-0..m-3 on one queue, its last beat ``last_beat_ago`` seconds ago
    (its clock hooks set by hand: no thread, no call)."""
    from lambda_batch.processing.features.heartbeat import VisibilityHeartbeat

    records = [sqs_record(n) for n in range(4)]
    now = time.monotonic()
    heartbeat = VisibilityHeartbeat(
        records, {records[0]["eventSourceARN"]: timeout}, None, None, None, stop_at=now + stop_in
    )
    if last_beat_ago is not None:
        heartbeat.last_beat = now - last_beat_ago
    return heartbeat, records


def test_the_heartbeat_holds_succeeded_messages_for_lambdas_delete_only_when_they_need_it():
    from lambda_batch.processing.features.heartbeat import HOLD_SECONDS

    # Extended, with less than HOLD_SECONDS left: held, at least the queue's timeout.
    heartbeat, records = _heartbeat(timeout=2, last_beat_ago=0.5)
    heartbeat.finished("m-3")  # a message the heartbeat let go (a stale receipt handle)
    assert heartbeat.holds(records, [0, 1, 3]) == {0: HOLD_SECONDS, 1: HOLD_SECONDS}
    heartbeat, records = _heartbeat(timeout=40, last_beat_ago=13)  # 27 s left
    assert heartbeat.holds(records, [0]) == {0: 40}
    # Enough left already (a 15-minute queue): no call.
    heartbeat, records = _heartbeat(timeout=900, last_beat_ago=299)
    assert heartbeat.holds(records, [0, 1]) == {}
    # Never extended (a batch within a third of the timeout): as Lambda received them, no call.
    heartbeat, records = _heartbeat(timeout=2, last_beat_ago=None)
    assert heartbeat.holds(records, [0, 1]) == {}
    # Past the deadline margin: nothing more is called.
    heartbeat, records = _heartbeat(timeout=2, last_beat_ago=0.5, stop_in=-0.1)
    assert heartbeat.holds(records, [0, 1]) == {}
