"""The kinds of Lambda event a partial batch processor handles, described by one table.

Each `EventType` is a row of `EVENT_SPECS` (its ``spec``), not a branch in the code.

Each row says, for one kind (keyed by the enum's value):

- ``event_sources``: the ``eventSource`` its records carry (the first is the canonical one);
- ``id_path``: where a record's item identifier lives (``messageId``, ``kinesis.sequenceNumber``...),
  or ``()`` when the kind computes its identifiers itself (Kafka: topic-partition and offset);
- ``failure_identifier``: what Lambda expects back in ``batchItemFailures``;
- ``ordering``: the default ordering key of its records (``message-group`` for FIFO queues, else
  the shard or partition a record came from); ``shard_in_event_id``: Kinesis writes the shard
  at the front of ``eventID``;
- ``record_class``: the module and class the handler receives (imported with the first batch);
  ``group_key``: the module and function giving a FIFO record's ordering key (SQS);
- ``stream``: Lambda checkpoints at the lowest failure (streams), rather than returning each
  failed message to its queue;
- ``records_key``: the event's key that holds the records (``Records``; ``records`` for Kafka,
  an object of lists by topic-partition, ``grouped_records``);
- ``kpl_aggregates``: records may be KPL aggregates, de-aggregated before the handler (Kinesis);
  ``own_identifiers``: the kind computes its identifiers itself (Kafka); either makes the batch
  ``prepared`` by ``events.prepare`` rather than only validated.

Example:
    ```python
    EventType.KinesisDataStreams.spec.id_field     # 'kinesis.sequenceNumber'
    ```
"""

from __future__ import annotations

from enum import Enum

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Dict, Optional, Tuple


class EventSpec:
    """One row of the table: how records of one event type look, fail and keep order."""

    __slots__ = (
        "event_sources",
        "failure_identifier",
        "group_key",
        "grouped_records",
        "id_field",
        "id_path",
        "kpl_aggregates",
        "name",
        "ordering",
        "own_identifiers",
        "prepared",
        "record_class",
        "records_key",
        "shard_in_event_id",
        "stream",
    )

    def __init__(
        self,
        name: str,
        *,
        event_sources: Tuple[str, ...],
        id_path: Tuple[str, ...],
        failure_identifier: str,
        ordering: str,
        record_class: Tuple[str, str],
        group_key: Optional[Tuple[str, str]] = None,
        stream: bool,
        shard_in_event_id: bool = False,
        kpl_aggregates: bool = False,
        records_key: str = "Records",
        grouped_records: bool = False,
    ) -> None:
        self.name = name
        self.records_key = records_key
        self.grouped_records = grouped_records
        self.event_sources = event_sources
        self.id_path = id_path
        self.id_field = ".".join(id_path) if id_path else failure_identifier
        self.failure_identifier = failure_identifier
        self.ordering = ordering
        self.record_class = record_class
        self.group_key = group_key
        self.stream = stream
        self.shard_in_event_id = shard_in_event_id
        self.kpl_aggregates = kpl_aggregates
        self.own_identifiers = not id_path
        self.prepared = kpl_aggregates or self.own_identifiers

    def __repr__(self) -> str:
        return f"EventSpec({self.name!r}, id_field={self.id_field!r}, ordering={self.ordering!r})"


#: Ordering keys (``EventSpec.ordering``): see ``ordering.DEFAULT_KEYS``.
MESSAGE_GROUP = "message-group"
KINESIS_SHARD = "kinesis-shard"  # the shard id at the front of eventID
STREAM_SHARD = "stream-shard"  # a DynamoDB stream batch comes from one shard of its eventSourceARN
TOPIC_PARTITION = "topic-partition"

EVENT_SPECS: Dict[str, EventSpec] = {
    spec.name: spec
    for spec in (
        EventSpec(
            "SQS",
            event_sources=("aws:sqs",),
            id_path=("messageId",),
            failure_identifier="messageId",
            ordering=MESSAGE_GROUP,  # FIFO queues only; a standard queue's records stand alone
            record_class=(".sqs", "SQSRecord"),
            group_key=(".sqs", "fifo_group_key"),  # FIFO queues: (queue ARN, message group)
            stream=False,
        ),
        EventSpec(
            "KinesisDataStreams",
            event_sources=("aws:kinesis",),
            id_path=("kinesis", "sequenceNumber"),
            failure_identifier="kinesis.sequenceNumber",
            ordering=KINESIS_SHARD,
            record_class=(".kinesis", "KinesisStreamRecord"),
            stream=True,
            shard_in_event_id=True,
            kpl_aggregates=True,
        ),
        EventSpec(
            "DynamoDBStreams",
            event_sources=("aws:dynamodb",),
            id_path=("dynamodb", "SequenceNumber"),
            failure_identifier="dynamodb.SequenceNumber",
            ordering=STREAM_SHARD,
            record_class=(".dynamodb", "DynamoDBRecord"),
            stream=True,
        ),
        EventSpec(
            "Kafka",
            event_sources=("aws:kafka", "SelfManagedKafka", "aws:SelfManagedKafka"),
            id_path=(),  # events.kafka.kafka_ids: topic-partition and offset
            failure_identifier="topic-partition and offset",
            ordering=TOPIC_PARTITION,
            record_class=(".kafka", "KafkaEventRecord"),
            stream=True,
            records_key="records",  # {"<topic>-<partition>": [record, ...], ...}
            grouped_records=True,
        ),
    )
}


def spec_of(name: str) -> EventSpec:
    """The row of an event type's value (``"SQS"``...); KeyError for an unknown one."""
    return EVENT_SPECS[name]


class EventType(Enum):
    """The event source a `BatchProcessor` reads.

    Each kind is a row of `EVENT_SPECS` (its ``spec``): where
    a record's item identifier lives (an SQS message's ``messageId``, a Kinesis record's
    ``kinesis.sequenceNumber``, a DynamoDB stream record's ``dynamodb.SequenceNumber``, a
    Kafka record's topic-partition and offset: see `lambda_batch.processing.events.kafka`), its
    ordering key and its record class.

    Example:
        ```python
        from lambda_batch import BatchProcessor, EventType

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
        ```
    """

    SQS = "SQS"
    KinesisDataStreams = "KinesisDataStreams"
    DynamoDBStreams = "DynamoDBStreams"
    Kafka = "Kafka"

    #: This kind's row of the event-spec table (id field, ordering key, failure identifier...).
    spec: EventSpec
    #: The ``eventSource`` every record of this kind carries (``aws:sqs``...).
    event_source: str
    #: True for Kinesis, DynamoDB and Kafka streams, where Lambda checkpoints at the lowest failure.
    is_stream: bool

    def __init__(self, value: str) -> None:
        # Plain attributes read from the table once: no function call on the hot path.
        row = EVENT_SPECS[value]
        self.spec = row
        self.event_source = row.event_sources[0]
        self.is_stream = row.stream


__all__ = [
    "EVENT_SPECS",
    "KINESIS_SHARD",
    "MESSAGE_GROUP",
    "STREAM_SHARD",
    "TOPIC_PARTITION",
    "EventSpec",
    "EventType",
    "spec_of",
]
