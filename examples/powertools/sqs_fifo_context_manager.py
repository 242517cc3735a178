"""SQS FIFO with the processor as a context manager.

Powertools documentation: "FIFO queues", context manager tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import SqsFifoPartialProcessor

processor = SqsFifoPartialProcessor()
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord):
    text: str = record.body
    if text:
        step: dict = json.loads(text)
        logger.info(step)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    batch = event["Records"]
    with processor(records=batch, handler=record_handler):
        processor.process()  # one result per record, in order

    return processor.response()
