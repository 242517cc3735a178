"""A record object's repr (and so its str, a log line, a bound method's repr) names the record's
id and source, never its data: bodies, Kinesis data and partition keys, Kafka keys and values,
DynamoDB keys and images. Checked on every sample event, the handler given each record as the
processor builds it (de-aggregated KPL user records and Pipes records included)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from lambda_batch import BatchProcessor, EventType, process_partial_response
from lambda_batch.payloads.kpl_aggregation import encode_aggregate

EVENTS = Path(__file__).resolve().parents[2] / "events"
DATA_KEYS = {"body", "data", "partitionKey", "value", "key", "Keys", "NewImage", "OldImage", "headers"}


def data_texts(value: Any, under_data: bool = False) -> Iterator[str]:
    """Every text held under a data key of a record (and, for base64 data, its decoded text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from data_texts(item, under_data or key in DATA_KEYS)
    elif isinstance(value, list):
        for item in value:
            yield from data_texts(item, under_data)
    elif under_data and isinstance(value, (str, int)) and len(str(value)) >= 4:
        yield str(value)


def shown(record: Any) -> List[str]:
    """What logs can show of a record: its repr, str, f-string, and its parts' reprs."""
    texts = [repr(record), str(record), f"{record}"]
    for part in ("kinesis", "dynamodb"):
        if part in record:
            nested = getattr(record, part)
            texts += [repr(nested), repr(getattr(nested, "data_as_text", nested))]
    return texts


def handled(event: Any, event_type: EventType) -> List[Any]:
    seen: List[Any] = []
    process_partial_response(event, seen.append, BatchProcessor(event_type))
    assert seen
    return seen


@pytest.mark.parametrize(
    ("sample", "event_type", "id_of"),
    [
        ("sqs-batch-with-failures.json", EventType.SQS, lambda r: r["messageId"]),
        ("sqs-fifo-batch.json", EventType.SQS, lambda r: r["messageId"]),
        ("kinesis-kpl-aggregated.json", EventType.KinesisDataStreams, lambda r: r["eventID"]),
        ("kafka-msk.json", EventType.Kafka, lambda r: f"offset={r['offset']}"),
        ("kafka-self-managed.json", EventType.Kafka, lambda r: f"offset={r['offset']}"),
        ("pipes-sqs.json", EventType.SQS, lambda r: r["messageId"]),
        ("pipes-kinesis.json", EventType.KinesisDataStreams, lambda r: r["eventID"]),
        ("pipes-dynamodb.json", EventType.DynamoDBStreams, lambda r: r["eventID"]),
        ("pipes-msk.json", EventType.Kafka, lambda r: f"offset={r['offset']}"),
    ],
)
def test_a_records_repr_names_its_id_and_source_never_its_data(sample, event_type, id_of):
    event = json.loads((EVENTS / sample).read_text())
    for record in handled(event, event_type):
        texts = shown(record)
        assert id_of(record) in texts[0]
        source = record.get("eventSourceARN") or record.get("eventSource") or record.get("topic")
        assert str(source) in texts[0]
        for secret in set(data_texts(dict(record))):
            assert all(secret not in text for text in texts), (sample, secret)


def test_a_kpl_user_records_repr_names_its_position_in_the_aggregate():
    users = [("owner@example.com", None, b'{"card": "4111111111111111"}'), ("k2", "12345", b"{}")]
    record = {
        "eventSource": "aws:kinesis",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/clicks",
        "eventID": "shardId-000000000000:7",
        "kinesis": {
            "partitionKey": "agg",
            "sequenceNumber": "7",
            "data": base64.b64encode(encode_aggregate(users)).decode(),
        },
    }
    seen = handled({"Records": [record]}, EventType.KinesisDataStreams)
    assert [repr(r) for r in seen] == [
        "KinesisStreamRecord(event_id='shardId-000000000000:7',"
        f" source='arn:aws:kinesis:us-east-1:123456789012:stream/clicks', sub_sequence_number={n})"
        for n in range(2)
    ]
    assert all("4111" not in text and "owner@" not in text for r in seen for text in shown(r))
