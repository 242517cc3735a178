"""Turn a sample SQS event into a real one: its messages sent to a queue of the emulator and received back.

Sample events (``events/sqs-*.json``, shaped as ``sam local generate-event sqs
receive-message`` makes them) carry made-up message ids and receipt handles, which a
consumer that deletes its successes cannot use. :func:`seed_sqs_event` sends each record's
body (and message attributes; group and deduplication ids for FIFO) to a real queue,
receives the messages, and returns the same event with the real ``messageId``,
``receiptHandle``, ``eventSourceARN`` and attributes, in the order of the sample: what
Lambda's event source mapping would deliver.

Example::

    event = json.loads(Path("events/sqs-batch-with-failures.json").read_text())
    real = seed_sqs_event(event, stack.queue_url("WorkQueue"), stack.client("sqs"))
    real["Records"][0]["receiptHandle"]      # a handle the queue knows
"""

from __future__ import annotations

import copy
import time
from typing import Any, Dict, List, Mapping, Optional

from devtools.lambda_sqs import lambda_sqs_record, send_attributes

#: Seconds a seeded message stays invisible to others before the function deletes it or fails.
DEFAULT_VISIBILITY_TIMEOUT = 30


class SeedError(RuntimeError):
    """The sample event could not be sent to, or received back from, the queue."""


def seed_sqs_event(
    event: Mapping[str, Any],
    queue_url: str,
    sqs_client: Any,
    *,
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    receive_timeout: float = 10.0,
) -> Dict[str, Any]:
    """Send ``event``'s records to ``queue_url``, receive them, return the event with the real ones.

    The queue should be empty of other visible messages (they would be received too and
    make this raise :class:`SeedError`). Records keep the sample's order; for a FIFO queue
    each record's ``attributes.MessageGroupId`` and ``MessageDeduplicationId`` are used.
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise SeedError("the sample event has no Records to send")
    if len(records) > 10:
        raise SeedError("at most 10 records can be seeded (one SendMessageBatch)")
    queue_arn = sqs_client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    fifo = queue_url.endswith(".fifo")
    entries: List[Dict[str, Any]] = []
    for index, record in enumerate(records):
        entry: Dict[str, Any] = {"Id": str(index), "MessageBody": record.get("body", "")}
        attributes = send_attributes(record)
        if attributes:
            entry["MessageAttributes"] = attributes
        if fifo:
            record_attributes = record.get("attributes") or {}
            entry["MessageGroupId"] = record_attributes.get("MessageGroupId") or "default"
            entry["MessageDeduplicationId"] = (
                record_attributes.get("MessageDeduplicationId") or f"{time.time_ns()}-{index}"
            )
        entries.append(entry)
    response = sqs_client.send_message_batch(QueueUrl=queue_url, Entries=entries)
    if response.get("Failed"):
        raise SeedError(f"the queue refused records: {response['Failed']}")
    sent_ids = {item["Id"]: item["MessageId"] for item in response["Successful"]}
    order = {sent_ids[str(i)]: i for i in range(len(records))}

    received: Dict[str, Dict[str, Any]] = {}
    deadline = time.monotonic() + receive_timeout
    while len(received) < len(records) and time.monotonic() < deadline:
        batch = sqs_client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            if message["MessageId"] not in order:
                raise SeedError(
                    f"the queue held another message ({message['MessageId']}): use an empty queue"
                )
            received[message["MessageId"]] = message
        if not batch:
            time.sleep(0.05)
    if len(received) < len(records):
        raise SeedError(f"only {len(received)} of {len(records)} seeded messages came back")

    seeded = copy.deepcopy(dict(event))
    seeded["Records"] = [
        lambda_sqs_record(message, queue_arn)
        for message in sorted(received.values(), key=lambda m: order[m["MessageId"]])
    ]
    return seeded


def queue_for_event(
    event: Mapping[str, Any], fifo_queue: Optional[str], standard_queue: Optional[str]
) -> Optional[str]:
    """The queue a sample event belongs to: the FIFO one when its source ARN ends in ``.fifo``."""
    records = event.get("Records") or []
    arn = str(records[0].get("eventSourceARN", "")) if records and isinstance(records[0], Mapping) else ""
    return fifo_queue if arn.endswith(".fifo") else standard_queue


#: What Lambda's SQS event source always puts in a record; a sample without one of them is malformed.
LAMBDA_RECORD_KEYS = ("messageId", "receiptHandle", "body", "eventSource", "eventSourceARN")


def malformed_reason(event: Any) -> Optional[str]:
    """Why ``event`` is not an SQS event as Lambda delivers it, or ``None`` when it is one.

    A malformed sample (``events/sqs-malformed.json``) is passed to the handler as it is:
    seeding it would give it a real message and repair it.

    Example::

        >>> malformed_reason({"Records": [{"messageId": "m-1", "body": "{}"}]})
        'record 0 has no receiptHandle'
    """
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        return "the event has no Records"
    for index, record in enumerate(records):
        if not isinstance(record, Mapping):
            return f"record {index} is not an object"
        for key in LAMBDA_RECORD_KEYS:
            if not record.get(key) and not (key == "body" and record.get(key) == ""):
                return f"record {index} has no {key}"
        if record.get("eventSource") != "aws:sqs":
            return f"record {index} has eventSource {record.get('eventSource')!r}, not 'aws:sqs'"
    return None


def delete_messages(sqs_client: Any, queue_url: str, records: List[Mapping[str, Any]]) -> int:
    """Delete the messages of ``records`` (DeleteMessageBatch, 10 a call); return how many were deleted.

    A receipt handle that is no longer valid (the message was deleted already) is not an error.
    """
    deleted = 0
    for start in range(0, len(records), 10):
        chunk = records[start : start + 10]
        if not chunk:
            continue
        response = sqs_client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)],
        )
        deleted += len(response.get("Successful", []))
    return deleted
