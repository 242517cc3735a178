"""SQS: a processor subclass that counts successes and failures as CloudWatch metrics.

Powertools documentation: "Extending BatchProcessor" (``success_handler`` / ``failure_handler``).
"""

import json
from typing import Any, Dict

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    SuccessResponse,
    process_partial_response,
)


class CountingProcessor(BatchProcessor):
    def success_handler(self, record: Dict[str, Any], result: Any) -> SuccessResponse:
        metrics.add_metric(name="OrdersProcessed", unit=MetricUnit.Count, value=1)
        return super().success_handler(record, result)

    def failure_handler(self, record: SQSRecord, exception: ExceptionInfo) -> FailureResponse:
        metrics.add_metric(name="OrdersFailed", unit=MetricUnit.Count, value=1)
        return super().failure_handler(record, exception)


processor = CountingProcessor(event_type=EventType.SQS)
metrics = Metrics(namespace="orders")
logger = Logger()
tracer = Tracer()


@tracer.capture_method
def record_handler(record: SQSRecord):
    text: str = record.body
    if text:
        order: dict = json.loads(text)
        logger.info(order)


@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
