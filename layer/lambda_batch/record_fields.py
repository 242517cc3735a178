"""The building blocks of the record objects: a dict subclass whose attributes read its keys.

Each attribute is a ``property`` over a C-level getter (``itemgetter`` / ``methodcaller``), so
reading ``record.body`` costs no Python frame. :mod:`lambda_batch.event_records` builds the
SQS and Kinesis record classes on these, :mod:`lambda_batch.dynamodb_records` the DynamoDB
Streams ones, :mod:`lambda_batch.kafka_records` Kafka's.

Example::

    class Message(_Record):
        __slots__ = ()
        body = _key("body", "The message body.")
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter, methodcaller

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict

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


__all__ = ["_Dict", "_ReadOnlyMapping", "_Record", "_RecordDict", "_key", "_optional"]
