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
    "Deadline": ".deadline",
    "RetryPolicy": ".retry",
    "LambdaBatchError": ".exceptions",
    "MalformedEventError": ".exceptions",
    "ConfigurationError": ".exceptions",
    "PayloadError": ".exceptions",
    "BatchProcessingError": ".exceptions",
    "SQSBatchProcessingError": ".exceptions",
    "LargePayloadError": ".large_payloads",
    # partial processing
    "BasePartialProcessor": ".base_processor",
    "batch_processor": ".base_processor",
    "PartialSQSProcessor": ".sqs_processor",
    "sqs_batch_processor": ".sqs_processor",
    "BatchProcessor": ".partial_response",
    "AsyncBatchProcessor": ".partial_response",
    "SqsFifoPartialProcessor": ".partial_response",
    "async_process_partial_response": ".partial_response",
    "async_batch_processor": ".base_processor",
    "EventType": ".event_types",
    "process_partial_response": ".partial_response",
    "RecordSkippedError": ".skipped_records",
    "PreviousRecordFailedError": ".skipped_records",
    "DeadlineReachedError": ".skipped_records",
    "RetryDelay": ".retry_delays",
    # record objects the record handler receives
    "SQSRecord": ".event_records",
    "KinesisStreamRecord": ".event_records",
    "DynamoDBRecord": ".event_records",
    "DynamoDBRecordEventName": ".event_records",
    "StreamViewType": ".event_records",
    "KafkaEventRecord": ".kafka_records",
    # type names processors are annotated with
    "ExceptionInfo": ".batch_types",
    "SuccessResponse": ".batch_types",
    "FailureResponse": ".batch_types",
    "PartialItemFailureResponse": ".batch_types",
    # dispatchers
    "BaseDispatcher": ".dispatchers.base",
    "SQSBatchDispatcher": ".dispatchers.sqs",
    "SQSFifoBatchDispatcher": ".dispatchers.sqs",
    "SNSBatchDispatcher": ".dispatchers.sns",
    "KinesisBatchDispatcher": ".dispatchers.kinesis",
    "FirehoseBatchDispatcher": ".dispatchers.firehose",
    "DynamoBatchDispatcher": ".dispatchers.dynamodb",
    "CloudwatchBatchDispatcher": ".dispatchers.cloudwatch",
    "cloudwatch_dimension": ".dispatchers.cloudwatch",
    "EventBridgeBatchDispatcher": ".dispatchers.eventbridge",
    "DispatcherStats": ".dispatchers.base",
    "UnprocessedItem": ".unprocessed",
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
    "KinesisBatchDispatcher",
    "LambdaBatchError",
    "LargePayloadError",
    "MalformedEventError",
    "PartialSQSProcessor",
    "PayloadError",
    "PreviousRecordFailedError",
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
    from .base_processor import BasePartialProcessor, async_batch_processor, batch_processor
    from .batch_types import ExceptionInfo, FailureResponse, PartialItemFailureResponse, SuccessResponse
    from .deadline import Deadline
    from .dispatchers.base import BaseDispatcher, DispatcherStats
    from .dispatchers.cloudwatch import CloudwatchBatchDispatcher, cloudwatch_dimension
    from .dispatchers.dynamodb import DynamoBatchDispatcher
    from .dispatchers.eventbridge import EventBridgeBatchDispatcher
    from .dispatchers.firehose import FirehoseBatchDispatcher
    from .dispatchers.kinesis import KinesisBatchDispatcher
    from .dispatchers.sns import SNSBatchDispatcher
    from .dispatchers.sqs import SQSBatchDispatcher, SQSFifoBatchDispatcher
    from .event_records import (
        DynamoDBRecord,
        DynamoDBRecordEventName,
        KinesisStreamRecord,
        SQSRecord,
        StreamViewType,
    )
    from .event_types import EventType
    from .exceptions import (
        BatchProcessingError,
        ConfigurationError,
        LambdaBatchError,
        MalformedEventError,
        PayloadError,
        SQSBatchProcessingError,
    )
    from .kafka_records import KafkaEventRecord
    from .partial_response import (
        AsyncBatchProcessor,
        BatchProcessor,
        SqsFifoPartialProcessor,
        async_process_partial_response,
        process_partial_response,
    )
    from .retry import RetryPolicy
    from .retry_delays import RetryDelay
    from .skipped_records import DeadlineReachedError, PreviousRecordFailedError, RecordSkippedError
    from .sqs_processor import PartialSQSProcessor, sqs_batch_processor
    from .unprocessed import UnprocessedItem


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'lambda_batch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_EXPORTS))
