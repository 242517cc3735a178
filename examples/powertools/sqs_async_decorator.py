"""SQS with an ``async def`` handler and the ``async_batch_processor`` decorator.

Powertools API reference (``async_batch_processor``). The Lambda handler stays a plain
function; the records run on an event loop before it, and it returns the response.
"""

import asyncio

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import AsyncBatchProcessor, EventType, async_batch_processor

processor = AsyncBatchProcessor(event_type=EventType.SQS)


async def async_record_handler(record: SQSRecord):
    text: str = record.body
    if not text:
        raise ValueError("empty message")
    await asyncio.sleep(0)  # stands for awaited I/O
    return text.upper()


@async_batch_processor(record_handler=async_record_handler, processor=processor)
def lambda_handler(event, context: LambdaContext):
    return processor.response()
