"""SQS fair queues on the moto server: standard queues whose messages carry ``MessageGroupId``.

The dispatcher sends the group (with and without a large payload through S3); the processors
treat a standard queue's groups as no ordering rule: records run concurrently and fail one by one.
moto 5.2.5 stores MessageGroupId on standard queues and returns it to ReceiveMessage's
``MessageSystemAttributeNames=["MessageGroupId"]``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List

import pytest

from lambda_batch import (
    BatchProcessor,
    ConfigurationError,
    EventType,
    PayloadError,
    SQSBatchDispatcher,
    process_partial_response,
)
from lambda_batch.payloads.pointers import SIZE_ATTRIBUTE
from tests.faults import fast_policy
from tests.processing_events import lambda_sqs_record, make_queue

pytestmark = pytest.mark.integration

KiB = 1024


def receive_with_groups(sqs: Any, url: str, expected: int) -> List[Dict[str, Any]]:
    messages: List[Dict[str, Any]] = []
    for _ in range(20):
        if len(messages) >= expected:
            break
        messages += sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["MessageGroupId"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    return messages


def dispatcher(url: str, session: Any, endpoint_url: str, **options: Any) -> SQSBatchDispatcher:
    return SQSBatchDispatcher(
        url, boto3_session=session, endpoint_url=endpoint_url, retry_policy=fast_policy(), **options
    )


def test_a_standard_queue_receives_each_messages_group(
    aws_client: Any, boto3_session: Any, endpoint_url: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fair"), visibility_timeout=30)
    sender = dispatcher(queue["url"], boto3_session, endpoint_url, default_message_group_id="tenant-default")
    for n in range(6):
        sender.submit_payload({"n": n}, message_group_id=f"tenant-{n % 2}")
    sender.submit_payload({"n": 6})  # the dispatcher-wide default
    sender.submit_payload({"n": 7}, delay_seconds=0, message_group_id="tenant-1")
    assert sender.flush_payloads() == []
    received = {
        json.loads(m["Body"])["n"]: m["Attributes"]["MessageGroupId"]
        for m in receive_with_groups(sqs, queue["url"], 8)
    }
    assert received == {
        0: "tenant-0",
        1: "tenant-1",
        2: "tenant-0",
        3: "tenant-1",
        4: "tenant-0",
        5: "tenant-1",
        6: "tenant-default",
        7: "tenant-1",
    }


def test_a_large_payload_sent_through_s3_keeps_its_group(
    aws_client: Any, boto3_session: Any, endpoint_url: str, unique_name: Any, bucket: str
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fair-large"), visibility_timeout=30)
    sender = dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=10 * KiB,
    )
    sender.submit_payload("x" * (20 * KiB), message_group_id="tenant-big")  # through S3
    sender.submit_payload("small", message_group_id="tenant-small")  # in the message
    assert sender.flush_payloads() == []
    messages = receive_with_groups(sqs, queue["url"], 2)
    groups = {
        ("pointer" if SIZE_ATTRIBUTE in m.get("MessageAttributes", {}) else "inline"): m["Attributes"][
            "MessageGroupId"
        ]
        for m in messages
    }
    assert groups == {"pointer": "tenant-big", "inline": "tenant-small"}
    assert len(aws_client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])) == 1


def test_bad_groups_are_refused_at_submit_and_when_built(boto3_session: Any, endpoint_url: str) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/never-called"
    with pytest.raises(ConfigurationError, match="default_message_group_id"):
        dispatcher(url, boto3_session, endpoint_url, default_message_group_id="")
    sender = dispatcher(url, boto3_session, endpoint_url)
    for bad in ("", "g" * 129, "with space", 7):
        with pytest.raises(PayloadError, match="message_group_id"):
            sender.submit_payload({"n": 1}, message_group_id=bad)  # type: ignore[arg-type]
    assert sender.flush_payloads() == []  # nothing was buffered


def test_a_standard_queues_groups_are_no_ordering_rule_for_the_processor(
    aws_client: Any, boto3_session: Any, endpoint_url: str, unique_name: Any
) -> None:
    """Four records of one group run at once (a barrier of four: a processor that ran the group
    in order would break it), and a failure of one fails only that record, not its group-mates."""
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fair-consume"), visibility_timeout=30)
    sender = dispatcher(queue["url"], boto3_session, endpoint_url)
    for n in range(4):
        sender.submit_payload({"n": n, "tenant": "a"}, message_group_id="tenant-a")
    for n in range(4, 6):
        sender.submit_payload({"n": n, "tenant": "b"}, message_group_id="tenant-b")
    assert sender.flush_payloads() == []
    messages = receive_with_groups(sqs, queue["url"], 6)
    assert len(messages) == 6
    records = [lambda_sqs_record(m, queue["arn"]) for m in messages]
    assert all(r["attributes"]["MessageGroupId"].startswith("tenant-") for r in records)
    # 30 s: generous, the barrier is passed at once when the four run together; only a processor
    # running them one after another waits it out (and then breaks it).
    group_a = threading.Barrier(4, timeout=30)
    seen: List[int] = []
    lock = threading.Lock()

    def handler(record: Any) -> None:
        body = json.loads(record.body)
        if body["tenant"] == "a":
            group_a.wait()
        with lock:
            seen.append(body["n"])
        if body["n"] == 0:
            raise ValueError("tenant a's first message fails")

    processor = BatchProcessor(EventType.SQS, max_concurrency=6)
    response = process_partial_response({"Records": records}, handler, processor)
    failed_id = next(r["messageId"] for r in records if json.loads(r["body"])["n"] == 0)
    assert response == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
    assert sorted(seen) == list(range(6))  # every group-mate of the failure was processed
    assert not group_a.broken
