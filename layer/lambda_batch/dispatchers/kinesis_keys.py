"""Kinesis record keys as PutRecords accepts them: the partition key and the explicit hash key.

- ``PartitionKey``: 1 to 256 characters, counted as the service counts the length of its
  strings: UTF-16 code units, so a character outside the Basic Multilingual Plane (an emoji)
  counts 2. Kinesis hashes the key's UTF-8 bytes (MD5), and those bytes count towards the
  record's size.
- ``ExplicitHashKey``: a decimal integer, pattern ``0|([1-9]\\d{0,38})``, from 0 to 2**128 - 1.

Errors name the record and the problem, never the key itself (keys are often user ids).
Sources: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html

Example:
    ```python
    check_partition_key("user-1", "record #1")  # 'user-1'
    check_explicit_hash_key(2**127, "record #1")
    # '170141183460469231731687303715884105728'
    ```
"""

from __future__ import annotations

from typing import Any

from ..core.limits import KINESIS_MAX_EXPLICIT_HASH_KEY, KINESIS_MAX_PARTITION_KEY_LENGTH
from ..errors import PayloadError

#: The largest ExplicitHashKey: the hash key space is 128 bits (``limits``).
MAX_EXPLICIT_HASH_KEY = KINESIS_MAX_EXPLICIT_HASH_KEY
_DIGITS = frozenset("0123456789")


def partition_key_length(key: str) -> int:
    """The length of ``key`` as Kinesis counts it: UTF-16 code units (an emoji counts 2)."""
    if key.isascii():
        return len(key)
    return len(key) + sum(1 for char in key if char > "\uffff")


def check_partition_key(key: Any, record: str) -> str:
    """``key`` if Kinesis accepts it as a partition key; PayloadError naming ``record`` otherwise."""
    if not isinstance(key, str):
        raise PayloadError(f"{record}: the partition key must be a string, not {type(key).__name__}")
    length = partition_key_length(key)
    if not 1 <= length <= KINESIS_MAX_PARTITION_KEY_LENGTH:
        raise PayloadError(
            f"{record}: the partition key is {length} characters (UTF-16 code units); Kinesis "
            f"takes 1 to {KINESIS_MAX_PARTITION_KEY_LENGTH}"
        )
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PayloadError(
            f"{record}: the partition key has no UTF-8 form ({exc.reason} at position {exc.start})"
        ) from None
    return key


def check_explicit_hash_key(value: Any, record: str) -> str:
    """``value`` as the ExplicitHashKey text (a decimal integer string, or an ``int``), checked.

    Raises PayloadError naming ``record`` for anything but a decimal integer from 0 to 2**128 - 1.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PayloadError(
            f"{record}: explicit_hash_key must be a decimal integer string, not {type(value).__name__}"
        )
    text = str(value)
    if not text or not _DIGITS.issuperset(text) or (len(text) > 1 and text[0] == "0"):
        raise PayloadError(
            f"{record}: explicit_hash_key must be a decimal integer without sign or leading zeros"
        )
    if len(text) > 39 or int(text) > MAX_EXPLICIT_HASH_KEY:
        raise PayloadError(f"{record}: explicit_hash_key is above 2**128 - 1, the top of the hash key space")
    return text
