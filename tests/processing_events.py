"""Lambda events for the partial processing tests: built from real reads of the emulator, or synthetic.

``receive_sqs_event`` turns messages really received from a moto queue into the event
Lambda's SQS event source mapping would deliver (real receipt handles, the queue's own
ARN); the synthetic builders give the same shapes without a server for unit tests.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Dict, List, Optional

import devtools.lambda_sqs

ACCOUNT = "123456789012"


class FakeLambdaContext:
    """The parts of Lambda's context object the processors read: a deadline ``remaining_ms`` from now."""

    function_name = "test-function"
    aws_request_id = "request-id"

    def __init__(self, remaining_ms: float = 60_000) -> None:
        self._end = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


def sqs_record(
    n: int,
    queue: str = "jobs",
    region: str = "us-east-1",
    group: Optional[str] = None,
    body: Optional[str] = None,
) -> Dict[str, Any]:
    """A synthetic SQS record (Lambda's shape) with messageId ``m-<n>``."""
    text = body if body is not None else f"body-{n}"
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1700000000000",
        "SenderId": ACCOUNT,
        "ApproximateFirstReceiveTimestamp": "1700000000001",
    }
    if group is not None:
        attributes["MessageGroupId"] = group
        attributes["SequenceNumber"] = str(10**19 + n)
        attributes["MessageDeduplicationId"] = f"d-{n}"
    return {
        "messageId": f"m-{n}",
        "receiptHandle": f"rh-{n}",
        "body": text,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}",
        "awsRegion": region,
    }


def kinesis_record(n: int, shard: str = "shardId-000000000000", partition_key: str = "pk") -> Dict[str, Any]:
    """A synthetic Kinesis stream record with sequence number ``<n>`` (zero-padded)."""
    sequence = f"{n:056d}"
    return {
        "kinesis": {
            "partitionKey": partition_key,
            "kinesisSchemaVersion": "1.0",
            "data": "eyJuIjogMX0=",
            "sequenceNumber": sequence,
            "approximateArrivalTimestamp": 1700000000.0,
        },
        "eventSource": "aws:kinesis",
        "eventID": f"{shard}:{sequence}",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/test",
        "eventVersion": "1.0",
        "eventName": "aws:kinesis:record",
        "eventSourceARN": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/orders",
        "awsRegion": "us-east-1",
    }


def dynamodb_record(n: int) -> Dict[str, Any]:
    """A synthetic DynamoDB stream record with SequenceNumber ``<n>`` (zero-padded)."""
    return {
        "eventID": f"event-{n}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"Id": {"N": str(n)}},
            "NewImage": {"Id": {"N": str(n)}},
            "SequenceNumber": f"{n:028d}",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders/stream/2024-01-01T00:00:00.000",
    }


def lambda_sqs_record(message: Dict[str, Any], queue_arn: str) -> Dict[str, Any]:
    """The Lambda event record for a message returned by ``receive_message`` (the tooling's one builder)."""
    return devtools.lambda_sqs.lambda_sqs_record(message, queue_arn)


def make_queue(sqs: Any, name: str, visibility_timeout: int = 1, fifo: bool = False) -> Dict[str, str]:
    """Create a queue; returns ``{"url": ..., "arn": ...}``."""
    attributes = {"VisibilityTimeout": str(visibility_timeout)}
    if fifo:
        attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
        name = f"{name}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}


def send_bodies(sqs: Any, url: str, bodies: List[str], group: Optional[str] = None) -> None:
    """Send ``bodies`` in batches of 10 (FIFO: all in message group ``group``)."""
    for start in range(0, len(bodies), 10):
        entries = []
        for offset, body in enumerate(bodies[start : start + 10]):
            entry: Dict[str, Any] = {"Id": str(offset), "MessageBody": body}
            if group is not None:
                entry["MessageGroupId"] = group
            entries.append(entry)
        response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not response.get("Failed"), response.get("Failed")


def receive_all(sqs: Any, url: str, expected: int, attempts: int = 20) -> List[Dict[str, Any]]:
    """Receive until ``expected`` distinct messages arrived (or attempts run out); real receipt handles.

    A message received again while receiving (its visibility timeout lapsed between two receives,
    as on a busy machine with the tests' 1 s queues) counts once, with its latest receipt handle:
    the one a delete or a visibility change needs.
    """
    messages: Dict[str, Dict[str, Any]] = {}
    for _ in range(attempts):
        if len(messages) >= expected:
            break
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            messages[message["MessageId"]] = message  # first-received order, latest receive
        if not batch:
            time.sleep(0.05)
    return list(messages.values())


def receive_sqs_event(sqs: Any, queue: Dict[str, str], expected: int) -> Dict[str, Any]:
    """Receive ``expected`` messages from ``queue`` and wrap them as Lambda's SQS event."""
    messages = receive_all(sqs, queue["url"], expected)
    assert len(messages) == expected, f"received {len(messages)} of {expected}"
    return {"Records": [lambda_sqs_record(message, queue["arn"]) for message in messages]}


def bodies_back_after_timeout(
    sqs: Any, url: str, wait: float = 1.2, expected: Optional[int] = None
) -> List[str]:
    """After the visibility timeout, the bodies still on the queue (sorted)."""
    time.sleep(wait)
    messages = receive_all(
        sqs, url, expected if expected is not None else 10**6, attempts=3 if expected is None else 20
    )
    return sorted(message["Body"] for message in messages)


class CallCounter:
    """Counts the API calls of one operation made through clients of ``session`` (a botocore hook).

    Register before any client is made: clients copy the session's hooks when created.
    """

    def __init__(self, session: Any, service: str, operation: str) -> None:
        self.calls: List[Dict[str, Any]] = []
        session.events.register(f"provide-client-params.{service}.{operation}", self._seen)

    def _seen(self, params: Any, **_: Any) -> None:
        self.calls.append(dict(params))

    @property
    def count(self) -> int:
        return len(self.calls)

    def entries_per_call(self) -> List[int]:
        return [len(call.get("Entries", [])) for call in self.calls]
