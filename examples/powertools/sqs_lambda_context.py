"""SQS: a record handler that declares ``lambda_context`` receives the invocation's context.

Powertools documentation: "Accessing Lambda Context" (``process_partial_response``).
"""

from typing import Optional

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: Optional[LambdaContext] = None):
    if lambda_context is not None:
        time_left_ms = lambda_context.get_remaining_time_in_millis()
        logger.info({"message_id": record.message_id, "time_left_ms": time_left_ms})
        return time_left_ms
    return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
