"""SQS with the ``batch_processor`` decorator: the records are handled before the Lambda handler runs.

Powertools documentation (v2 and earlier v3 pages): "Processing messages from SQS", decorator tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, batch_processor

processor = BatchProcessor(event_type=EventType.SQS)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: SQSRecord):
    text: str = record.body
    if text:
        order: dict = json.loads(text)
        logger.info(order)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@batch_processor(record_handler=record_handler, processor=processor)
def lambda_handler(event, context: LambdaContext):
    return processor.response()
