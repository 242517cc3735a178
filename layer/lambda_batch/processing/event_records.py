"""The record objects a record handler receives: a dict, with attributes as well.

Each record is a ``dict`` subclass holding the record's own keys, so code written for
plain dicts keeps working (``record["body"]``, ``json.dumps(record)``, ``record == raw``),
and it also answers the attributes of Powertools for AWS Lambda's event source data
classes (``record.body``, ``record.json_body``, ``record.kinesis.data_as_json()``,
``record.dynamodb.new_image``...), under the same names and with the same return types.
It holds the event record's top-level keys (a shallow copy made once per record, before
the handler runs): the nested values are the event's own, and keys the handler sets or
deletes on it do not reach ``event["Records"]``.

Example::

    from lambda_batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

    def record_handler(record):
        order = record.kinesis.data_as_json()  # or json.loads(b64decode(record["kinesis"]["data"]))
        save(order, position=record.kinesis.sequence_number)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from operator import itemgetter, methodcaller

from .event_types import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

    # DynamoDB Streams record objects live in dynamodb_records, loaded with the first DynamoDB
    # batch (or the first use of these names from here).
    from .dynamodb_records import DynamoDBRecord, DynamoDBRecordEventName, StreamRecord, StreamViewType

    _RecordDict = Dict[str, Any]
    _ReadOnlyMapping = Mapping[str, Any]
else:
    _RecordDict = dict
    _ReadOnlyMapping = Mapping


def _key(name: str, doc: str) -> Any:
    # A property read by a C-level getter: no Python frame per access.
    return property(itemgetter(name), doc=doc)


def _optional(name: str, doc: str) -> Any:
    # The same for a key that may be absent (None then).
    return property(methodcaller("get", name), doc=doc)


class _Dict(_RecordDict):
    __slots__ = ()

    @property
    def raw_event(self) -> Dict[str, Any]:
        """The keys as a plain dict."""
        return dict(self)


class _Record(_Dict):
    __slots__ = ()

    event_source = _optional("eventSource", "Where the record comes from: ``aws:sqs``, ``aws:kinesis``...")
    event_source_arn = _optional("eventSourceARN", "The ARN of the queue or stream the record comes from.")
    aws_region = _optional("awsRegion", "The region of the event source, e.g. ``us-east-1``.")


# -- SQS ---------------------------------------------------------------------------------


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

    >>> record = SQSRecord({"messageId": "m-1", "body": '{"n": 1}'})
    >>> record.message_id, record.json_body, record["body"]
    ('m-1', {'n': 1}, '{"n": 1}')
    """

    __slots__ = ("_json_body",)

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
        from ..core.arns import sqs_queue_url

        return sqs_queue_url(self["eventSourceARN"])


# -- Kinesis -----------------------------------------------------------------------------


class KinesisStreamRecordPayload(_Dict):
    """The ``kinesis`` part of a Kinesis record: the data and its position in the stream."""

    __slots__ = ()

    data = _key("data", "The data, base64-encoded as the event carries it.")
    partition_key = _key("partitionKey", "The partition key it was put with.")
    sequence_number = _key("sequenceNumber", "Its position in its shard.")
    kinesis_schema_version = _key("kinesisSchemaVersion", "The schema version.")

    @property
    def approximate_arrival_timestamp(self) -> float:
        """When the record reached the stream (epoch seconds)."""
        return float(self["approximateArrivalTimestamp"])

    def data_as_bytes(self) -> bytes:
        """The data, decoded from base64."""
        from base64 import b64decode

        return b64decode(self["data"])

    def data_as_text(self) -> str:
        """The data as UTF-8 text."""
        return self.data_as_bytes().decode("utf-8")

    def data_as_json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data_as_text())

    def data_zlib_compressed_as_json(self) -> Any:
        """The data decompressed (zlib or gzip, as from CloudWatch Logs) and parsed as JSON."""
        import zlib

        return json.loads(zlib.decompress(self.data_as_bytes(), zlib.MAX_WBITS | 32))


class KinesisStreamRecord(_Record):
    """A Kinesis Data Streams record, as Lambda delivers it.

    >>> KinesisStreamRecord({"kinesis": {"data": "eyJuIjogMX0="}}).kinesis.data_as_json()
    {'n': 1}
    """

    __slots__ = ()

    event_id = _key("eventID", "``<shard id>:<sequence number>``.")
    event_name = _key("eventName", "``aws:kinesis:record``.")
    event_version = _key("eventVersion", "The event format version.")
    invoke_identity_arn = _key("invokeIdentityArn", "The role Lambda read with.")

    @property
    def kinesis(self) -> KinesisStreamRecordPayload:
        """The data and its position: ``data_as_json()``, ``sequence_number``, ``partition_key``..."""
        return KinesisStreamRecordPayload(self["kinesis"])


def record_class(event_type: EventType) -> Optional[Callable[[Any], Any]]:
    """The record class a handler of ``event_type`` receives; ``None`` for a kind without one.

    >>> record_class(EventType.SQS).__name__
    'SQSRecord'
    """
    module, name = event_type.spec.record_class  # the event-spec table
    if module == ".event_records":
        return globals().get(name)
    from importlib import import_module  # its own module (DynamoDB, Kafka): loaded with the first batch

    return getattr(import_module(module, __package__), name)  # type: ignore[no-any-return]


_DYNAMODB_NAMES = frozenset({"DynamoDBRecord", "DynamoDBRecordEventName", "StreamRecord", "StreamViewType"})


def __getattr__(name: str) -> Any:
    """The DynamoDB Streams record objects, still importable from here, loaded on first use."""
    if name in _DYNAMODB_NAMES:
        from . import dynamodb_records

        return getattr(dynamodb_records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DynamoDBRecord",
    "DynamoDBRecordEventName",
    "KinesisStreamRecord",
    "KinesisStreamRecordPayload",
    "SQSMessageAttribute",
    "SQSMessageAttributes",
    "SQSRecord",
    "SQSRecordAttributes",
    "StreamRecord",
    "StreamViewType",
    "record_class",
]
