"""The kinds of Lambda event a partial batch processor handles."""

from __future__ import annotations

from enum import Enum


class EventType(Enum):
    """The event source a :class:`~lambda_batch.BatchProcessor` reads.

    Each kind names where a record's item identifier lives: an SQS message's
    ``messageId``, a Kinesis record's ``kinesis.sequenceNumber``, a DynamoDB stream
    record's ``dynamodb.SequenceNumber``, a Kafka record's topic-partition and offset
    (Amazon MSK and self-managed Kafka: see :mod:`lambda_batch.kafka_records`).

    Example::

        from lambda_batch import BatchProcessor, EventType

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    """

    SQS = "SQS"
    KinesisDataStreams = "KinesisDataStreams"
    DynamoDBStreams = "DynamoDBStreams"
    Kafka = "Kafka"

    @property
    def event_source(self) -> str:
        """The ``eventSource`` every record of this kind carries (``aws:sqs``...)."""
        return _EVENT_SOURCES[self]

    @property
    def is_stream(self) -> bool:
        """True for Kinesis, DynamoDB and Kafka streams, where Lambda checkpoints at the lowest failure."""
        return self is not EventType.SQS


_EVENT_SOURCES = {
    EventType.SQS: "aws:sqs",
    EventType.KinesisDataStreams: "aws:kinesis",
    EventType.DynamoDBStreams: "aws:dynamodb",
    EventType.Kafka: "aws:kafka",  # or SelfManagedKafka: see kafka_records.KAFKA_EVENT_SOURCES
}
