"""Lambda's SQS event source, as rules: the record it builds from a message, and what it deletes after.

* :func:`lambda_sqs_record`: a message as ``ReceiveMessage`` returned it (boto3's shape) made
  into the record Lambda puts in the event: camel-cased keys, system attributes, message
  attributes with binary values as base64 text (as AWS documents the event), the queue's ARN
  and region.
* :func:`send_attributes`: the reverse for message attributes (a sample event's record back
  to ``SendMessage``'s ``MessageAttributes``).
* :func:`reported_failures` and :func:`returned_ids`: which records of a batch Lambda returns to
  the queue after an invocation (it deletes the rest): all of them after an error or a
  timeout; with ``ReportBatchItemFailures``, the reported ones, or all of them when the
  response is malformed.

Example::

    >>> message = {"MessageId": "m-1", "ReceiptHandle": "rh", "Body": "{}",
    ...            "MessageAttributes": {"blob": {"DataType": "Binary", "BinaryValue": b"\\x00"}}}
    >>> record = lambda_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:jobs")
    >>> record["messageAttributes"]["blob"]["binaryValue"]
    'AA=='
    >>> returned_ids(["a", "b"], ok=True, response={"batchItemFailures": [{"itemIdentifier": "b"}]},
    ...              report_batch_item_failures=True)
    ['b']
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set


def lambda_sqs_record(message: Mapping[str, Any], queue_arn: str) -> Dict[str, Any]:
    """The Lambda event record for ``message`` (as ``receive_message`` returned it) from ``queue_arn``."""
    record: Dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: lambda_message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def lambda_message_attribute(value: Mapping[str, Any]) -> Dict[str, Any]:
    """An SQS message attribute in the camel-cased shape Lambda puts in the event (binary as base64 text)."""
    converted: Dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [_b64(item) for item in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    return converted


def send_attributes(record: Mapping[str, Any]) -> Dict[str, Any]:
    """``SendMessage``'s ``MessageAttributes`` for the message attributes of a Lambda record.

    A ``binaryValue`` is base64 text in the event: it is sent as the bytes it encodes (text
    that is not base64 is sent as its UTF-8 bytes).
    """
    attributes: Dict[str, Any] = {}
    for name, value in (record.get("messageAttributes") or {}).items():
        entry: Dict[str, Any] = {"DataType": value.get("dataType") or value.get("DataType") or "String"}
        if "stringValue" in value:
            entry["StringValue"] = value["stringValue"]
        elif "binaryValue" in value:
            entry["BinaryValue"] = _unb64(value["binaryValue"])
        else:
            continue
        attributes[name] = entry
    return attributes


def reported_failures(  # noqa: PLR0911 - one return per rule of Lambda's
    response: Any, ids: Sequence[str]
) -> Optional[Set[str]]:
    """The ids a ``batchItemFailures`` response reports; ``None`` when it is malformed (the batch fails).

    A response that is not a JSON object, or has no ``batchItemFailures``, reports nothing.
    An identifier that is empty, not a string or not in the batch makes it malformed.
    """
    if isinstance(response, (str, bytes)):
        try:
            response = json.loads(response)
        except ValueError:
            return set()  # not JSON of an object: Lambda reads no failures from it
    if not isinstance(response, dict):
        return set()
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    known = set(ids)
    reported: Set[str] = set()
    for item in failures:
        if not isinstance(item, dict):
            return None
        identifier = item.get("itemIdentifier")
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return None
        reported.add(identifier)
    return reported


def returned_ids(
    ids: Sequence[str], *, ok: bool, response: Any, report_batch_item_failures: bool
) -> List[str]:
    """The ids of ``ids`` Lambda returns to the queue after an invocation (it deletes the others).

    ``ok`` is false when the function raised or timed out: nothing is deleted.
    """
    if not ok:
        return list(ids)
    if not report_batch_item_failures:
        return []
    failures = reported_failures(response, ids)
    if failures is None:
        return list(ids)
    return [i for i in ids if i in failures]


def _b64(data: Any) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(bytes(data)).decode("ascii")


def _unb64(text: Any) -> bytes:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        return str(text).encode()
