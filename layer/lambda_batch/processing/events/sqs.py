"""SQS records: the record objects of an SQS batch, its message groups and FIFO queues.

Example:
    ```python
    def record_handler(record):           # an SQSRecord: a dict with attributes
        order = record.json_body
        save(order, receive_count=record.attributes.approximate_receive_count)
    ```
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .record import _Dict, _key, _optional, _Record, _RecordDict

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Optional


class SQSRecordAttributes(_Dict):
    """The system attributes of an SQS message (``record.attributes``); every value is a string."""

    __slots__ = ()

    aws_trace_header = _optional("AWSTraceHeader", "The X-Ray trace header.")
    approximate_receive_count = _key("ApproximateReceiveCount", "How many times the message was received.")
    sent_timestamp = _key("SentTimestamp", "When it was sent (epoch ms).")
    sender_id = _key("SenderId", "The IAM user or role id of the sender.")
    approximate_first_receive_timestamp = _key(
        "ApproximateFirstReceiveTimestamp", "When it was first received (epoch ms)."
    )
    sequence_number = _optional("SequenceNumber", "FIFO: its sequence number.")
    message_group_id = _optional("MessageGroupId", "FIFO: its message group.")
    message_deduplication_id = _optional("MessageDeduplicationId", "FIFO: its deduplication id.")
    dead_letter_queue_source_arn = _optional(
        "DeadLetterQueueSourceArn", "On a dead-letter queue: the source queue."
    )


class SQSMessageAttribute(_Dict):
    """One user-defined message attribute: ``string_value``, ``binary_value`` (base64), ``data_type``."""

    __slots__ = ()

    string_value = _optional("stringValue", "The value of a String or Number (``None`` for a Binary).")
    binary_value = _optional("binaryValue", "The base64 value of a Binary (``None`` otherwise).")
    data_type = _key("dataType", "``String``, ``Number`` or ``Binary``.")


class SQSMessageAttributes(_RecordDict):
    """The message attributes by name; a missing name gives ``None`` rather than ``KeyError``."""

    __slots__ = ()

    def __getitem__(self, name: str) -> Optional[SQSMessageAttribute]:
        value = self.get(name)
        return None if value is None else SQSMessageAttribute(value)

    def items(self) -> Any:
        """``(name, SQSMessageAttribute)`` pairs."""
        return {name: SQSMessageAttribute(value) for name, value in super().items()}.items()


class SQSRecord(_Record):
    """An SQS message, as Lambda delivers it.

    Example:
        ```python
        record = SQSRecord({"messageId": "m-1", "body": '{"n": 1}'})
        record.message_id, record.json_body, record["body"]
        # ('m-1', {'n': 1}, '{"n": 1}')
        ```
    """

    __slots__ = ("_json_body",)
    _repr_keys = (("message_id", "messageId"),)

    message_id = _key("messageId", "The message's id.")
    receipt_handle = _key("receiptHandle", "The handle a delete needs.")
    body = _key("body", "The message body, as sent.")
    md5_of_body = _key("md5OfBody", "The MD5 digest of the body.")

    @property
    def json_body(self) -> Any:
        """The body parsed as JSON (parsed once, on first use)."""
        try:
            return self._json_body
        except AttributeError:
            self._json_body: Any = json.loads(self["body"])
            return self._json_body

    @property
    def attributes(self) -> SQSRecordAttributes:
        """The message's system attributes (``approximate_receive_count``, ``message_group_id``...)."""
        return SQSRecordAttributes(self["attributes"])

    @property
    def message_attributes(self) -> SQSMessageAttributes:
        """The message's user-defined attributes, by name."""
        return SQSMessageAttributes(self["messageAttributes"])

    @property
    def queue_url(self) -> str:
        """The URL of the queue the message was received from, built from ``eventSourceARN``."""
        from ...core.arns import sqs_queue_url

        return sqs_queue_url(self["eventSourceARN"])


def is_fifo_queue_arn(arn: Any) -> bool:
    """True when ``arn`` names an SQS FIFO queue (its name ends in ``.fifo``).

    Example:
        ```python
        is_fifo_queue_arn("arn:aws:sqs:eu-west-1:123456789012:orders.fifo")  # True
        ```
    """
    return isinstance(arn, str) and arn.endswith(".fifo")


def message_group_id(record: Mapping[str, Any]) -> Optional[str]:
    """The ``MessageGroupId`` of an SQS FIFO record, or ``None``."""
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping):
        value = attributes.get("MessageGroupId")
        if isinstance(value, str):
            return value
    return None


def fifo_group_key(record: Mapping[str, Any]) -> Any:
    """The ordering key of a FIFO record: its queue ARN and its message group."""
    return (record.get("eventSourceARN"), message_group_id(record))


__all__ = [
    "SQSMessageAttribute",
    "SQSMessageAttributes",
    "SQSRecord",
    "SQSRecordAttributes",
    "fifo_group_key",
    "is_fifo_queue_arn",
    "message_group_id",
]
