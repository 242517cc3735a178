"""DynamoDB Streams, native partial response: the images arrive as Python values.

Powertools documentation: "Processing messages from DynamoDB". ``new_image`` holds the
item after the change with DynamoDB's types converted (``{"N": "5"}`` is ``Decimal("5")``).
"""

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import BatchProcessor, EventType, process_partial_response

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: DynamoDBRecord):
    if record.dynamodb and record.dynamodb.new_image:
        logger.info({"event": record.event_name.name, "keys": str(record.dynamodb.keys)})
        message = record.dynamodb.new_image.get("Message")
        if message:
            order: dict = json.loads(message)  # a Message that is not JSON fails this record
            logger.info(order)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
