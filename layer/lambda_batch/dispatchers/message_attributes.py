"""SQS and SNS message attributes: checked, normalised to the API's shape, and measured.

Both services count attributes toward the message size: each attribute's name, data type and
value, in UTF-8 bytes (binary values by length).

Example:
    ```python
    attributes, size = normalise_message_attributes(
        {"tenant": "acme", "priority": 3}
    )
    # {"tenant": {"DataType": "String", "StringValue": "acme"},
    #  "priority": {"DataType": "Number", "StringValue": "3"}}
    ```
"""

from __future__ import annotations

import decimal
from typing import Any, Dict, Mapping, Optional, Tuple

from ..core.limits import SQS_MAX_MESSAGE_ATTRIBUTES
from ..errors import PayloadError
from .serialization import utf8_len

#: Attributes per message (SQS and SNS), from ``limits``.
MAX_MESSAGE_ATTRIBUTES = SQS_MAX_MESSAGE_ATTRIBUTES


def normalise_message_attributes(
    attributes: Optional[Mapping[str, Any]],
) -> Tuple[Optional[Dict[str, Dict[str, Any]]], int]:
    """Return ``(attributes in API shape or None, their size in bytes)``.

    Values may be given in the API's shape (``{"DataType": ..., "StringValue": ...}``) or
    plainly: ``str`` becomes String, ``int``/``float``/``Decimal`` Number, ``bytes`` Binary.
    """
    if not attributes:
        return None, 0
    if not isinstance(attributes, Mapping):
        raise PayloadError("message_attributes must be a mapping of name to value")
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise PayloadError(
            f"{len(attributes)} message attributes, over the limit of {MAX_MESSAGE_ATTRIBUTES} per message"
        )
    result: Dict[str, Dict[str, Any]] = {}
    size = 0
    for name, value in attributes.items():
        if not isinstance(name, str) or not name:
            raise PayloadError(f"message attribute name {name!r} must be a non-empty string")
        shaped = _shape(name, value)
        size += utf8_len(name) + utf8_len(shaped["DataType"])
        if "BinaryValue" in shaped:
            size += len(shaped["BinaryValue"])
        else:
            size += utf8_len(shaped["StringValue"])
        result[name] = shaped
    return result, size


def _shape(name: str, value: Any) -> Dict[str, Any]:
    if isinstance(value, Mapping):
        data_type = value.get("DataType")
        if not isinstance(data_type, str) or not data_type:
            raise PayloadError(f"message attribute {name!r} needs a DataType")
        if "StringValue" in value and isinstance(value["StringValue"], str):
            return {"DataType": data_type, "StringValue": value["StringValue"]}
        if "BinaryValue" in value and isinstance(value["BinaryValue"], (bytes, bytearray)):
            return {"DataType": data_type, "BinaryValue": bytes(value["BinaryValue"])}
        raise PayloadError(f"message attribute {name!r} needs a StringValue (str) or a BinaryValue (bytes)")
    if isinstance(value, bool):
        return {"DataType": "String", "StringValue": "true" if value else "false"}
    if isinstance(value, str):
        if not value:
            raise PayloadError(f"message attribute {name!r} is empty")
        return {"DataType": "String", "StringValue": value}
    if isinstance(value, (int, float, decimal.Decimal)):
        return {"DataType": "Number", "StringValue": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"DataType": "Binary", "BinaryValue": bytes(value)}
    raise PayloadError(f"message attribute {name!r} has a value of type {type(value).__name__}")
