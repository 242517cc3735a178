"""SQS: read each record's outcome after processing, from the list the context manager returns.

Powertools documentation: "Accessing processed messages".
"""

from __future__ import annotations

import json

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from typing_extensions import Literal

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
        outcomes: list[tuple] = processor.process()

    for outcome in outcomes:
        status: Literal["success", "fail"] = outcome[0]
        cause: str = outcome[1]  # the handler's return value, or "<ExceptionType>:<reason>"
        record: SQSRecord = outcome[2]

        logger.info(status, message_id=record["messageId"], cause=cause)

    return processor.response()
