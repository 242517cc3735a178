"""Getting started: an SQS-triggered function that reports only its failed
messages.

Attach the layer (or ``pip install lambda-batch``), set
``ReportBatchItemFailures`` on the event source mapping, and Lambda returns to
the queue only the messages whose handler raised. Run it locally (no AWS
account, no boto3): ``python examples/getting_started/native_sqs.py``
"""

import json

from lambda_batch import BatchProcessor, EventType, process_partial_response

# one per function, reused across invocations
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record):
    order = record.json_body  # the body parsed as JSON
    if order["quantity"] <= 0:
        message = f"order {order['order_id']}: quantity must be positive"
        raise ValueError(message)
    return order["order_id"]


def lambda_handler(event, context):
    return process_partial_response(
        event=event,
        record_handler=record_handler,
        processor=processor,
        context=context,
    )


if __name__ == "__main__":
    event = {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"rh-{n}",
                "body": json.dumps({"order_id": n, "quantity": quantity}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "awsRegion": "us-east-1",
            }
            for n, quantity in enumerate([2, 0, 5])
        ]
    }
    # prints {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    print(json.dumps(lambda_handler(event, None)))  # noqa: T201
