"""KPL aggregated records read back from a Kinesis stream (moto on loopback) through a processor:
bytes that only look like an aggregate are a plain record, an empty aggregate fails on its own,
and the user records of a real aggregate come one at a time, failures reported per aggregate.
"""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator

from lambda_batch import BatchProcessor, EventType, process_partial_response
from lambda_batch.payloads.kpl_aggregation import MAGIC
from tests.stream_events import kinesis_event

pytestmark = pytest.mark.integration


def test_magic_prefixed_plain_record_empty_aggregate_and_real_aggregate_from_a_stream(
    aws_client, unique_name, caplog
):
    aggregator = RecordAggregator()  # the peer library's aggregate: three user records
    for n in range(3):
        aggregator.add_user_record(f"user-{n}", f"user record {n}".encode())
    _, _, aggregate = aggregator.clear_and_get().get_contents()
    # A producer's own bytes that happen to start with the magic: the "digest" does not match.
    plain = MAGIC + b"sensor reading 17, not an aggregate" + b"\x00" * 16
    empty_body = b"\x0a\x03key"  # a key table, no user record
    empty = MAGIC + empty_body + hashlib.md5(empty_body).digest()
    event = kinesis_event(aws_client("kinesis"), unique_name("kpl"), [plain, empty, aggregate])
    plain_seq, empty_seq, aggregate_seq = (r["kinesis"]["sequenceNumber"] for r in event["Records"])
    seen = []

    def handler(record):
        kinesis = record["kinesis"]
        seen.append((base64.b64decode(kinesis["data"]), kinesis.get("subSequenceNumber")))
        if kinesis.get("subSequenceNumber") == 1:
            raise ValueError("user record 1 fails")

    processor = BatchProcessor(EventType.KinesisDataStreams)
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        response = process_partial_response(event, handler, processor)
    assert seen == [
        (plain, None),  # reached its handler, as it was sent
        (b"user record 0", 0),
        (b"user record 1", 1),
        (b"user record 2", 2),
    ]
    assert response == {
        "batchItemFailures": [{"itemIdentifier": empty_seq}, {"itemIdentifier": aggregate_seq}]
    }
    assert "holds no user record" in str(processor.exceptions[0][1])
    assert plain_seq in caplog.text and "sensor" not in caplog.text
