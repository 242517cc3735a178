"""DynamoDB Streams with a pydantic model of the stream record and of the item's images.

Powertools documentation: "Processing messages with Pydantic models", DynamoDB tab.
"""

import json
from typing import Dict, Optional, Union

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import BaseModel, field_validator
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamChangedRecordModel,
    DynamoDBStreamRecordModel,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from typing_extensions import Literal

from lambda_batch import BatchProcessor, EventType, process_partial_response


class Order(BaseModel):
    item: dict


class OrderDynamoDB(BaseModel):
    Message: Optional[Order] = None  # an image without a Message (an empty old image) fits too

    # the Message attribute holds the order as JSON text ({"S": "<json>"} in the stream record,
    # the text itself once the record model has converted the image): parse it for the Order
    @field_validator("Message", mode="before")
    def message_from_json(cls, value: Union[str, Dict[Literal["S"], str]]):
        return json.loads(value["S"] if isinstance(value, dict) else value)


class OrderDynamoDBChangeRecord(DynamoDBStreamChangedRecordModel):
    NewImage: Optional[OrderDynamoDB] = None
    OldImage: Optional[OrderDynamoDB] = None  # an INSERT has no old image


class OrderDynamoDBRecord(DynamoDBStreamRecordModel):
    dynamodb: OrderDynamoDBChangeRecord


processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=OrderDynamoDBRecord)
tracer = Tracer()
logger = Logger()


@tracer.capture_method
def record_handler(record: OrderDynamoDBRecord):
    if record.dynamodb.NewImage and record.dynamodb.NewImage.Message:
        logger.info(record.dynamodb.NewImage.Message.item)
        return record.dynamodb.NewImage.Message.item
    return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event, context: LambdaContext):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
