"""Ordering rules: which later records a failure holds back, and which records keep their order.

* Standard SQS: records are independent; a failure holds nothing back.
* SQS FIFO (a queue ARN ending in ``.fifo``): order holds per message group. By default
  the first failure stops the batch and every later record is returned unprocessed;
  with ``skip_group_on_error`` only the later records of the failed group are returned.
* Kinesis and DynamoDB streams: order holds per shard (Kafka: per topic-partition). Lambda checkpoints at the
  lowest failed sequence number and redelivers everything after it, so
  ``stop_on_first_failure`` saves work that would be redone.
"""

from __future__ import annotations

from .event_types import KINESIS_SHARD, MESSAGE_GROUP, STREAM_SHARD, TOPIC_PARTITION, EventType
from .records import is_fifo_queue_arn, message_group_id, shard_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Hashable, Mapping, Optional, Sequence

    KeyFunction = Callable[[Mapping[str, Any]], Hashable]

#: A failure holds nothing back.
CONTINUE = "continue"
#: A failure returns every later record of the batch unprocessed.
STOP_BATCH = "stop-batch"
#: A failure returns the later records that share its ordering key.
SKIP_KEY = "skip-key"


class Ordering:
    """The rule for one batch.

    ``key`` maps a record to its ordering key (records with equal keys keep their
    relative order under concurrency); ``None`` means every record stands alone.
    ``on_failure`` is :data:`CONTINUE`, :data:`STOP_BATCH` or :data:`SKIP_KEY`;
    ``fifo`` says the batch comes from an SQS FIFO queue.
    """

    __slots__ = ("fifo", "key", "on_failure")

    def __init__(self, on_failure: str, key: Optional[KeyFunction], fifo: bool) -> None:
        self.on_failure = on_failure
        self.key = key
        self.fifo = fifo

    def __repr__(self) -> str:
        return f"Ordering(on_failure={self.on_failure!r}, fifo={self.fifo})"


def _fifo_group_key(record: Mapping[str, Any]) -> Hashable:
    return (record.get("eventSourceARN"), message_group_id(record))


def _kinesis_shard_key(record: Mapping[str, Any]) -> Hashable:
    return shard_id(record, EventType.KinesisDataStreams)


def _dynamodb_shard_key(record: Mapping[str, Any]) -> Hashable:
    return shard_id(record, EventType.DynamoDBStreams)


def _kafka_partition_key(record: Mapping[str, Any]) -> Hashable:
    return (record.get("topic"), str(record.get("partition")))


#: The default ordering key of each kind of stream (``EventSpec.ordering``).
DEFAULT_KEYS: Dict[str, KeyFunction] = {
    KINESIS_SHARD: _kinesis_shard_key,
    STREAM_SHARD: _dynamodb_shard_key,
    TOPIC_PARTITION: _kafka_partition_key,
}


def _any_fifo(records: Sequence[Mapping[str, Any]]) -> bool:
    try:
        arns = {record.get("eventSourceARN") for record in records}  # usually one queue
    except TypeError:  # an unhashable ARN: not a queue ARN anyway
        arns = {arn for arn in (record.get("eventSourceARN") for record in records) if isinstance(arn, str)}
    return any(is_fifo_queue_arn(arn) for arn in arns)


def ordering_for(
    event_type: EventType,
    records: Sequence[Mapping[str, Any]],
    *,
    skip_group_on_error: bool = False,
    stop_on_first_failure: bool = False,
    concurrency_key: Optional[KeyFunction] = None,
    always_fifo: bool = False,
) -> Ordering:
    """The ordering rule for ``records`` (already validated) of ``event_type``.

    ``concurrency_key`` replaces the default key (message group, shard) for
    standard queues and streams; FIFO queues always order by message group.
    ``always_fifo`` treats an SQS batch as FIFO whatever its queue ARN says.

    >>> ordering_for(EventType.SQS, [{"eventSourceARN": "arn:aws:sqs:r:1:q.fifo"}]).on_failure
    'stop-batch'
    """
    ordering = event_type.spec.ordering  # the event-spec table
    if ordering == MESSAGE_GROUP:  # SQS: FIFO queues keep order per message group
        if always_fifo or _any_fifo(records):
            return Ordering(SKIP_KEY if skip_group_on_error else STOP_BATCH, _fifo_group_key, True)
        return Ordering(STOP_BATCH if stop_on_first_failure else CONTINUE, concurrency_key, False)
    default_key = DEFAULT_KEYS[ordering]
    return Ordering(
        STOP_BATCH if stop_on_first_failure else CONTINUE,
        concurrency_key if concurrency_key is not None else default_key,
        False,
    )
