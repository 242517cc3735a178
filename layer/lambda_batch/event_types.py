"""The kinds of Lambda event a partial batch processor handles."""

from __future__ import annotations

from enum import Enum

from .event_specs import EVENT_SPECS, EventSpec


class EventType(Enum):
    """The event source a :class:`~lambda_batch.BatchProcessor` reads.

    Each kind is a row of :data:`~lambda_batch.event_specs.EVENT_SPECS` (its ``spec``): where
    a record's item identifier lives (an SQS message's ``messageId``, a Kinesis record's
    ``kinesis.sequenceNumber``, a DynamoDB stream record's ``dynamodb.SequenceNumber``, a
    Kafka record's topic-partition and offset: see :mod:`lambda_batch.kafka_records`), its
    ordering key and its record class.

    Example::

        from lambda_batch import BatchProcessor, EventType

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    """

    SQS = "SQS"
    KinesisDataStreams = "KinesisDataStreams"
    DynamoDBStreams = "DynamoDBStreams"
    Kafka = "Kafka"

    @property
    def spec(self) -> EventSpec:
        """This kind's row of the event-spec table (id field, ordering key, failure identifier...)."""
        return EVENT_SPECS[self._value_]

    @property
    def event_source(self) -> str:
        """The ``eventSource`` every record of this kind carries (``aws:sqs``...)."""
        return EVENT_SPECS[self._value_].event_sources[0]

    @property
    def is_stream(self) -> bool:
        """True for Kinesis, DynamoDB and Kafka streams, where Lambda checkpoints at the lowest failure."""
        return EVENT_SPECS[self._value_].stream
