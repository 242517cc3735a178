"""Strings sent to a standard queue, and the consumer that reads them back with json.loads.

boto3-batch-utils sends every payload through json.dumps, a str included, so its consumers
json.loads each body; lambda-batch's SQS and Kinesis dispatchers do the same by default.
"""

import json

from lambda_batch import SQSBatchDispatcher

sqs = SQSBatchDispatcher("aQueueWithAName")

for line in ["order 1 shipped", "commande n°2 expédiée"]:
    sqs.submit_payload(line)

unprocessed_records = sqs.flush_payloads()


def lambda_handler(event, context):
    """The queue's consumer: every body is JSON, as the producer wrote it."""
    return [json.loads(record["body"]) for record in event["Records"]]
