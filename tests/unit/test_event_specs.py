"""The event-spec table: one row per event type, and the processors read it instead of branching."""

from __future__ import annotations

import pathlib
import re

import pytest

from lambda_batch import EventType
from lambda_batch.processing.batch import ordering_for
from lambda_batch.processing.events.intake import record_id, validate_records
from lambda_batch.processing.events.record import record_class
from lambda_batch.processing.events.spec import EVENT_SPECS

LAYER = pathlib.Path(__file__).resolve().parents[2] / "layer" / "lambda_batch"


def test_every_event_type_has_exactly_one_row():
    assert set(EVENT_SPECS) == {kind.value for kind in EventType}
    for kind in EventType:
        assert kind.spec is EVENT_SPECS[kind.value]
        assert kind.event_source == kind.spec.event_sources[0]


def test_no_module_of_the_layer_branches_on_the_event_type():
    branches = []
    for path in LAYER.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\b(is|is not|==|!=)\s+EventType\.", line):
                branches.append(f"{path.name}:{number}: {line.strip()}")
    assert branches == []


@pytest.mark.parametrize(
    ("kind", "record", "expected"),
    [
        (EventType.SQS, {"eventSource": "aws:sqs", "messageId": "m-1"}, "m-1"),
        (
            EventType.KinesisDataStreams,
            {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "7"}},
            "7",
        ),
        (
            EventType.DynamoDBStreams,
            {"eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": "9"}},
            "9",
        ),
    ],
)
def test_ids_come_from_the_rows_id_path(kind, record, expected):
    assert record_id(record, kind) == expected
    assert validate_records([record], kind) == [expected]
    assert record_class(kind).__name__ == kind.spec.record_class[1]


def test_kafka_is_a_row_too():
    spec = EventType.Kafka.spec
    assert spec.stream and spec.own_identifiers and spec.prepared
    assert "SelfManagedKafka" in spec.event_sources
    assert record_class(EventType.Kafka).__name__ == "KafkaEventRecord"
    rule = ordering_for(EventType.Kafka, [{"topic": "t", "partition": 0}])
    assert rule.key({"topic": "t", "partition": 0}) == ("t", "0")


def test_ordering_keys_come_from_the_row():
    kinesis = {"eventID": "shardId-000000000002:495", "eventSourceARN": "arn:aws:kinesis:r:1:stream/s"}
    assert ordering_for(EventType.KinesisDataStreams, [kinesis]).key(kinesis) == "shardId-000000000002"
    dynamodb = {"eventSourceARN": "arn:aws:dynamodb:r:1:table/t/stream/x"}
    assert ordering_for(EventType.DynamoDBStreams, [dynamodb]).key(dynamodb) == dynamodb["eventSourceARN"]
    fifo = {"eventSourceARN": "arn:aws:sqs:r:1:q.fifo", "attributes": {"MessageGroupId": "g"}}
    assert ordering_for(EventType.SQS, [fifo]).fifo
