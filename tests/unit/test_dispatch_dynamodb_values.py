"""DynamoDB items as the dispatcher writes them: typed, checked, sized as DynamoDB and as the wire count."""

from __future__ import annotations

import decimal
import functools
import json
from typing import Any

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import PayloadError
from lambda_batch.dispatchers.dynamodb_items import (
    DELETE_FRAME,
    PUT_FRAME,
    SEPARATOR,
    KeyRule,
    number_size,
    request_envelope,
    write_item,
)

D = decimal.Decimal
PK = {"pk": KeyRule("partition", None)}


@functools.lru_cache(maxsize=1)
def _batch_write_item() -> Any:
    """botocore's model of BatchWriteItem, loaded once (loading the service model is most of a call)."""
    return botocore.session.get_session().get_service_model("dynamodb").operation_model("BatchWriteItem")


def body_of(table, requests):
    """The request body botocore sends for BatchWriteItem (its own JSON serializer)."""
    from botocore.serialize import create_serializer

    request = create_serializer("json").serialize_to_request(
        {"RequestItems": {table: requests}}, _batch_write_item()
    )
    return request["body"]


# -- sizes as DynamoDB counts them ---------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "size"),
    [
        (D(0), 1),
        (D(7), 2),
        (D(-7), 3),
        (D(10), 2),  # trailing zeros are not stored
        (D("1E+100"), 2),
        (D("0.001"), 2),  # nor leading ones
        (D(12), 3),
        (D(123), 3),
        (D("1" * 38), 21),
        (D("-" + "1" * 38), 22),  # a 38-digit negative number: 22 bytes (21 was too few)
        (D("-9.9999999999999999999999999999999999999E+125"), 22),
    ],
)
def test_number_sizes_are_never_below_the_service(number, size):
    assert number_size(number) == size


def test_item_size_counts_utf8_names_and_values_and_the_list_and_map_overhead():
    item = {"pk": "a", "名": "é", "n": D("-12.5"), "b": b"\x00\x01", "t": True, "z": None}
    item["l"] = [1, "x"]
    item["m"] = {"k": "v"}
    item["ss"] = {"ab", "c"}
    written = write_item(item, PK)
    expected = (2 + 1) + (3 + 2) + (1 + 4) + (1 + 2) + (1 + 1) + (1 + 1)
    expected += 1 + (3 + (1 + 2) + (1 + 1))  # list: 3, each element 1 + its size
    expected += 1 + (3 + (1 + 1 + 1))  # map: 3, each element 1 + name + value
    expected += 2 + 3
    assert written.item_size == expected


# -- sizes on the wire, exactly as botocore serializes ---------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=30),
    st.integers(min_value=-(10**37), max_value=10**37),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
        st.frozensets(st.text(max_size=6), min_size=1, max_size=4),
        st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4),
        st.frozensets(st.binary(max_size=6), min_size=1, max_size=4),
    ),
    max_leaves=12,
)
items = st.dictionaries(st.text(min_size=1, max_size=10), values, max_size=6).map(
    lambda attributes: {**attributes, "pk": "key-é"}
)


@settings(max_examples=150, deadline=None)
@given(st.lists(items, min_size=1, max_size=4), st.text(min_size=3, max_size=12))
def test_wire_size_is_the_request_body_botocore_sends(batch, table):
    requests = []
    total = request_envelope(table) - SEPARATOR
    for index, item in enumerate(batch):
        written = write_item(item, PK)
        if index % 2:
            requests.append({"DeleteRequest": {"Key": written.attributes}})
            total += written.wire_size + DELETE_FRAME + SEPARATOR
        else:
            requests.append({"PutRequest": {"Item": written.attributes}})
            total += written.wire_size + PUT_FRAME + SEPARATOR
    assert total == len(body_of(table, requests))


def test_non_ascii_text_is_six_bytes_a_character_on_the_wire():
    ascii_item = write_item({"pk": "a", "t": "x" * 1000}, PK)
    cjk_item = write_item({"pk": "a", "t": "漢" * 1000}, PK)
    emoji_item = write_item({"pk": "a", "t": "\U0001f600" * 1000}, PK)
    assert cjk_item.wire_size - ascii_item.wire_size == 5 * 1000
    assert emoji_item.wire_size - ascii_item.wire_size == 11 * 1000
    assert (cjk_item.item_size, emoji_item.item_size) == (2 + 1 + 1 + 3000, 2 + 1 + 1 + 4000)
    assert len(json.dumps("漢" * 1000)) == 6 * 1000 + 2


def test_values_are_typed_as_boto3_types_them_and_keep_their_type():
    from boto3.dynamodb.types import Binary, TypeSerializer

    item = {"pk": 42, "d": D("1.50"), "b": Binary(b"\x01"), "l": [True, None], "ns": {1, 2}}
    expected = {name: TypeSerializer().serialize(value) for name, value in item.items()}
    written = write_item({**item, "f": 1.25}, PK).attributes
    assert written.pop("f") == {"N": "1.25"}
    written["ns"]["NS"].sort()
    expected["ns"]["NS"].sort()
    assert written == expected


# -- what DynamoDB refuses, refused with the attribute named and no value quoted ----------------


@pytest.mark.parametrize(
    ("item", "keys", "problem"),
    [
        ({"pk": "a", "s": set()}, PK, r"attribute 's': DynamoDB cannot store an empty set"),
        (
            {"pk": "a", "l": [{"x": frozenset()}]},
            PK,
            r"attribute 'l'\[0\]\.x: DynamoDB cannot store an empty set",
        ),
        ({"pk": "a", "n": D("1E+126")}, PK, r"attribute 'n': number too large"),
        ({"pk": "a", "n": 10**126}, PK, r"attribute 'n': number too large"),
        ({"pk": "a", "n": D("1E-131")}, PK, r"attribute 'n': number too small"),
        ({"pk": "a", "n": 1e-140}, PK, r"attribute 'n': number too small"),
        ({"pk": "a", "n": D("1" * 39)}, PK, r"more than 38 significant digits"),
        ({"pk": "a", "n": D("NaN")}, PK, r"not finite"),
        ({"pk": "a", "n": float("inf")}, PK, r"cannot store inf"),
        ({"pk": "a", "s": {"a", 1}}, PK, r"only strings, only numbers or only binaries"),
        ({"pk": ""}, PK, r"attribute 'pk' \(partition key\) is empty"),
        ({"pk": b""}, PK, r"attribute 'pk' \(partition key\) is empty"),
        ({"pk": "é" * 1025}, PK, r"is 2050 bytes, over DynamoDB's 2048-byte limit for a partition key"),
        (
            {"pk": "a", "sk": "x" * 1025},
            {**PK, "sk": KeyRule("sort", "S")},
            r"attribute 'sk' \(sort key\) is 1025 bytes, over DynamoDB's 1024-byte limit for a sort key",
        ),
        (
            {"pk": "a", "sk": "1"},
            {**PK, "sk": KeyRule("sort", "N")},
            r"attribute 'sk' \(sort key\) is a string, but the table's sort key is a number",
        ),
        ({"pk": True}, PK, r"must be a string, number or binary, not a boolean"),
        ({"other": "a"}, PK, r"item has no partition key attribute 'pk'"),
        ({"pk": "a", "x": object()}, PK, r"attribute 'x': DynamoDB cannot store a value of type object"),
        ({"pk": "a", "x": "\ud800"}, PK, r"attribute 'x': text has no UTF-8 form"),
    ],
)
def test_values_dynamodb_refuses_raise_payload_error(item, keys, problem):
    secret = "s3cr3t"
    with pytest.raises(PayloadError, match=problem) as raised:
        write_item({**item, "secret": secret}, keys)
    assert secret not in str(raised.value)


@pytest.mark.parametrize(
    "number",
    [
        D("9.9999999999999999999999999999999999999E+125"),
        D("-9.9999999999999999999999999999999999999E+125"),
        D("1E-130"),
        D("-1E-130"),
        D("1" * 38),
        10**40,  # trailing zeros do not count
        D("0E-200"),
        0,
    ],
)
def test_numbers_dynamodb_stores_pass(number):
    written = write_item({"pk": "a", "n": number}, PK)
    assert D(written.attributes["n"]["N"]) == D(number)


def test_keys_at_their_limits_pass():
    keys = {**PK, "sk": KeyRule("sort", "B")}
    written = write_item({"pk": "é" * 1024, "sk": b"\x00" * 1024}, keys)
    assert written.attributes["sk"] == {"B": b"\x00" * 1024}
