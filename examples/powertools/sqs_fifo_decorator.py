"""SQS FIFO with the ``batch_processor`` decorator.

Powertools documentation (v2 and earlier v3 pages): "FIFO queues", decorator tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import SqsFifoPartialProcessor, batch_processor

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
@batch_processor(record_handler=record_handler, processor=processor)
def lambda_handler(event, context: LambdaContext):
    return processor.response()
