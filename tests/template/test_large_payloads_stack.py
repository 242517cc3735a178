"""Large payloads through the deployed stack: the producer offloads to the bucket, the consumer resolves.

The built functions run locally against the stack on the moto server, with the roles'
environment as deployed (PAYLOAD_BUCKET_NAME for the producer).
"""

from __future__ import annotations

import json
from typing import Any, List

import pytest

from tests.processing_events import lambda_sqs_record

from .conftest import TEMPLATE, drain
from .test_policy import grants

#: The IAM action of each S3 call the functions make (DeleteObjects is authorized by s3:DeleteObject).
S3_ACTION = {"PutObject": "s3:PutObject", "GetObject": "s3:GetObject", "DeleteObjects": "s3:DeleteObject"}

pytestmark = pytest.mark.integration


def bucket_keys(stack: Any) -> List[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.physical_id("PayloadBucket"))
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_producer_sends_large_items_through_s3_and_the_consumer_handles_them(
    producer: Any, consumer: Any, stack: Any, sqs: Any
) -> None:
    before = bucket_keys(stack)
    result = producer.invoke({"count": 4, "targets": ["sqs"], "large_count": 2, "run_id": "large-run"})
    assert result.ok, result.error
    assert result.return_value["sent"] == {"sqs": 4}
    stored = sorted(set(bucket_keys(stack)) - set(before))
    assert len(stored) == 2

    url = stack.queue_url("WorkQueue")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages: List[Any] = []
    for _ in range(20):
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        messages += batch
        if len(messages) >= 4:
            break
    assert len(messages) == 4
    pointers = [m for m in messages if "ExtendedPayloadSize" in m.get("MessageAttributes", {})]
    assert len(pointers) == 2
    assert all(len(m["Body"]) < 1024 for m in pointers)  # the pointer, not the 1 MiB item

    outcome = consumer.invoke({"Records": [lambda_sqs_record(m, arn) for m in messages]})
    assert outcome.ok, outcome.error
    assert outcome.return_value["processed"] == 4
    assert sorted(set(bucket_keys(stack)) - set(before)) == []  # deleted once handled
    drain(sqs, url)

    # every S3 call each function made is granted to its role, on the payload bucket's objects
    from emulator.stack import load_template

    template = load_template(TEMPLATE)
    bucket = stack.physical_id("PayloadBucket")
    for role, calls, expected in (
        ("ProducerRole", result.api_calls, {"PutObject"}),
        ("ConsumerRole", outcome.api_calls, {"GetObject", "DeleteObjects"}),
    ):
        s3_calls = [call for call in calls if call["service"] == "s3"]
        assert {call["operation"] for call in s3_calls} == expected, role
        for call in s3_calls:
            assert call["target"] == {"Bucket": bucket}
            assert (S3_ACTION[call["operation"]], "PayloadBucket/*") in grants(template, role)


def test_producer_refuses_a_large_count_over_the_count(producer: Any) -> None:
    result = producer.invoke({"count": 2, "targets": ["sqs"], "large_count": 3})
    assert not result.ok
    assert "large_count" in json.dumps(result.error)
