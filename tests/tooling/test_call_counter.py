"""The counting proxy on the wire (real moto server): calls and items per role, forwarded unchanged."""

from __future__ import annotations

import json

import pytest

from emulator.call_counter import CallCounter


@pytest.mark.integration
def test_proxy_counts_calls_and_items_per_role_and_forwards_unchanged(
    boto3_session, endpoint_url, unique_name
):
    with CallCounter(endpoint_url, ["producer", "consumer"]) as counter:
        producer = boto3_session.client("sqs", endpoint_url=counter.endpoint_url("producer"))
        consumer = boto3_session.client("sqs", endpoint_url=counter.endpoint_url("consumer"))
        url = producer.create_queue(QueueName=unique_name("counted"))["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": json.dumps({"id": f"x-{i}"})} for i in range(10)]
        producer.send_message_batch(QueueUrl=url, Entries=entries)
        producer.send_message_batch(QueueUrl=url, Entries=entries[:3])
        received = consumer.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        consumer.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        producer_totals = counter.totals("producer")
        consumer_totals = counter.totals("consumer")

    assert producer_totals[("sqs", "SendMessageBatch")].calls == 2
    assert producer_totals[("sqs", "SendMessageBatch")].items == 13
    assert producer_totals[("sqs", "CreateQueue")].calls == 1
    assert consumer_totals[("sqs", "ReceiveMessage")].items == len(received) == 10
    assert consumer_totals[("sqs", "DeleteMessageBatch")].items == 10
    assert all(count.errors == 0 for count in producer_totals.values())
    # The real queue holds what went through the proxy.
    direct = boto3_session.client("sqs", endpoint_url=endpoint_url)
    attributes = direct.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        int(attributes["ApproximateNumberOfMessages"])
        + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        == 3
    )


def test_proxy_refuses_https_upstreams():
    with pytest.raises(ValueError, match="http://"):
        CallCounter("https://sqs.us-east-1.amazonaws.com", ["producer"])
