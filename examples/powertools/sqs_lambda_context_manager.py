"""SQS: the Lambda context passed to the processor reaches a handler that declares ``lambda_context``.

Powertools documentation: "Accessing Lambda Context", context manager tab.
"""

from typing import Optional

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: Optional[LambdaContext] = None):
    if lambda_context is not None:
        time_left_ms = lambda_context.get_remaining_time_in_millis()
        logger.info(time_left_ms)
        return time_left_ms
    return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    batch = event["Records"]
    with processor(records=batch, handler=record_handler, lambda_context=context):
        results = processor.process()

    return results
