"""Record checks, ids, ordering lanes and handler introspection used by every processor."""

from __future__ import annotations

import copy
import functools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_batch import (
    ConfigurationError,
    EventType,
    MalformedEventError,
    PartialSQSProcessor,
    SQSBatchProcessingError,
)
from lambda_batch.processing.batch import CONTINUE, SKIP_KEY, STOP_BATCH, ordering_for
from lambda_batch.processing.events.intake import extract_records, record_id, shard_id, validate_records
from lambda_batch.processing.handlers import accepts_lambda_context, is_async_handler
from lambda_batch.processing.lanes import build_lanes
from tests.processing_events import dynamodb_record, kinesis_record, sqs_record


def test_ids_per_event_type():
    assert validate_records([sqs_record(1), sqs_record(2)], EventType.SQS) == ["m-1", "m-2"]
    assert validate_records([kinesis_record(7)], EventType.KinesisDataStreams) == [f"{7:056d}"]
    assert validate_records([dynamodb_record(3)], EventType.DynamoDBStreams) == [f"{3:028d}"]
    assert record_id({"messageId": 5}, EventType.SQS) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"receiptHandle": ""}, r"record 0 \(messageId 'm-1'\) has no receiptHandle"),
        ({"eventSourceARN": "arn:aws:sns:us-east-1:1:topic"}, "has no SQS queue ARN in eventSourceARN"),
        ({"eventSourceARN": None}, "has no SQS queue ARN"),
    ],
)
def test_delete_mode_needs_a_receipt_handle_and_a_queue_arn(change, message):
    record = {**sqs_record(1), **change}
    assert validate_records([record], EventType.SQS) == ["m-1"]  # native mode does not need them
    with pytest.raises(MalformedEventError, match=message):
        validate_records([record], EventType.SQS, need_receipt_handle=True)


def test_records_must_be_a_list_and_events_must_carry_one():
    with pytest.raises(MalformedEventError):
        validate_records("abc", EventType.SQS)
    assert extract_records({"Records": [1]}) == [1]


def test_shards_and_fifo_ordering_rules():
    assert shard_id(kinesis_record(1, shard="shardId-000000000003"), EventType.KinesisDataStreams) == (
        "shardId-000000000003"
    )
    fifo = [sqs_record(1, queue="q.fifo", group="g")]
    assert ordering_for(EventType.SQS, fifo).on_failure == STOP_BATCH
    assert ordering_for(EventType.SQS, fifo, skip_group_on_error=True).on_failure == SKIP_KEY
    assert ordering_for(EventType.SQS, [sqs_record(1)]).on_failure == CONTINUE
    assert ordering_for(EventType.SQS, [sqs_record(1)]).key is None
    assert ordering_for(
        EventType.KinesisDataStreams, [kinesis_record(1)], stop_on_first_failure=True
    ).on_failure == (STOP_BATCH)
    mixed = [sqs_record(1), sqs_record(2, queue="q.fifo", group="g")]
    assert ordering_for(EventType.SQS, mixed).fifo


def test_lanes_keep_record_order_per_key():
    records = [{"k": k} for k in "abacba"]
    assert list(build_lanes(records, lambda r: r["k"])) == [[0, 2, 5], [1, 4], [3]]
    assert list(build_lanes(records, None)) == [[n] for n in range(6)]


def test_handler_introspection():
    def plain(record):
        pass

    def with_context(record, lambda_context):
        pass

    async def coroutine(record):
        pass

    class Callable:
        def __call__(self, record, lambda_context=None):
            pass

    class AsyncCallable:
        async def __call__(self, record):
            pass

    assert not accepts_lambda_context(plain)
    assert accepts_lambda_context(with_context)
    assert accepts_lambda_context(Callable())
    assert not accepts_lambda_context(functools.partial(with_context, lambda_context=None))
    assert is_async_handler(coroutine)
    assert is_async_handler(functools.partial(coroutine))
    assert is_async_handler(AsyncCallable())
    assert not is_async_handler(plain)
    assert not is_async_handler(Callable())


def test_partial_sqs_processor_options_and_forgotten_process():
    with pytest.raises(ConfigurationError):
        PartialSQSProcessor(delete_concurrency=0)
    processor = PartialSQSProcessor()
    with (
        pytest.raises(SQSBatchProcessingError, match=r"process\(\) was not called"),
        processor([sqs_record(1)], lambda record: None),
    ):
        pass
    with processor([], lambda record: None) as proc:  # an empty batch is fine
        assert proc.process() == []


_BREAKAGES = [
    None,
    ("pop", "eventSource"),
    ("set", "eventSource", "aws:sns"),
    ("set", "eventSource", None),
    ("pop", "id"),
    ("set", "id", ""),
    ("set", "id", 42),
    ("replace", "not a record"),
]


def _break(record, breakage, event_type):
    if breakage is None:
        return record
    if breakage[0] == "replace":
        return breakage[1]
    record = copy.deepcopy(record)
    target, key = record, breakage[1]
    if key == "id":
        if event_type is EventType.SQS:
            key = "messageId"
        else:
            target = record["kinesis" if event_type is EventType.KinesisDataStreams else "dynamodb"]
            key = "sequenceNumber" if event_type is EventType.KinesisDataStreams else "SequenceNumber"
    if breakage[0] == "pop":
        target.pop(key)
    else:
        target[key] = breakage[2]
    return record


@given(
    st.sampled_from([EventType.SQS, EventType.KinesisDataStreams, EventType.DynamoDBStreams]),
    st.lists(st.sampled_from(range(len(_BREAKAGES))), max_size=12),
)
def test_validation_accepts_exactly_the_batches_without_a_bad_record(event_type, breakages):
    make = {EventType.SQS: sqs_record, EventType.KinesisDataStreams: kinesis_record}.get(
        event_type, dynamodb_record
    )
    records = [_break(make(n + 1), _BREAKAGES[b], event_type) for n, b in enumerate(breakages)]
    bad = [n for n, b in enumerate(breakages) if _BREAKAGES[b] is not None]
    if bad:
        with pytest.raises(MalformedEventError) as raised:
            validate_records(records, event_type)
        assert raised.value.args[0].startswith(f"{len(bad)} of {len(records)} records are malformed")
        assert f"record {bad[0]}" in raised.value.args[0]
    else:
        assert validate_records(records, event_type) == [record_id(r, event_type) for r in records]
