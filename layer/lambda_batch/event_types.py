"""The kinds of Lambda event a partial batch processor handles."""

from __future__ import annotations

from enum import Enum


class EventType(Enum):
    """The event source a :class:`~lambda_batch.BatchProcessor` reads.

    Each kind names where a record's item identifier lives: an SQS message's
    ``messageId``, a Kinesis record's ``kinesis.sequenceNumber``, a DynamoDB stream
    record's ``dynamodb.SequenceNumber``.

    Example::

        from lambda_batch import BatchProcessor, EventType

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    """

    SQS = "SQS"
    KinesisDataStreams = "KinesisDataStreams"
    DynamoDBStreams = "DynamoDBStreams"

    @property
    def event_source(self) -> str:
        """The ``eventSource`` every record of this kind carries (``aws:sqs``...)."""
        return _EVENT_SOURCES[self]

    @property
    def is_stream(self) -> bool:
        """True for Kinesis and DynamoDB streams, where Lambda checkpoints at the lowest failure."""
        return self is not EventType.SQS


_EVENT_SOURCES = {
    EventType.SQS: "aws:sqs",
    EventType.KinesisDataStreams: "aws:kinesis",
    EventType.DynamoDBStreams: "aws:dynamodb",
}
