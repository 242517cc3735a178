"""A processor of your own: handle each record, then store every result in a DynamoDB table at once.

Powertools documentation: "Create your own partial processor" (``BasePartialProcessor``).
"""

import copy
import os
import sys
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from lambda_batch import BasePartialProcessor, PartialItemFailureResponse, process_partial_response

table_name = os.getenv("TABLE_NAME", "batch_results")

logger = Logger()


class ResultsToDynamoDB(BasePartialProcessor):
    """Handle each record; write what every successful record's handler returned in one batch.

    Parameters
    ----------
    table_name: str
        the table the results go to
    """

    DEFAULT_RESPONSE: PartialItemFailureResponse = {"batchItemFailures": []}

    def __init__(self, table_name: str):
        self.table_name = table_name
        self.batch_response: PartialItemFailureResponse = copy.deepcopy(self.DEFAULT_RESPONSE)
        super().__init__()

    def _prepare(self):
        # once, before the records: the table, and no results left from an earlier batch
        self.ddb_table = boto3.resource("dynamodb").Table(self.table_name)
        self.results = []
        self.batch_response = copy.deepcopy(self.DEFAULT_RESPONSE)

    def response(self) -> PartialItemFailureResponse:
        return self.batch_response

    def _clean(self):
        # once, after the records: every result in as few writes as possible, and the failures reported
        with self.ddb_table.batch_writer() as batch:
            for result in self.results:
                batch.put_item(Item=result)
        self.batch_response = {
            "batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in self.fail_messages]
        }

    def _process_record(self, record):
        # one record through self.handler (the record_handler given to process_partial_response)
        try:
            result = self.handler(record)
            return self.success_handler(record, result)
        except Exception as exc:
            logger.error(type(exc).__name__)
            return self.failure_handler(record, sys.exc_info())

    def success_handler(self, record, result: Any):
        self.success_messages.append(record)
        self.results.append({"pk": record["messageId"], "result": result})
        return ("success", result, record)

    async def _async_process_record(self, record: dict):
        raise NotImplementedError()


processor = ResultsToDynamoDB(table_name)


def record_handler(record):
    return len(record["body"])  # stand-in for real work; a record without a body fails


def lambda_handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
