"""DynamoDB Streams with the processor as a context manager.

Powertools documentation: "Processing messages from DynamoDB", context manager tab.
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType

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
def lambda_handler(event, context: LambdaContext):
    batch = event["Records"]
    with processor(records=batch, handler=record_handler):
        results = processor.process()
        logger.info(f"Processed {len(results)} records")

    return processor.response()
