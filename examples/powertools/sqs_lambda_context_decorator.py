"""SQS: with the ``batch_processor`` decorator too, a handler declaring ``lambda_context`` receives it.

Powertools documentation (v2 and earlier v3 pages): "Accessing Lambda Context", decorator tab.
"""

from typing import Optional

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, batch_processor

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: Optional[LambdaContext] = None):
    if lambda_context is not None:
        time_left_ms = lambda_context.get_remaining_time_in_millis()
        logger.info({"message_id": record.message_id, "time_left_ms": time_left_ms})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@batch_processor(record_handler=record_handler, processor=processor)
def lambda_handler(event, context: LambdaContext):
    return processor.response()
