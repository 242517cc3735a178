"""Turning submitted payloads into the text or bytes a service stores, once, with clear errors.

Strings are sent as they are, bytes as they are (or decoded as UTF-8 where the service takes
text); anything else is encoded as compact JSON. ``Decimal`` (as DynamoDB returns numbers),
``datetime``/``date``/``time`` and ``UUID`` are understood; what JSON cannot express raises
`PayloadError` naming the type.

Example:
    ```python
    from lambda_batch.dispatchers.serialization import payload_to_text

    payload_to_text({"id": 1, "at": datetime.date(2024, 1, 2)})
    # '{"id":1,"at":"2024-01-02"}'
    ```
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

from ..errors import PayloadError


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    """Compact JSON for ``value``; raise PayloadError when it cannot be encoded.

    Example:
        ```python
        to_json({"a": [1, 2]})  # '{"a":[1,2]}'
        ```
    """
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)
    except (TypeError, ValueError, RecursionError) as exc:
        raise PayloadError(f"payload cannot be serialised to JSON: {exc}") from None


def payload_to_text(payload: Any) -> str:
    """The text of a payload: a ``str`` as is, ``bytes`` decoded as UTF-8, anything else as JSON.

    Example:
        ```python
        payload_to_text(b"hi"), payload_to_text("hi"), payload_to_text({"k": 1})
        # ('hi', 'hi', '{"k":1}')
        ```
    """
    if isinstance(payload, str):
        return payload
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            return bytes(payload).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(
                f"payload bytes are not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
    return to_json(payload)


def payload_to_bytes(payload: Any) -> bytes:
    """The bytes of a payload: ``bytes`` as is, a ``str`` as UTF-8, anything else as UTF-8 JSON.

    Example:
        ```python
        payload_to_bytes({"k": "é"})  # b'{"k":"\\xc3\\xa9"}'
        ```
    """
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    text = payload if isinstance(payload, str) else to_json(payload)
    return utf8(text)


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; raise PayloadError for text that has no UTF-8 form (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PayloadError(
            f"text cannot be encoded as UTF-8 ({exc.reason} at position {exc.start})"
        ) from None


def utf8_len(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes (the measure AWS uses for sizes)."""
    if text.isascii():
        return len(text)
    return len(utf8(text))
