"""The S3 pointer ("claim check") of a large message, in the AWS Extended Client libraries' format.

A message whose payload lives in S3 carries, in place of its body, a JSON array of the
pointer's class name and the object's location, and a Number message attribute holding
the payload's size in UTF-8 bytes (consumers recognise a pointer by that attribute):

```text
body:       ["software.amazon.payloadoffloading.PayloadS3Pointer",
             {"s3BucketName": "my-bucket", "s3Key": "a1b2..."}]
attribute:  ExtendedPayloadSize = 5242880 (Number)
```

The same format is written and read by the AWS SQS and SNS Extended Client libraries
(Python and Java). Their older releases wrote ``com.amazon.sqs.javamessaging.MessageS3Pointer``
with the attribute ``SQSLargePayloadSize``: that pair is read too, never written.

Example:
    ```python
    body = pointer_body("my-bucket", "payloads/a1b2")
    read_pointer(body)          # ('my-bucket', 'payloads/a1b2')
    ```
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

#: The pointer class name written in the body.
POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
#: The pointer class name of the libraries' older releases (read, never written).
LEGACY_POINTER_CLASS = "com.amazon.sqs.javamessaging.MessageS3Pointer"
#: The Number message attribute holding the payload's size in bytes.
SIZE_ATTRIBUTE = "ExtendedPayloadSize"
#: The same attribute under the libraries' older name (read, never written).
LEGACY_SIZE_ATTRIBUTE = "SQSLargePayloadSize"
#: Both attribute names: a message carrying either is a pointer message.
SIZE_ATTRIBUTES = (SIZE_ATTRIBUTE, LEGACY_SIZE_ATTRIBUTE)
_POINTER_CLASSES = (POINTER_CLASS, LEGACY_POINTER_CLASS)
#: S3 object keys are at most 1024 bytes; the random part of ours takes 32.
MAX_PREFIX_BYTES = 900


class PointerError(ValueError):
    """A message marked as a pointer whose body is not one (the reason never quotes the body)."""


def pointer_body(bucket: str, key: str) -> str:
    """The message body that points at ``s3://bucket/key`` (compact JSON, as the libraries write).

    Example:
        ```python
        pointer_body("b", "k")
        # '["software.amazon.payloadoffloading.PayloadS3Pointer",
        #   {"s3BucketName": "b", "s3Key": "k"}]'
        ```
    """
    return json.dumps([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}])


def size_attribute(size: int) -> Any:
    """The ``ExtendedPayloadSize`` message attribute value (API shape) for a payload of ``size`` bytes.

    Example:
        ```python
        size_attribute(12)  # {'DataType': 'Number', 'StringValue': '12'}
        ```
    """
    return {"DataType": "Number", "StringValue": str(size)}


def new_key(prefix: str = "") -> str:
    """A fresh object key: ``prefix`` then 32 random hexadecimal digits.

    Example:
        ```python
        len(new_key("payloads/"))  # 41
        ```
    """
    import uuid

    return f"{prefix}{uuid.uuid4().hex}"


def read_pointer(body: Any) -> Tuple[str, str]:
    """``(bucket, key)`` of a pointer body; `PointerError` when ``body`` is not one.

    Example:
        ```python
        read_pointer(
            '["com.amazon.sqs.javamessaging.MessageS3Pointer",'
            ' {"s3BucketName": "b", "s3Key": "k"}]'
        )
        # ('b', 'k')
        ```
    """
    if not isinstance(body, str) or not body.startswith("["):
        raise PointerError("the body is not an S3 pointer (not a JSON array)")
    try:
        value = json.loads(body)
    except ValueError:
        raise PointerError("the body is not an S3 pointer (not valid JSON)") from None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], dict)):
        raise PointerError("the body is not an S3 pointer (not [class, {location}])")
    if value[0] not in _POINTER_CLASSES:
        raise PointerError("the body is not an S3 pointer (unknown pointer class)")
    bucket = value[1].get("s3BucketName")
    key = value[1].get("s3Key")
    if not (isinstance(bucket, str) and bucket and isinstance(key, str) and key):
        raise PointerError("the S3 pointer lacks s3BucketName or s3Key")
    return bucket, key


def marked_size(attributes: Any) -> Optional[str]:
    """The name of the size attribute among ``attributes`` (any mapping of names), or ``None``.

    Example:
        ```python
        marked_size({"ExtendedPayloadSize": {"dataType": "Number", "stringValue": "9"}})
        # 'ExtendedPayloadSize'
        ```
    """
    if not attributes:
        return None
    for name in SIZE_ATTRIBUTES:
        if name in attributes:
            return name
    return None


def declared_size(attributes: Any, name: str) -> int:
    """The payload size in bytes the ``name`` attribute declares, in Lambda's SQS shape
    (``stringValue``), the API's (``StringValue``) or SNS's (``Value``); `PointerError`
    when it is not a byte count.

    Example:
        ```python
        attributes = {"SQSLargePayloadSize": {"stringValue": "9"}}
        declared_size(attributes, "SQSLargePayloadSize")  # 9
        ```
    """
    value = attributes.get(name) if hasattr(attributes, "get") else None
    text = None
    if isinstance(value, dict):
        text = value.get("stringValue", value.get("StringValue", value.get("Value")))
    if not isinstance(text, str) or not text.isdigit() or not text.isascii() or len(text) > 19:
        raise PointerError(f"its {name} attribute is not a size in bytes")
    return int(text)


def sns_envelope(body: Any) -> Optional[Dict[str, Any]]:
    """The SNS notification in ``body`` when it carries a large payload pointer; else ``None``."""
    if not isinstance(body, str) or not body.startswith("{") or '"Notification"' not in body:
        return None
    if "ExtendedPayloadSize" not in body and "SQSLargePayloadSize" not in body:
        return None
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    if not isinstance(envelope, dict) or envelope.get("Type") != "Notification":
        return None
    marks = envelope.get("MessageAttributes")
    if (
        not isinstance(marks, dict)
        or marked_size(marks) is None
        or not isinstance(envelope.get("Message"), str)
    ):
        return None
    return envelope


__all__ = [
    "sns_envelope",
    "LEGACY_POINTER_CLASS",
    "LEGACY_SIZE_ATTRIBUTE",
    "MAX_PREFIX_BYTES",
    "POINTER_CLASS",
    "SIZE_ATTRIBUTE",
    "SIZE_ATTRIBUTES",
    "PointerError",
    "declared_size",
    "marked_size",
    "new_key",
    "pointer_body",
    "read_pointer",
]
