"""StreamConsumerFunction: each record of a stream batch handled on its own; only the failures go back.

Its event source in the stack is the Kinesis stream (``EventStream``, with ``EnableKinesis=true``):
Lambda reads ``batchItemFailures`` (``ReportBatchItemFailures``) and retries from the first failed
record. The same handler takes the other stream shapes the layer reads, told apart by the event:
DynamoDB Streams, Amazon MSK and self-managed Kafka, and EventBridge Pipes batches (a JSON array
of the source's records), so every sample of ``events/`` runs through ``make invoke-local``.

A record fails when its payload is JSON with ``"poison": true`` (the producer's mark); logs carry
the record's id and the reason, never its data.

Example event: ``events/kinesis-kpl-aggregated.json`` (KPL aggregates, de-aggregated by the layer).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, Dict, Optional

from aws_lambda_powertools import Logger

from lambda_batch import BatchProcessor, EventType, process_partial_response

logger = Logger()

#: The layer's event type of each source (Lambda's eventSource values; Pipes records carry the same).
EVENT_TYPES = {
    "aws:kinesis": EventType.KinesisDataStreams,
    "aws:dynamodb": EventType.DynamoDBStreams,
    "aws:kafka": EventType.Kafka,
    "SelfManagedKafka": EventType.Kafka,
    "aws:SelfManagedKafka": EventType.Kafka,
    "aws:sqs": EventType.SQS,
}
_PROCESSORS: Dict[Any, BatchProcessor] = {}


class PoisonRecordError(ValueError):
    """The record's payload is marked ``"poison": true``."""


def event_type_of(event: Any) -> Any:
    """The layer's event type for ``event``: by its own ``eventSource``, a Pipes batch's records', or
    its records'. Anything else is left to the processor of Kinesis, which refuses it as malformed."""
    if isinstance(event, list):
        first = event[0] if event and isinstance(event[0], dict) else {}
        return EVENT_TYPES.get(str(first.get("eventSource")), EventType.KinesisDataStreams)
    if isinstance(event, dict):
        if "eventSource" in event:
            return EVENT_TYPES.get(str(event["eventSource"]), EventType.Kafka)
        records = event.get("Records")
        if isinstance(records, list) and records and isinstance(records[0], dict):
            return EVENT_TYPES.get(str(records[0].get("eventSource")), EventType.KinesisDataStreams)
    return EventType.KinesisDataStreams


def _payload(record: Any) -> Optional[bytes]:
    """The record's data as bytes (Kinesis data, a Kafka value), or None (a DynamoDB change)."""
    value = getattr(record, "value", None)  # a Kafka record: base64 text
    if value is None and isinstance(record, Mapping):
        value = (record.get("kinesis") or {}).get("data")
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value)
    except ValueError:
        return None


def record_id(record: Any) -> str:
    """What the record is known by in logs: its sequence number, eventID, or topic-partition and offset."""
    if isinstance(record, Mapping):
        return str((record.get("kinesis") or {}).get("sequenceNumber") or record.get("eventID") or "?")
    topic, partition = getattr(record, "topic", "?"), getattr(record, "partition", "?")
    return f"{topic}-{partition}@{getattr(record, 'offset', '?')}"


def record_handler(record: Any) -> None:
    """Handle one record; raise to have it reported as failed."""
    data = _payload(record)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None  # not JSON: fine, a stream carries any bytes
    if isinstance(parsed, dict) and parsed.get("poison") is True:
        logger.warning("record rejected", extra={"record": record_id(record), "reason": "poison"})
        raise PoisonRecordError("marked poison")
    logger.debug("record handled", extra={"record": record_id(record)})


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    """Every record on its own; the failures as ``batchItemFailures``."""
    event_type = event_type_of(event)
    processor = _PROCESSORS.get(event_type)
    if processor is None:
        processor = _PROCESSORS[event_type] = BatchProcessor(event_type=event_type)
    return dict(process_partial_response(event, record_handler, processor, context))
