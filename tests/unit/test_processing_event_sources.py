"""Kafka events, EventBridge Pipes batches and KPL aggregated Kinesis records through the processors,
from the sample events in events/ (shaped as the AWS documentation shows them)."""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import json
import logging
import tracemalloc
import weakref
from pathlib import Path

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator
from aws_kinesis_agg.deaggregator import deaggregate_records
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import (
    BatchProcessingError,
    BatchProcessor,
    EventType,
    MalformedEventError,
    batch_processor,
    process_partial_response,
)
from lambda_batch.payloads.kpl_aggregation import MAGIC, encode_aggregate
from lambda_batch.processing.events.kafka import KafkaEventRecord

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name):
    return json.loads((EVENTS / name).read_text())


class Handler:
    """Records what it was called with; fails the records whose payload says so."""

    def __init__(self, read, fail=None):
        self.read = read
        self.fail = fail
        self.calls = []

    def __call__(self, record):
        payload = self.read(record)
        self.calls.append(payload)
        if (self.fail is None and payload.get("fail")) or (self.fail is not None and self.fail(payload)):
            raise ValueError("handler failed")
        return payload


kafka_value = lambda record: record.json_value  # noqa: E731
kinesis_data = lambda record: json.loads(base64.b64decode(record["kinesis"]["data"]))  # noqa: E731


# -- Kafka ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["kafka-msk.json", "kafka-self-managed.json"])
def test_kafka_partial_failure_reports_topic_partition_and_offset(sample):
    handler = Handler(kafka_value)
    response = process_partial_response(load(sample), handler, BatchProcessor(EventType.Kafka))
    assert [p["order"] for p in handler.calls] == [0, 1, 2, 3, 4, 5]
    # orders 2 and 5 fail: mytopic-0 offset 17, mytopic-1 offset 9
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": {"partition": "mytopic-0", "offset": 17}},
            {"itemIdentifier": {"partition": "mytopic-1", "offset": 9}},
        ]
    }


def test_kafka_success_all_failure_and_the_record_object():
    event = load("kafka-msk.json")
    seen = []

    def handler(record):
        assert isinstance(record, KafkaEventRecord)
        seen.append(
            (
                record.topic,
                record.partition,
                record.offset,
                record.decoded_key,
                record.get_header_value("headerKey"),
            )
        )
        assert record.value == record["value"] and record.key == record["key"]  # base64, as delivered
        assert json.loads(record.decoded_value) == record.json_value

    assert process_partial_response(event, handler, BatchProcessor(EventType.Kafka)) == {
        "batchItemFailures": []
    }
    assert seen[0] == ("mytopic", 0, 15, b"order-0", b"headerValue")
    with pytest.raises(BatchProcessingError, match="All records failed"):
        process_partial_response(
            event, Handler(kafka_value, fail=lambda p: True), BatchProcessor(EventType.Kafka)
        )
    processor = BatchProcessor(EventType.Kafka, raise_on_entire_batch_failure=False)
    response = process_partial_response(event, Handler(kafka_value, fail=lambda p: True), processor)
    assert len(response["batchItemFailures"]) == 6


def test_the_same_handler_runs_under_powertools_with_the_same_response():
    from aws_lambda_powertools.utilities.batch import BatchProcessor as PowertoolsProcessor
    from aws_lambda_powertools.utilities.batch import EventType as PowertoolsEventType
    from aws_lambda_powertools.utilities.batch import process_partial_response as powertools_process

    event = load("kafka-msk.json")
    ours = process_partial_response(event, Handler(kafka_value), BatchProcessor(EventType.Kafka))
    theirs = powertools_process(event, Handler(kafka_value), PowertoolsProcessor(PowertoolsEventType.Kafka))
    assert ours == theirs


def test_kafka_keeps_order_per_partition_under_concurrency():
    event = load("kafka-msk.json")
    event["records"] = {
        f"mytopic-{p}": [
            {
                **event["records"]["mytopic-0"][0],
                "partition": p,
                "offset": o,
                "value": base64.b64encode(b"{}").decode(),
            }
            for o in range(30)
        ]
        for p in range(4)
    }
    import threading
    import time

    order = {p: [] for p in range(4)}
    lock = threading.Lock()

    def handler(record):
        time.sleep(0.001)
        with lock:
            order[record.partition].append(record.offset)

    processor = BatchProcessor(EventType.Kafka, max_concurrency=4)
    assert process_partial_response(event, handler, processor) == {"batchItemFailures": []}
    assert all(offsets == list(range(30)) for offsets in order.values())


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda e: e.update(eventSource="aws:sqs"), "eventSource 'aws:sqs'"),
        (lambda e: e.pop("eventSource"), "eventSource None"),
        (lambda e: e.update(records=[]), "not an object"),
        (lambda e: e["records"].update({"mytopic-0": "x"}), r"records\['mytopic-0'\] is a str"),
        (lambda e: e["records"]["mytopic-1"][0].update(partition=0), "another topic and partition"),
        (lambda e: e["records"]["mytopic-0"][1].pop("offset"), "record 1 has no integer offset"),
        (lambda e: e["records"]["mytopic-0"][0].update(offset="15"), "record 0 has no integer offset"),
        (lambda e: e["records"]["mytopic-0"].append(None), "not an object"),
    ],
)
def test_malformed_kafka_events_raise_before_any_record_is_handled(mangle, message):
    event = load("kafka-msk.json")
    mangle(event)
    handler = Handler(kafka_value)
    with pytest.raises(MalformedEventError, match=message):
        process_partial_response(event, handler, BatchProcessor(EventType.Kafka))
    assert handler.calls == []


def test_a_kafka_event_given_to_an_sqs_processor_is_malformed():
    with pytest.raises(MalformedEventError):
        process_partial_response(load("kafka-msk.json"), Handler(kafka_value), BatchProcessor(EventType.SQS))


# -- EventBridge Pipes -----------------------------------------------------------------------------


def test_pipes_sqs_batch():
    event = load("pipes-sqs.json")
    handler = Handler(lambda record: record.json_body)
    response = process_partial_response(event, handler, BatchProcessor(EventType.SQS))
    assert response == {"batchItemFailures": [{"itemIdentifier": event[1]["messageId"]}]}
    assert len(handler.calls) == 3


def test_pipes_kinesis_batch_reaches_the_handler_in_lambdas_shape_and_reports_event_ids():
    event = load("pipes-kinesis.json")
    original = copy.deepcopy(event)
    handler = Handler(lambda record: record.kinesis.data_as_json())
    response = process_partial_response(event, handler, BatchProcessor(EventType.KinesisDataStreams))
    assert response == {"batchItemFailures": [{"itemIdentifier": event[1]["eventID"]}]}
    assert [p["click"] for p in handler.calls] == [1, 2]
    assert event == original  # the event itself is not rewritten


def test_pipes_dynamodb_batch_reports_event_ids():
    event = load("pipes-dynamodb.json")
    handler = Handler(lambda record: {"fail": record.dynamodb.new_image["Message"] == "fail"})
    response = process_partial_response(event, handler, BatchProcessor(EventType.DynamoDBStreams))
    assert response == {"batchItemFailures": [{"itemIdentifier": event[1]["eventID"]}]}


def test_pipes_kafka_batch_succeeds_or_raises_whole():
    event = load("pipes-msk.json")
    assert process_partial_response(event, Handler(kafka_value), BatchProcessor(EventType.Kafka)) == {
        "batchItemFailures": []
    }
    failing = Handler(kafka_value, fail=lambda p: p["order"] == 1)
    with pytest.raises(BatchProcessingError, match="takes no partial failures"):
        process_partial_response(event, failing, BatchProcessor(EventType.Kafka))
    assert len(failing.calls) == 2


def test_pipes_all_failure_raises_and_the_decorator_takes_pipes_events():
    event = load("pipes-sqs.json")
    with pytest.raises(BatchProcessingError, match="All records failed"):
        process_partial_response(
            event, Handler(lambda r: r.json_body, fail=lambda p: True), BatchProcessor(EventType.SQS)
        )
    processor = BatchProcessor(EventType.SQS)

    @batch_processor(record_handler=Handler(lambda r: r.json_body), processor=processor)
    def lambda_handler(event, context):
        return processor.response()

    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": event[1]["messageId"]}]}


@pytest.mark.parametrize(
    ("sample", "event_type", "mangle", "message"),
    [
        ("pipes-kinesis.json", EventType.KinesisDataStreams, lambda e: e[0].pop("eventID"), "no eventID"),
        ("pipes-dynamodb.json", EventType.DynamoDBStreams, lambda e: e[2].update(eventID=""), "no eventID"),
        ("pipes-sqs.json", EventType.KinesisDataStreams, lambda e: None, "eventSource 'aws:sqs'"),
        ("pipes-msk.json", EventType.Kafka, lambda e: e[1].update(eventSource="aws:sqs"), "not Kafka's"),
        ("pipes-msk.json", EventType.Kafka, lambda e: e[0].update(partition="zero"), "no integer partition"),
        ("pipes-sqs.json", EventType.SQS, lambda e: e.append("x"), "not an object"),
        ("pipes-sqs.json", EventType.SQS, lambda e: e.clear(), "an empty list"),
    ],
)
def test_malformed_pipes_batches_raise_before_any_record_is_handled(sample, event_type, mangle, message):
    event = load(sample)
    mangle(event)
    handler = Handler(lambda record: {})
    with pytest.raises(MalformedEventError, match=message):
        process_partial_response(event, handler, BatchProcessor(event_type))
    assert handler.calls == []


# -- KPL aggregated Kinesis records ----------------------------------------------------------------


def test_an_aws_kinesis_agg_aggregate_is_handled_one_user_record_at_a_time():
    event = load("kinesis-kpl-aggregated.json")
    aggregate_seq = event["Records"][0]["kinesis"]["sequenceNumber"]
    got = []

    def handler(record):
        kinesis = record["kinesis"]
        got.append((kinesis["partitionKey"], kinesis["sequenceNumber"], kinesis.get("subSequenceNumber")))
        if kinesis_data(record)["fail"]:
            raise ValueError("nope")

    response = process_partial_response(event, handler, BatchProcessor(EventType.KinesisDataStreams))
    assert got == [
        ("user-0", aggregate_seq, 0),
        ("user-1", aggregate_seq, 1),
        ("user-2", aggregate_seq, 2),
        ("user-3", aggregate_seq, 3),
        ("user-9", event["Records"][1]["kinesis"]["sequenceNumber"], None),
    ]
    assert response == {"batchItemFailures": [{"itemIdentifier": aggregate_seq}]}


def test_every_user_record_failing_reports_the_aggregate_once():
    event = load("kinesis-kpl-aggregated.json")
    processor = BatchProcessor(EventType.KinesisDataStreams)
    response = process_partial_response(
        event, Handler(kinesis_data, fail=lambda p: p["click"] < 9), processor
    )
    assert response == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["kinesis"]["sequenceNumber"]}]
    }
    assert process_partial_response(event, Handler(kinesis_data, fail=lambda p: False), processor) == {
        "batchItemFailures": []
    }
    with pytest.raises(BatchProcessingError):
        process_partial_response(event, Handler(kinesis_data, fail=lambda p: True), processor)


def test_a_record_with_the_magic_whose_md5_does_not_match_reaches_its_handler_as_a_plain_record(caplog):
    # As the KCL and aws-kinesis-agg do: bytes that only look like an aggregate are the record's own
    # (a plain record failing here would block its shard under Lambda's default retries).
    event = load("kinesis-kpl-aggregated.json")
    raw = bytearray(base64.b64decode(event["Records"][0]["kinesis"]["data"]))
    raw[-1] ^= 0xFF  # the MD5 digest no longer matches
    plain = base64.b64encode(bytes(raw)).decode()
    event["Records"][0]["kinesis"]["data"] = plain
    seq = event["Records"][0]["kinesis"]["sequenceNumber"]
    seen = []
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        response = process_partial_response(
            event, lambda record: seen.append(record["kinesis"]), BatchProcessor(EventType.KinesisDataStreams)
        )
    assert response == {"batchItemFailures": []}
    assert seen[0]["data"] == plain and "subSequenceNumber" not in seen[0] and len(seen) == 2
    warnings = [r.getMessage() for r in caplog.records if "MD5" in r.getMessage()]
    assert len(warnings) == 1 and seq in warnings[0] and "plain record" in warnings[0]
    assert "click" not in caplog.text and plain[:40] not in caplog.text


def _aggregate_event(blob, seq="1"):
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{seq}",
                "kinesis": {
                    "partitionKey": "pk",
                    "sequenceNumber": seq,
                    "data": base64.b64encode(blob).decode(),
                },
            },
            {
                "eventSource": "aws:kinesis",
                "eventID": "shardId-000000000000:2",
                "kinesis": {"partitionKey": "pk", "sequenceNumber": "2", "data": "eyJjbGljayI6IDl9"},
            },
        ]
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\x1a\x04\x08\x03\x1a\x00", "malformed aggregated record: a key index is outside its table"),
        (b"\x0a\x03key", "holds no user record"),  # a key table and no record
        (b"\x28\x07", "holds no user record"),  # an unknown field only
    ],
)
def test_a_malformed_or_empty_aggregate_fails_that_record_only_with_its_reason(body, reason, caplog):
    event = _aggregate_event(MAGIC + body + hashlib.md5(body).digest())
    handler = Handler(kinesis_data)
    processor = BatchProcessor(EventType.KinesisDataStreams)
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        response = process_partial_response(event, handler, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert [p["click"] for p in handler.calls] == [9]  # the handler never saw the bad aggregate
    assert processor.exceptions[0][0].__name__ == "AggregateError"
    assert reason in str(processor.exceptions[0][1]) and "record 1" in str(processor.exceptions[0][1])
    assert reason in caplog.text


def test_user_records_carry_their_explicit_hash_key_or_none_as_aws_kinesis_agg_does():
    def hash_keys(users):
        event = _aggregate_event(encode_aggregate(users))
        event["Records"][0]["kinesis"].update(kinesisSchemaVersion="1.0", approximateArrivalTimestamp=1.0)
        seen = []
        process_partial_response(
            event,
            lambda record: seen.append(dict(record["kinesis"])),
            BatchProcessor(EventType.KinesisDataStreams),
        )
        peer = deaggregate_records([copy.deepcopy(event["Records"][0])])
        return [k["explicitHashKey"] for k in seen[: len(users)]], [
            u["kinesis"]["explicitHashKey"] for u in peer
        ]

    assert hash_keys([("a", None, b"{}"), ("b", None, b"{}")]) == ([None, None], [None, None])
    ours, _ = hash_keys([("a", None, b"{}"), ("b", "12345", b"{}")])
    assert ours == [None, "12345"]  # (the peer reads a missing index as 0 when the table is not empty)


def test_deaggregation_can_be_switched_off():
    event = load("kinesis-kpl-aggregated.json")
    processor = BatchProcessor(EventType.KinesisDataStreams)
    processor.kpl_deaggregation = False
    seen = []
    process_partial_response(event, lambda record: seen.append(record["kinesis"]["data"]), processor)
    assert seen == [r["kinesis"]["data"] for r in event["Records"]]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans()), min_size=1, max_size=8),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 4),
)
def test_failures_are_reported_per_aggregate_under_concurrency(aggregates, workers):
    records, expected, number = [], [], 0
    for index, users in enumerate(aggregates):
        aggregator = RecordAggregator()
        for key, fail in users:
            aggregator.add_user_record(key, json.dumps({"n": number, "fail": fail}).encode())
            number += 1
        pk, _, data = aggregator.clear_and_get().get_contents()
        seq = f"{index + 1:056d}"
        records.append(
            {
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{seq}",
                "kinesis": {
                    "partitionKey": pk,
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data).decode(),
                },
            }
        )
        if any(fail for _, fail in users):
            expected.append({"itemIdentifier": seq})
    handler = Handler(kinesis_data)
    processor = BatchProcessor(
        EventType.KinesisDataStreams, max_concurrency=workers, raise_on_entire_batch_failure=False
    )
    response = process_partial_response({"Records": records}, handler, processor)
    assert response == {"batchItemFailures": expected}
    assert [p["n"] for p in handler.calls] == list(range(number))  # one shard: in order, each once


@pytest.mark.parametrize(
    ("sample", "event_type"),
    [
        ("pipes-sqs.json", EventType.SQS),
        ("pipes-kinesis.json", EventType.KinesisDataStreams),
        ("pipes-dynamodb.json", EventType.DynamoDBStreams),
        ("pipes-msk.json", EventType.Kafka),
    ],
)
def test_pipes_batches_all_succeeding_and_all_failing(sample, event_type):
    event = load(sample)
    ok = Handler(lambda record: {}, fail=lambda p: False)
    assert process_partial_response(event, ok, BatchProcessor(event_type)) == {"batchItemFailures": []}
    assert len(ok.calls) == len(event)
    with pytest.raises(BatchProcessingError, match="All records failed"):
        process_partial_response(
            event, Handler(lambda record: {}, fail=lambda p: True), BatchProcessor(event_type)
        )


def test_a_failed_user_record_is_logged_by_its_aggregate_and_position_never_its_data(caplog):
    event = load("kinesis-kpl-aggregated.json")
    seq = event["Records"][0]["kinesis"]["sequenceNumber"]
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        process_partial_response(event, Handler(kinesis_data), BatchProcessor(EventType.KinesisDataStreams))
    assert f"record {seq} (user record 2) failed: ValueError" in caplog.text
    assert "click" not in caplog.text


@pytest.mark.slow
def test_a_1_mib_aggregate_of_174756_empty_user_records_is_handled_in_bounded_memory():
    # The most user records 1 MiB holds (6 bytes each): built up front they took 160 MiB. Made one at
    # a time, what stays is the aggregate, its index (4 bytes a user record) and one result each.
    count = 174_756
    blob = encode_aggregate([("k", None, b"")] * count)
    assert len(blob) <= 2**20
    event = _aggregate_event(blob)
    del blob
    calls = []

    def handler(record):
        calls.append(None)
        if record["kinesis"].get("subSequenceNumber") in (5, count - 7):
            raise ValueError("handler failed")

    processor = BatchProcessor(EventType.KinesisDataStreams)
    tracemalloc.start()
    try:
        response = process_partial_response(event, handler, processor)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(calls) == count + 1  # every user record, and the batch's plain record
    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}  # the aggregate, once
    assert peak < 50 * 2**20, peak / 2**20
    successes = processor.success_messages  # the aggregate's record, shared; not a copy per user record
    assert len(successes) == count - 1 and len({id(record) for record in successes}) == 2


def test_a_deaggregated_batch_goes_with_the_next_batch_without_waiting_for_the_cyclic_gc():
    # Warm reuse: the aggregates' bytes and index go as soon as the processor takes the next batch.
    event = _aggregate_event(encode_aggregate([("k", None, b"{}")] * 100))
    processor = BatchProcessor(EventType.KinesisDataStreams)
    gc.disable()
    try:
        process_partial_response(event, lambda record: None, processor)
        batch = weakref.ref(processor.records)
        process_partial_response(load("kinesis-kpl-aggregated.json"), lambda record: None, processor)
        assert batch() is None
    finally:
        gc.enable()
