"""lambda_batch: send to AWS in full batches, and process Lambda batches record by record.

Everything public is importable from here; modules load on first use, so
``import lambda_batch`` costs almost nothing and never imports boto3.

Example::

    from lambda_batch import sqs_batch_processor

    def record_handler(record):
        return do_something_with(record["body"])

    @sqs_batch_processor(record_handler=record_handler)
    def lambda_handler(event, context):
        return {"statusCode": 200}
"""

from __future__ import annotations

import importlib

# typing.TYPE_CHECKING without importing typing: importing typing is most of this package's cold-start cost.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

__version__ = "0.1.0"

# Public name -> module that defines it (relative to this package).
_EXPORTS: Dict[str, str] = {
    # shared
    "Deadline": ".core.deadline",
    "RetryPolicy": ".core.retry",
    "LambdaBatchError": ".errors",
    "MalformedEventError": ".errors",
    "ConfigurationError": ".errors",
    "PayloadError": ".errors",
    "BatchProcessingError": ".errors",
    "SQSBatchProcessingError": ".errors",
    "LargePayloadError": ".errors",
    # partial processing
    "BasePartialProcessor": ".processing.base",
    "batch_processor": ".processing.base",
    "PartialSQSProcessor": ".processing.sqs_processor",
    "sqs_batch_processor": ".processing.sqs_processor",
    "BatchProcessor": ".processing.batch_processor",
    "AsyncBatchProcessor": ".processing.batch_processor",
    "SqsFifoPartialProcessor": ".processing.batch_processor",
    "async_process_partial_response": ".processing.batch_processor",
    "async_batch_processor": ".processing.base",
    "EventType": ".processing.events.spec",
    "process_partial_response": ".processing.batch_processor",
    "RecordSkippedError": ".errors",
    "PreviousRecordFailedError": ".errors",
    "DeadlineReachedError": ".errors",
    "RetryDelay": ".processing.features.retry_delays",
    "Idempotency": ".processing.features.idempotency_options",
    "IdempotencyError": ".errors",
    "RecordInProgressError": ".errors",
    # record objects the record handler receives
    "SQSRecord": ".processing.events.sqs",
    "KinesisStreamRecord": ".processing.events.kinesis",
    "DynamoDBRecord": ".processing.events.dynamodb",
    "DynamoDBRecordEventName": ".processing.events.dynamodb",
    "StreamViewType": ".processing.events.dynamodb",
    "KafkaEventRecord": ".processing.events.kafka",
    # type names processors are annotated with
    "ExceptionInfo": ".types",
    "SuccessResponse": ".types",
    "FailureResponse": ".types",
    "PartialItemFailureResponse": ".types",
    # dispatchers
    "BaseDispatcher": ".engine.dispatcher",
    "SQSBatchDispatcher": ".dispatchers.sqs",
    "SQSFifoBatchDispatcher": ".dispatchers.sqs",
    "SNSBatchDispatcher": ".dispatchers.sns",
    "KinesisBatchDispatcher": ".dispatchers.kinesis",
    "FirehoseBatchDispatcher": ".dispatchers.firehose",
    "DynamoBatchDispatcher": ".dispatchers.dynamodb",
    "CloudwatchBatchDispatcher": ".dispatchers.cloudwatch",
    "cloudwatch_dimension": ".dispatchers.cloudwatch",
    "EventBridgeBatchDispatcher": ".dispatchers.eventbridge",
    "DispatcherStats": ".engine.ledger",
    "UnprocessedItem": ".core.unprocessed",
}

__all__ = [
    "AsyncBatchProcessor",
    "BaseDispatcher",
    "BasePartialProcessor",
    "BatchProcessingError",
    "BatchProcessor",
    "CloudwatchBatchDispatcher",
    "ConfigurationError",
    "Deadline",
    "DeadlineReachedError",
    "DispatcherStats",
    "DynamoBatchDispatcher",
    "EventBridgeBatchDispatcher",
    "EventType",
    "FirehoseBatchDispatcher",
    "Idempotency",
    "IdempotencyError",
    "KinesisBatchDispatcher",
    "LambdaBatchError",
    "LargePayloadError",
    "MalformedEventError",
    "PartialSQSProcessor",
    "PayloadError",
    "PreviousRecordFailedError",
    "RecordInProgressError",
    "RecordSkippedError",
    "RetryDelay",
    "RetryPolicy",
    "SNSBatchDispatcher",
    "SQSBatchDispatcher",
    "SQSBatchProcessingError",
    "SQSFifoBatchDispatcher",
    "SqsFifoPartialProcessor",
    "UnprocessedItem",
    "DynamoDBRecord",
    "DynamoDBRecordEventName",
    "KafkaEventRecord",
    "KinesisStreamRecord",
    "SQSRecord",
    "StreamViewType",
    "ExceptionInfo",
    "FailureResponse",
    "PartialItemFailureResponse",
    "SuccessResponse",
    "async_batch_processor",
    "async_process_partial_response",
    "batch_processor",
    "cloudwatch_dimension",
    "process_partial_response",
    "sqs_batch_processor",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .core.deadline import Deadline
    from .core.retry import RetryPolicy
    from .core.unprocessed import UnprocessedItem
    from .dispatchers.cloudwatch import CloudwatchBatchDispatcher, cloudwatch_dimension
    from .dispatchers.dynamodb import DynamoBatchDispatcher
    from .dispatchers.eventbridge import EventBridgeBatchDispatcher
    from .dispatchers.firehose import FirehoseBatchDispatcher
    from .dispatchers.kinesis import KinesisBatchDispatcher
    from .dispatchers.sns import SNSBatchDispatcher
    from .dispatchers.sqs import SQSBatchDispatcher, SQSFifoBatchDispatcher
    from .engine.dispatcher import BaseDispatcher
    from .engine.ledger import DispatcherStats
    from .errors import (
        BatchProcessingError,
        ConfigurationError,
        DeadlineReachedError,
        IdempotencyError,
        LambdaBatchError,
        LargePayloadError,
        MalformedEventError,
        PayloadError,
        PreviousRecordFailedError,
        RecordInProgressError,
        RecordSkippedError,
        SQSBatchProcessingError,
    )
    from .processing.base import BasePartialProcessor, async_batch_processor, batch_processor
    from .processing.batch_processor import (
        AsyncBatchProcessor,
        BatchProcessor,
        SqsFifoPartialProcessor,
        async_process_partial_response,
        process_partial_response,
    )
    from .processing.events.dynamodb import DynamoDBRecord, DynamoDBRecordEventName, StreamViewType
    from .processing.events.kafka import KafkaEventRecord
    from .processing.events.kinesis import KinesisStreamRecord
    from .processing.events.spec import EventType
    from .processing.events.sqs import SQSRecord
    from .processing.features.idempotency_options import Idempotency
    from .processing.features.retry_delays import RetryDelay
    from .processing.sqs_processor import PartialSQSProcessor, sqs_batch_processor
    from .types import ExceptionInfo, FailureResponse, PartialItemFailureResponse, SuccessResponse


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lambda_batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
