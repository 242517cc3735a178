"""The demo's own reads of the queues: depth, the DLQ read in full, the visibility timeout put back.

Example::

    queue_depth(sqs, url)                       # visible + in flight + delayed
    read_dlq(sqs, dlq_url, "demo12345-")        # message id -> body, this run's only
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional

from demo.ledger import item_of

#: Reads a large message's payload through its S3 pointer (``None``: gone already).
PayloadReader = Callable[[str], Optional[str]]


def queue_depth(sqs: Any, url: str) -> int:
    """Messages on the queue: visible, in flight and delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def read_dlq(sqs: Any, url: str, prefix: str, resolve: Any = None) -> Dict[str, Any]:
    """Message id -> body of every message of this run on the DLQ: received, counted, deleted.

    Deleting is what lets a FIFO DLQ hand out the later messages of a message group (it holds
    a group back while one of its messages is in flight). Messages of other runs are left on
    the queue (received with a short visibility timeout, never deleted).
    """
    found: Dict[str, Any] = {}
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        ours = []
        for message in messages:
            item_id, _ = item_of(message.get("Body"), resolve)  # a large message: read through S3
            if item_id is not None and item_id.startswith(prefix):
                found[message["MessageId"]] = message.get("Body")
                ours.append(message)
        if ours:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ours)],
            )
    return found


def restore_visibility(
    sqs: Any, url: str, original: str, report: Callable[[str, Dict[str, Any]], None]
) -> None:
    """Put a kept stack's queue back to its own visibility timeout; say so either way."""
    try:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": original})
    except Exception as exc:
        report("restore", {"queue_url": url, "visibility_timeout": original, "error": str(exc)})
        return
    report("restore", {"queue_url": url, "visibility_timeout": original, "error": None})


def payload_reader(s3: Any) -> PayloadReader:
    """Reads a large message's payload from S3 through its pointer (uncounted: the demo's own calls)."""

    def read_payload(pointer: str) -> Optional[str]:
        try:
            location = json.loads(pointer)[1]
            obj = s3.get_object(Bucket=location["s3BucketName"], Key=location["s3Key"])
            return str(obj["Body"].read().decode("utf-8"))
        except Exception:  # gone already (handled, then deleted by the consumer)
            return None

    return read_payload
