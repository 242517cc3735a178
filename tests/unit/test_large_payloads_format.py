"""The S3 pointer format and the pointer message's size, as invariants over any bucket, key and attributes."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch.dispatchers.large_payloads import PayloadOffloader
from lambda_batch.dispatchers.message_attributes import normalise_message_attributes
from lambda_batch.dispatchers.serialization import utf8_len
from lambda_batch.errors import PayloadError
from lambda_batch.payloads.pointers import (
    LEGACY_POINTER_CLASS,
    SIZE_ATTRIBUTE,
    PointerError,
    marked_size,
    pointer_body,
    read_pointer,
)

names = st.text(min_size=1, max_size=60)
attribute_values = st.one_of(
    st.text(min_size=1, max_size=200), st.integers(), st.binary(min_size=1, max_size=50)
)


@settings(max_examples=200)
@given(bucket=names, key=st.text(min_size=1, max_size=300))
def test_a_pointer_reads_back_to_its_bucket_and_key(bucket: str, key: str) -> None:
    body = pointer_body(bucket, key)
    assert read_pointer(body) == (bucket, key)
    legacy = json.dumps([LEGACY_POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}])
    assert read_pointer(legacy) == (bucket, key)


NO_KEY = '["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "b"}]'
UNKNOWN_CLASS = '["x", {"s3BucketName": "b", "s3Key": "k"}]'


@pytest.mark.parametrize("body", ["", "plain text", "[]", UNKNOWN_CLASS, NO_KEY, "[not json", None, 5])
def test_anything_else_is_not_a_pointer(body: Any) -> None:
    with pytest.raises(PointerError):
        read_pointer(body)


def test_the_size_attribute_is_recognised_under_both_names() -> None:
    assert marked_size({"SQSLargePayloadSize": {}}) == "SQSLargePayloadSize"
    assert marked_size({"other": {}}) is None and marked_size(None) is None


@settings(max_examples=200)
@given(
    body=st.text(min_size=1, max_size=2000),
    attributes=st.dictionaries(names, attribute_values, max_size=9),
    prefix=st.text(max_size=40),
)
def test_the_pointer_message_is_measured_as_sqs_measures_it(
    body: str, attributes: Dict[str, Any], prefix: str
) -> None:
    offloader = PayloadOffloader("my-bucket", 0, prefix, owner="test")
    shaped, attributes_size = normalise_message_attributes(attributes)
    request, size = offloader.pointer_request({}, "MessageBody", body, shaped, attributes_size, label="m")
    measured = utf8_len(request["MessageBody"])
    for name, value in request["MessageAttributes"].items():
        measured += utf8_len(name) + utf8_len(value["DataType"])
        measured += len(value["BinaryValue"]) if "BinaryValue" in value else utf8_len(value["StringValue"])
    assert size == measured
    assert request["MessageAttributes"][SIZE_ATTRIBUTE]["StringValue"] == str(utf8_len(body))
    assert read_pointer(request["MessageBody"]) == ("my-bucket", request.key)
    assert request.key.startswith(prefix) and request.data == body


def test_a_tenth_attribute_leaves_no_room_for_the_size_attribute() -> None:
    offloader = PayloadOffloader("my-bucket", 0, "", owner="test")
    shaped, size = normalise_message_attributes({f"a{n}": "v" for n in range(10)})
    with pytest.raises(PayloadError, match="over the limit of 10"):
        offloader.pointer_request({}, "MessageBody", "x", shaped, size, label="m")


@pytest.mark.parametrize(("threshold", "size", "limit", "offloaded"), [
    (None, 1024, 1024, False), (None, 1025, 1024, True),
    (100, 100, 1024, False), (100, 101, 1024, True), (5000, 2000, 1024, True),
    (0, 1, 1024, True),
])  # fmt: skip
def test_thresholds(threshold: Any, size: int, limit: int, offloaded: bool) -> None:
    assert PayloadOffloader("my-bucket", threshold, "", owner="t").should_offload(size, limit) is offloaded


class _Stream:
    """A body that sends more than asked for, as a server lying about its length would."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.asked: list = []

    def read(self, amount: int) -> bytes:
        self.asked.append(amount)
        chunk, self.data = self.data[: amount + 7], self.data[amount + 7 :]
        return chunk


@settings(max_examples=50)
@given(size=st.integers(min_value=0, max_value=300_000), extra=st.integers(min_value=1, max_value=100_000))
def test_a_body_is_never_read_past_its_declared_size(size: int, extra: int) -> None:
    import time

    from lambda_batch.payloads.object_reads import CHUNK_BYTES, read_body

    stream = _Stream(b"a" * size + b"b" * extra)
    data = read_body(stream, size, time.monotonic() + 60)
    assert bytes(data) == b"a" * size
    assert sum(stream.asked) <= size and all(amount <= CHUNK_BYTES for amount in stream.asked)


@pytest.mark.parametrize(
    ("attributes", "size"),
    [
        ({"ExtendedPayloadSize": {"stringValue": "12", "dataType": "Number"}}, 12),  # Lambda's SQS event
        ({"ExtendedPayloadSize": {"StringValue": "0", "DataType": "Number"}}, 0),  # the API's
        ({"ExtendedPayloadSize": {"Type": "Number", "Value": "7"}}, 7),  # an SNS envelope's
        ({"ExtendedPayloadSize": {"stringValue": "-1"}}, None),
        ({"ExtendedPayloadSize": {"stringValue": "1e9"}}, None),
        ({"ExtendedPayloadSize": {"stringValue": "١٢"}}, None),  # digits, but not ASCII ones
        ({"ExtendedPayloadSize": {"stringValue": "9" * 20}}, None),
        ({"ExtendedPayloadSize": "12"}, None),
    ],
)
def test_the_declared_size_is_a_plain_byte_count(attributes: Dict[str, Any], size: Any) -> None:
    from lambda_batch.payloads.pointers import declared_size

    if size is None:
        with pytest.raises(PointerError, match="not a size in bytes"):
            declared_size(attributes, "ExtendedPayloadSize")
    else:
        assert declared_size(attributes, "ExtendedPayloadSize") == size


@pytest.mark.parametrize("field", ["MessageBody", "Message"])  # SQS, SNS
def test_a_message_repointed_after_an_unknown_outcome_keeps_its_size_and_payload(field: str) -> None:
    offloader = PayloadOffloader("my-bucket", 0, "p/", owner="test")
    request, size = offloader.pointer_request({}, field, "payload", None, 0, label="m")
    first = request.key
    request.stored = request.uncertain = True  # sent, outcome unknown
    request.repoint("p/" + "0" * 32)
    assert read_pointer(request[field]) == ("my-bucket", "p/" + "0" * 32) != ("my-bucket", first)
    assert utf8_len(request[field]) + len(SIZE_ATTRIBUTE) + len("Number") + len("7") == size
    assert (request.stored, request.uncertain, request.data) == (False, False, "payload")
