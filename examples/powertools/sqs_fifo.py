"""SQS FIFO: stop at the first failure, so that no message overtakes an earlier one that failed.

Powertools documentation: "FIFO queues" (``SqsFifoPartialProcessor``).
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import SqsFifoPartialProcessor, process_partial_response

processor = SqsFifoPartialProcessor()  # the failed message and every message after it go back
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord):
    step: dict = record.json_body
    logger.info({"group": record.attributes.message_group_id, "step": step})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
