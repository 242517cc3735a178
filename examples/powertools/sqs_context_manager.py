"""SQS with the processor as a context manager: the results of every record, then the response.

Powertools documentation: "Processing messages from SQS", context manager tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType

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
def lambda_handler(event, context: LambdaContext):
    batch = event["Records"]
    with processor(records=batch, handler=record_handler):
        results = processor.process()  # one ("success" | "fail", result or reason, record) per record
        logger.info(f"Processed {len(results)} messages")

    return processor.response()
