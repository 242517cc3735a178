"""The KPL aggregated record format, byte for byte against aws-kinesis-agg (protobuf-generated)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator, messages_pb2  # it puts its own dir on sys.path first
from aws_kinesis_agg.deaggregator import deaggregate_records
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch.payloads.kpl_aggregation import (
    MAGIC,
    MAGIC_BASE64_PREFIX,
    AggregateBuilder,
    AggregateError,
    decode_aggregate,
    encode_aggregate,
    hash_key_of,
    is_aggregate,
    varint,
)

keys = st.text(min_size=1, max_size=20)
hash_keys = st.none() | st.integers(0, 2**128 - 1).map(str)
user_records = st.lists(st.tuples(keys, hash_keys, st.binary(max_size=300)), min_size=1, max_size=60)


def peer_aggregate(records):
    aggregator = RecordAggregator()
    for key, hash_key, data in records:
        assert aggregator.add_user_record(key, data, hash_key) is None
    return aggregator.clear_and_get().get_contents()


@settings(max_examples=200, deadline=None)
@given(user_records)
def test_encoding_is_byte_for_byte_the_peers_and_sized_exactly(records):
    key, hash_key, blob = peer_aggregate(records)
    builder = AggregateBuilder()
    for k, h, data in records:
        builder.add(k, k.encode("utf-8"), data, h)
    assert builder.encode() == blob == encode_aggregate(records)
    assert builder.data_size == len(blob)
    assert (key, hash_key) == records[0][:2]  # the aggregate's own keys: its first record's


@settings(max_examples=200, deadline=None)
@given(user_records)
def test_decoding_reads_what_the_peer_writes(records):
    _, _, blob = peer_aggregate(records)
    assert decode_aggregate(blob) == records


@settings(max_examples=100, deadline=None)
@given(user_records)
def test_the_peer_reads_what_we_write(records):
    event_record = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "sequenceNumber": "1",
            "approximateArrivalTimestamp": 1.0,
            "partitionKey": records[0][0],
            "data": base64.b64encode(encode_aggregate(records)).decode(),
        }
    }
    users = deaggregate_records([event_record])
    got = [
        (
            u["kinesis"]["partitionKey"],
            u["kinesis"]["explicitHashKey"],
            base64.b64decode(u["kinesis"]["data"]),
        )
        for u in users
    ]
    # aws-kinesis-agg reads a record without a hash key index as index 0 when the table is not
    # empty (it does not check the optional field's presence): compare hash keys where one is set.
    assert [(k, d) for k, _, d in got] == [(k, d) for k, _, d in records]
    assert all(g[1] == r[1] for g, r in zip(got, records, strict=False) if r[1] is not None)


def test_unknown_fields_and_tags_are_read_past():
    message = messages_pb2.AggregatedRecord()
    message.partition_key_table.append("k")
    record = message.records.add()
    record.partition_key_index = 0
    record.data = b"payload"
    tag = record.tags.add()
    tag.key, tag.value = "t", "v"
    body = message.SerializeToString() + b"\x28\x07"  # and an unknown varint field 5
    blob = MAGIC + body + hashlib.md5(body).digest()
    assert decode_aggregate(blob) == [("k", None, b"payload")]


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]), "MD5"),
        (lambda blob: blob[:10] + bytes([blob[10] ^ 0xFF]) + blob[11:], "MD5"),
    ],
)
def test_a_corrupt_aggregate_is_refused_with_a_reason_that_quotes_no_data(mangle, reason):
    blob = mangle(encode_aggregate([("secret-key", None, b"secret-data")]))
    with pytest.raises(AggregateError, match=reason) as caught:
        decode_aggregate(blob)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\x05ab",  # a key cut short
        b"\x1a\x02\x08\x00",  # a record without data
        b"\x1a\x04\x08\x03\x1a\x00",  # a key index outside the table
        b"\x0b",  # wire type 3: unreadable
        b"\x0a\x02\xff\xfe",  # a key that is not UTF-8
    ],
)
def test_a_malformed_message_with_a_good_digest_is_refused(body):
    with pytest.raises(AggregateError, match="malformed"):
        decode_aggregate(MAGIC + body + hashlib.md5(body).digest())


def test_detection_helpers():
    blob = encode_aggregate([("k", None, b"x")])
    assert is_aggregate(blob) and not is_aggregate(b"plain") and not is_aggregate(MAGIC + b"\x00" * 16)
    assert base64.b64encode(blob).decode().startswith(MAGIC_BASE64_PREFIX)
    assert varint(0) == b"\x00" and varint(2**64 - 1) == b"\xff" * 9 + b"\x01"
    assert hash_key_of(b"k") == int(hashlib.md5(b"k").hexdigest(), 16)
    with pytest.raises(AggregateError, match="no KPL magic"):
        decode_aggregate(b"plain data")
