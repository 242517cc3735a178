"""SQS with an ``async def`` handler: the records of a batch are handled concurrently.

Powertools documentation: "Processing messages asynchronously" (``AsyncBatchProcessor``).
The documented handler awaits an HTTP call; this one awaits a DynamoDB write made on a
worker thread (boto3 is synchronous), which is the same pattern: while one record waits
for its I/O, the others make progress.
"""

import asyncio
import os

import boto3
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_batch import AsyncBatchProcessor, EventType, async_process_partial_response

processor = AsyncBatchProcessor(event_type=EventType.SQS)
dynamodb = boto3.client("dynamodb")  # clients are safe to share between threads
TABLE = os.environ.get("ORDERS_TABLE", "orders")


async def async_record_handler(record: SQSRecord):
    order = record.json_body
    # hand control back to the event loop while the write is in flight
    item = {"pk": {"S": order["order_id"]}, "message_id": {"S": record.message_id}}
    await asyncio.to_thread(dynamodb.put_item, TableName=TABLE, Item=item)
    return order["order_id"]


def lambda_handler(event, context: LambdaContext):
    return async_process_partial_response(
        event=event,
        record_handler=async_record_handler,
        processor=processor,
        context=context,
    )
