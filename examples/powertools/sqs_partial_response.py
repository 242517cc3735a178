"""SQS, native partial response: only the messages whose handler raised go back
to the queue.

Powertools documentation: "Processing messages from SQS"
(``process_partial_response``).
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, process_partial_response

# one per function, reused across invocations
processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord):
    # the body parsed as JSON; record.body is the text itself
    order: dict = record.json_body
    logger.info(
        {"order_id": order["order_id"], "message_id": record.message_id},
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
