"""DynamoDB Streams with the ``batch_processor`` decorator.

Powertools documentation (v2 and earlier v3 pages): "Processing messages from DynamoDB", decorator tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, batch_processor

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: DynamoDBRecord):
    if record.dynamodb and record.dynamodb.new_image:
        message = record.dynamodb.new_image.get("Message")
        if message:
            order: dict = json.loads(message)
            logger.info(order)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@batch_processor(record_handler=record_handler, processor=processor)
def lambda_handler(event, context: LambdaContext):
    return processor.response()
