"""Kinesis record keys: partition keys counted as Kinesis counts them, explicit hash keys in range."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_batch import PayloadError
from lambda_batch.dispatchers.kinesis_keys import (
    MAX_EXPLICIT_HASH_KEY,
    check_explicit_hash_key,
    check_partition_key,
    partition_key_length,
)

#: The ExplicitHashKey pattern of the PutRecords API reference, anchored as the service applies it.
API_PATTERN = re.compile(r"0|([1-9][0-9]{0,38})")


@given(st.text(min_size=1, max_size=300))
def test_partition_key_length_is_utf16_code_units(key):
    assert partition_key_length(key) == len(key.encode("utf-16-le", "surrogatepass")) // 2


@pytest.mark.parametrize(
    ("key", "length"),
    [("k" * 256, 256), ("漢" * 256, 256), ("\U0001f600" * 128, 256), ("é" * 256, 256)],
)
def test_keys_of_256_code_units_pass(key, length):
    assert partition_key_length(key) == length
    assert check_partition_key(key, "record #1") == key


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("k" * 257, "257 characters"),
        ("\U0001f600" * 129, "258 characters"),  # 129 code points, but 258 UTF-16 units
        ("", "0 characters"),
        (None, "must be a string, not NoneType"),
        (b"bytes", "must be a string, not bytes"),
        ("\ud800", "no UTF-8 form"),
    ],
)
def test_partition_keys_kinesis_refuses(key, problem):
    with pytest.raises(PayloadError, match=re.escape(problem)) as raised:
        check_partition_key(key, "record #3")
    assert str(raised.value).startswith("record #3: ")
    if isinstance(key, str) and len(key) > 1:
        assert key[:8] not in str(raised.value)


@given(st.integers(min_value=0, max_value=MAX_EXPLICIT_HASH_KEY))
def test_every_hash_key_in_the_space_passes_as_int_or_text(number):
    assert check_explicit_hash_key(number, "r") == str(number)
    assert check_explicit_hash_key(str(number), "r") == str(number)
    assert API_PATTERN.fullmatch(str(number))


@given(st.text(max_size=45))
def test_text_passes_only_if_the_api_pattern_and_the_range_allow_it(text):
    expected = bool(API_PATTERN.fullmatch(text)) and int(text) <= MAX_EXPLICIT_HASH_KEY
    try:
        check_explicit_hash_key(text, "r")
    except PayloadError:
        assert not expected
    else:
        assert expected


@pytest.mark.parametrize(
    "value", [2**128, str(2**128), "9" * 39, "-1", -1, "+1", " 1", "01", "1.0", "١٢", True, 1.0, None, b"1"]
)
def test_hash_keys_kinesis_refuses(value):
    with pytest.raises(PayloadError, match=r"^record #9: explicit_hash_key "):
        check_explicit_hash_key(value, "record #9")
