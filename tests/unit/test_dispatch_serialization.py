"""Payload serialisation: boto3-batch-utils' json.dumps or compact JSON, the types Lambda code meets,
clear errors."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_batch import (
    ConfigurationError,
    FirehoseBatchDispatcher,
    KinesisBatchDispatcher,
    PayloadError,
    SNSBatchDispatcher,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.dispatchers.message_attributes import normalise_message_attributes
from lambda_batch.dispatchers.serialization import JSON, RAW, payload_to_bytes, payload_to_text, to_json
from tests.faults import CannedNetwork


def test_common_types_serialise():
    value = {
        "int": decimal.Decimal("3"),
        "float": decimal.Decimal("2.5"),
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 5, 6),
        "id": uuid.UUID(int=1),
        "tags": {"b", "a"},
        "text": "é",
    }
    assert to_json(value) == (
        '{"int":3,"float":2.5,"when":"2024-05-06T07:08:09+00:00","day":"2024-05-06",'
        '"id":"00000000-0000-0000-0000-000000000001","tags":["a","b"],"text":"é"}'
    )


def test_strings_and_bytes_pass_through():
    assert payload_to_text("as is") == "as is"
    assert payload_to_text(b"bytes") == "bytes"
    assert payload_to_bytes(b"\xff\x00") == b"\xff\x00"
    assert payload_to_bytes("é") == "é".encode()


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"f": float("nan")}, "JSON"),
        ({"o": object()}, "object is not JSON serializable"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_unserialisable_payloads_raise_payload_error(payload, match):
    with pytest.raises(PayloadError, match=match):
        payload_to_text(payload)


def test_lone_surrogates_are_refused():
    with pytest.raises(PayloadError, match="UTF-8"):
        payload_to_bytes("\ud800")


def test_message_attributes_are_shaped_and_measured():
    shaped, size = normalise_message_attributes({"a": "xy", "n": 1.5, "b": b"\x01\x02", "t": True})
    assert shaped == {
        "a": {"DataType": "String", "StringValue": "xy"},
        "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        "t": {"DataType": "String", "StringValue": "true"},
    }
    assert size == (1 + 6 + 2) + (1 + 6 + 3) + (1 + 6 + 2) + (1 + 6 + 4)
    with pytest.raises(PayloadError, match="over the limit of 10"):
        normalise_message_attributes({str(i): "v" for i in range(11)})
    with pytest.raises(PayloadError, match="DataType"):
        normalise_message_attributes({"x": {"StringValue": "v"}})


# -- payload_encoding: boto3-batch-utils' json.dumps by default on SQS and Kinesis --------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(_JSON_VALUES)
def test_json_encoding_is_boto3_batch_utils_json_dumps_and_round_trips(payload):
    # boto3-batch-utils 5.x: dumps(payload, cls=DecimalEncoder), json's default separators and ASCII escaping
    text = payload_to_text(payload, JSON)
    assert text == json.dumps(payload) and text.isascii()
    assert json.loads(text) == payload
    assert payload_to_bytes(payload, JSON) == json.dumps(payload).encode()


def test_json_encoding_quotes_a_string_and_keeps_bytes_raw():
    assert payload_to_text("café", JSON) == '"caf\\u00e9"'
    assert payload_to_text({"k": [1, "é"]}, JSON) == '{"k": [1, "\\u00e9"]}'
    assert payload_to_text(b"raw", JSON) == "raw" and payload_to_bytes(b"\xff\x00", JSON) == b"\xff\x00"
    assert payload_to_text(decimal.Decimal("2.5"), JSON) == "2.5"  # boto3-batch-utils' DecimalEncoder too
    assert payload_to_text({"k": "é"}, RAW) == '{"k":"é"}' and payload_to_text("café", RAW) == "café"
    with pytest.raises(PayloadError, match="JSON"):
        payload_to_text(float("nan"), JSON)  # json.dumps would write NaN, which no JSON parser reads


def _dispatchers(session):
    common = {"boto3_session": session, "region_name": "us-east-1"}
    return {
        "sqs": SQSBatchDispatcher("jobs", **common),
        "sqs-fifo": SQSFifoBatchDispatcher("jobs.fifo", **common),
        "kinesis": KinesisBatchDispatcher("clicks", **common),
        "sns": SNSBatchDispatcher("arn:aws:sns:us-east-1:123456789012:alerts", **common),
        "firehose": FirehoseBatchDispatcher("to-s3", **common),
    }


def test_sqs_and_kinesis_default_to_json_and_the_layers_own_dispatchers_to_raw(boto3_session):
    encodings = {name: d.payload_encoding for name, d in _dispatchers(boto3_session).items()}
    assert encodings == {"sqs": JSON, "sqs-fifo": JSON, "kinesis": JSON, "sns": RAW, "firehose": RAW}


@pytest.mark.parametrize(
    ("service", "cls", "target", "field"),
    [
        ("sqs", SQSBatchDispatcher, "jobs", "MessageBody"),
        ("kinesis", KinesisBatchDispatcher, "clicks", "Data"),
        ("sns", SNSBatchDispatcher, "arn:aws:sns:us-east-1:123456789012:alerts", "Message"),
        ("firehose", FirehoseBatchDispatcher, "to-s3", "Data"),
    ],
)
def test_what_goes_on_the_wire_under_each_encoding(boto3_session, service, cls, target, field):
    network = CannedNetwork(boto3_session, service)
    sent = {}
    for encoding in (JSON, RAW):
        dispatcher = cls(
            target, boto3_session=boto3_session, region_name="us-east-1", payload_encoding=encoding
        )
        for payload in ("café", {"k": "é"}, b"\tbytes"):
            dispatcher.submit_payload(payload)
        assert dispatcher.flush_payloads() == []
        sent[encoding] = [
            e[field] if isinstance(e[field], str) else e[field].decode() for e in network.sent[-3:]
        ]
    assert sent[JSON] == ['"caf\\u00e9"', '{"k": "\\u00e9"}', "\tbytes"]
    assert sent[RAW] == ["café", '{"k":"é"}', "\tbytes"]


@pytest.mark.parametrize("bad", ["JSON", "text", None, True])
def test_an_unknown_encoding_or_option_is_refused_when_the_dispatcher_is_built(boto3_session, bad):
    with pytest.raises(ConfigurationError, match='payload_encoding must be "json" or "raw"'):
        SQSBatchDispatcher("jobs", boto3_session=boto3_session, region_name="us-east-1", payload_encoding=bad)
    with pytest.raises(TypeError, match="payload_encodng"):
        KinesisBatchDispatcher(
            "clicks", boto3_session=boto3_session, region_name="us-east-1", payload_encodng="raw"
        )
