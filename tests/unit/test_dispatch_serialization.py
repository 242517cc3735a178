"""Payload serialisation: compact JSON, the types Lambda code meets, clear errors."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

from lambda_batch import PayloadError
from lambda_batch.dispatchers.message_attributes import normalise_message_attributes
from lambda_batch.dispatchers.serialization import payload_to_bytes, payload_to_text, to_json


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
