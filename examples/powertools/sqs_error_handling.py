"""SQS: a record fails when its handler raises; the response names it, the others are done.

Powertools documentation: "Error handling".
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


class IncompleteOrder(Exception):
    """The message lacks what an order needs."""


@tracer.capture_method
def record_handler(record: SQSRecord):
    text: str = record.body
    logger.info({"message_id": record.message_id, "size": len(text)})
    if not text.strip():
        raise IncompleteOrder("the message has no order in it")  # this record goes back to the queue


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
