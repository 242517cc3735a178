"""DynamoDB items as BatchWriteItem writes them: typed, checked against DynamoDB's rules, measured twice.

`write_item` turns an item of plain Python values into DynamoDB's typed attribute values
(the form ``boto3.dynamodb.types.TypeSerializer`` gives) in one pass, and measures it two ways:

- ``item_size``: the item as DynamoDB counts it against its 400 KB limit (UTF-8 bytes of names
  and strings, raw bytes of binaries, numbers by their significant digits, 3 bytes per list or
  map and 1 per element). Numbers are counted at the most the service may count: 1 byte for 0,
  else 2 + digits // 2, plus 1 when negative (a 38-digit negative number counts 22 bytes).
- ``wire_size``: the bytes the write adds to the request body, as botocore serializes it
  (``json.dumps`` with its defaults: ASCII only, so each non-ASCII character is a 6-byte
  ``\\uXXXX`` escape, 12 for characters outside the BMP; binaries in base64). DynamoDB's 16 MB
  per call is measured on the wire, where 400 KB of CJK text is 800 KB.

Values DynamoDB would refuse raise `PayloadError` naming the
attribute and the problem, never quoting the value: empty sets, numbers that are not finite,
beyond DynamoDB's range (magnitude above 9.9999999999999999999999999999999999999E+125 or below
1E-130) or over 38 significant digits, key attributes that are empty, over 2,048 bytes
(partition key) or 1,024 bytes (sort key), not a string, number or binary, or not of the
table's type.

Rules from https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
and https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html.

Example:
    ```python
    written = write_item(
        {"pk": "u-1", "score": 1.5}, {"pk": KeyRule("partition", "S")}
    )
    written.attributes  # {'pk': {'S': 'u-1'}, 'score': {'N': '1.5'}}
    ```
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii
from typing import Any, Dict, Hashable, List, NamedTuple, Optional, Tuple

from ..core.limits import (
    DYNAMODB_MAX_KEY_BYTES,
    DYNAMODB_MAX_NUMBER_DIGITS,
    DYNAMODB_MAX_NUMBER_EXPONENT,
    DYNAMODB_MIN_NUMBER_EXPONENT,
)
from ..errors import PayloadError

#: Numbers: at most 38 significant digits; nonzero magnitudes from 1E-130 to 9.99...E+125 (``limits``).
MAX_NUMBER_DIGITS = DYNAMODB_MAX_NUMBER_DIGITS
MAX_NUMBER_EXPONENT = DYNAMODB_MAX_NUMBER_EXPONENT
MIN_NUMBER_EXPONENT = DYNAMODB_MIN_NUMBER_EXPONENT
#: Key attribute values: at most this many bytes (UTF-8 for strings), and never empty.
MAX_KEY_BYTES = DYNAMODB_MAX_KEY_BYTES

_TYPE_NAMES = {"S": "a string", "N": "a number", "B": "a binary", "BOOL": "a boolean", "NULL": "null"}
_TYPE_NAMES.update({"SS": "a string set", "NS": "a number set", "BS": "a binary set"})
_TYPE_NAMES.update({"L": "a list", "M": "a map"})


class KeyRule(NamedTuple):
    """A key attribute's role (``partition``/``sort``) and type (``S``/``N``/``B``; None: any type)."""

    role: str
    kind: Optional[str]


class WrittenItem(NamedTuple):
    """An item in DynamoDB's typed form, with its DynamoDB item size and its size in the request body."""

    attributes: Dict[str, Any]
    item_size: int
    wire_size: int


#: json.dumps's framing around the typed item: '{"PutRequest": {"Item": ' ... '}}'
PUT_FRAME = len('{"PutRequest": {"Item": }}')
DELETE_FRAME = len('{"DeleteRequest": {"Key": }}')
#: Between two writes in the request's list.
SEPARATOR = len(", ")


def request_envelope(table: str) -> int:
    """The bytes of the request body around its writes: ``{"RequestItems": {"<table>": [...]}}``."""
    return len('{"RequestItems": {: []}}') + json_string_size(table)


def json_string_size(text: str) -> int:
    """The length of ``text`` as ``json.dumps`` writes it by default (quotes and escapes included)."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(encode_basestring_ascii(text))


def utf8_size(text: str, where: str) -> int:
    """The UTF-8 length of ``text``; PayloadError (naming ``where``) for text that has none."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise PayloadError(
            f"{where}: text has no UTF-8 form ({exc.reason} at position {exc.start})"
        ) from None


def number_size(number: decimal.Decimal) -> int:
    """The most DynamoDB counts for a number: 1 for zero, else 2 + digits // 2, plus 1 when negative."""
    if not number:
        return 1
    digits = _significant_digits(number)
    return 2 + digits // 2 + (1 if number.is_signed() else 0)


def _significant_digits(number: decimal.Decimal) -> int:
    coefficient = number.as_tuple().digits
    stripped = len(coefficient)
    while stripped > 1 and coefficient[stripped - 1] == 0:
        stripped -= 1
    leading = 0
    while leading < stripped - 1 and coefficient[leading] == 0:
        leading += 1
    return stripped - leading


def check_number(number: decimal.Decimal, where: str) -> None:
    """PayloadError unless ``number`` is one DynamoDB stores: finite, in range, 38 digits at most."""
    if not number.is_finite():
        raise PayloadError(f"{where}: DynamoDB cannot store a number that is not finite (NaN or infinity)")
    if not number:
        return
    exponent = number.adjusted()
    if exponent > MAX_NUMBER_EXPONENT:
        raise PayloadError(
            f"{where}: number too large for DynamoDB "
            "(magnitude above 9.9999999999999999999999999999999999999E+125)"
        )
    if exponent < MIN_NUMBER_EXPONENT:
        raise PayloadError(f"{where}: number too small for DynamoDB (nonzero magnitude below 1E-130)")
    if _significant_digits(number) > MAX_NUMBER_DIGITS:
        raise PayloadError(f"{where}: number has more than {MAX_NUMBER_DIGITS} significant digits")


def _to_decimal(value: Any, where: str) -> decimal.Decimal:
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    if not math.isfinite(value):
        raise PayloadError(f"{where}: DynamoDB cannot store {value}")
    return decimal.Decimal(repr(value))


def _number(value: Any, where: str) -> Tuple[Dict[str, Any], int, int]:
    number = _to_decimal(value, where)
    check_number(number, where)
    text = str(value) if type(value) is int else str(number)
    return {"N": text}, number_size(number), len(text) + 9  # {"N": "..."}


def _binary_bytes(value: Any) -> Optional[bytes]:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if type(value).__name__ == "Binary" and isinstance(getattr(value, "value", None), bytes):
        return value.value  # type: ignore[no-any-return]  # boto3.dynamodb.types.Binary
    return None


def _base64_size(length: int) -> int:
    return 4 * ((length + 2) // 3) + 2  # with its quotes


def _value(value: Any, where: str) -> Tuple[Dict[str, Any], int, int]:  # noqa: PLR0911 - one per type
    """``value`` typed, its DynamoDB size and its JSON size; PayloadError naming ``where``."""
    if value is None:
        return {"NULL": True}, 1, 14  # {"NULL": true}
    if value is True or value is False:
        return {"BOOL": value}, 1, 14 if value else 15
    if isinstance(value, str):
        return {"S": value}, utf8_size(value, where), json_string_size(value) + 7
    if isinstance(value, (int, float, decimal.Decimal)):
        return _number(value, where)
    raw = _binary_bytes(value)
    if raw is not None:
        return {"B": raw}, len(raw), _base64_size(len(raw)) + 7
    if isinstance(value, Mapping):
        attributes: Dict[str, Any] = {}
        size = 3
        wire = 2 + SEPARATOR * max(len(value) - 1, 0)
        for name, inner in value.items():
            if not isinstance(name, str):
                raise PayloadError(f"{where}: map keys must be strings, not {type(name).__name__}")
            typed, inner_size, inner_wire = _value(inner, f"{where}.{name}")
            attributes[name] = typed
            size += 1 + utf8_size(name, where) + inner_size
            wire += json_string_size(name) + 2 + inner_wire
        return {"M": attributes}, size, wire + 7  # {"M": ...}
    if isinstance(value, (list, tuple)):
        items: List[Any] = []
        size = 3
        wire = 2 + SEPARATOR * max(len(value) - 1, 0)
        for index, inner in enumerate(value):
            typed, inner_size, inner_wire = _value(inner, f"{where}[{index}]")
            items.append(typed)
            size += 1 + inner_size
            wire += inner_wire
        return {"L": items}, size, wire + 7  # {"L": ...}
    if isinstance(value, (set, frozenset)):
        return _set(value, where)
    raise PayloadError(f"{where}: DynamoDB cannot store a value of type {type(value).__name__}")


def _set(value: Any, where: str) -> Tuple[Dict[str, Any], int, int]:
    if not value:
        raise PayloadError(f"{where}: DynamoDB cannot store an empty set")
    typed = [_value(item, f"{where} (an element)") for item in value]
    kinds = {next(iter(item)) for item, _, _ in typed}
    if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
        raise PayloadError(f"{where}: a set must hold only strings, only numbers or only binaries")
    (kind,) = kinds
    members = [item[kind] for item, _, _ in typed]
    if kind == "N" and len({decimal.Decimal(text) for text in members}) != len(members):
        raise PayloadError(f"{where}: a number set holds the same number twice")
    size = sum(item_size for _, item_size, _ in typed)
    # {"NS": [...]}: each member is its scalar form less the {"N": } around it (9 bytes).
    wire = 8 + 2 + sum(member_wire - 7 for _, _, member_wire in typed) + SEPARATOR * (len(typed) - 1)
    return {kind + "S": members}, size, wire


def write_item(item: Mapping[str, Any], keys: Mapping[str, KeyRule]) -> WrittenItem:
    """``item`` (attribute name -> Python value) typed and measured; its key attributes checked.

    ``keys`` names the key attributes, each with its role and, when known, its type. The
    request frame (``PutRequest``/``DeleteRequest``) and the separator are not included in
    ``wire_size``.

    Example:
        ```python
        write_item({"pk": "a", "n": 5}, {"pk": KeyRule("partition", None)}).item_size
        # 4
        ```
    """
    attributes: Dict[str, Any] = {}
    size = 0
    wire = 2 + SEPARATOR * max(len(item) - 1, 0)
    for name, value in item.items():
        if not isinstance(name, str):
            raise PayloadError(f"attribute names must be strings, not {type(name).__name__}")
        if not name:
            raise PayloadError("an attribute name is empty")
        where = f"attribute {name!r}"
        typed, value_size, value_wire = _value(value, where)
        rule = keys.get(name)
        if rule is not None:
            _check_key(typed, value_size, rule, where)
        attributes[name] = typed
        size += utf8_size(name, where) + value_size
        wire += json_string_size(name) + 2 + value_wire
    for name, rule in keys.items():
        if name not in attributes:
            raise PayloadError(f"item has no {rule.role} key attribute {name!r}")
    return WrittenItem(attributes, size, wire)


def _check_key(typed: Dict[str, Any], value_size: int, rule: KeyRule, where: str) -> None:
    ((kind, _),) = typed.items()
    role = f"{where} ({rule.role} key)"
    if kind not in ("S", "N", "B"):
        raise PayloadError(f"{role} must be a string, number or binary, not {_TYPE_NAMES[kind]}")
    if rule.kind is not None and kind != rule.kind:
        raise PayloadError(
            f"{role} is {_TYPE_NAMES[kind]}, but the table's {rule.role} key is {_TYPE_NAMES[rule.kind]}"
        )
    if kind == "N":
        return
    if value_size == 0:
        raise PayloadError(f"{role} is empty: DynamoDB key values must be at least 1 byte")
    limit = MAX_KEY_BYTES[rule.role]
    if value_size > limit:
        raise PayloadError(
            f"{role} is {value_size} bytes, over DynamoDB's {limit}-byte limit for a {rule.role} key"
        )


def key_of(attributes: Mapping[str, Any], names: Tuple[str, ...]) -> Tuple[Tuple[str, str, Any], ...]:
    """The hashable key of a typed item (numbers compared as numbers, binaries as bytes)."""
    key = []
    for name in names:
        ((kind, value),) = attributes[name].items()
        plain = decimal.Decimal(value) if kind == "N" else bytes(value) if kind == "B" else value
        key.append((name, kind, plain))
    return tuple(key)


#: An item's key: ((attribute name, DynamoDB type, value), ...), hashable, numbers compared as numbers.
KeyTuple = Tuple[Tuple[str, str, Hashable], ...]


def describe_key(key: KeyTuple) -> str:
    """An item's key, for logs and unprocessed details with ``log_exception_messages``: ``id=7,sk=a``."""
    return ",".join(f"{name}={value!s}" for name, _kind, value in key)
