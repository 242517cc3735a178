"""SNS dispatcher against the moto server: messages are read back from a subscribed SQS queue."""

from __future__ import annotations

import json

import pytest

from lambda_batch import ConfigurationError, PayloadError, SNSBatchDispatcher
from lambda_batch.core.unprocessed import FIFO_GROUP_HALTED
from tests.faults import OK, CannedNetwork, Fault, FaultInjector, _http, drain_queue, fast_policy, queue_arn

pytestmark = pytest.mark.integration


@pytest.fixture()
def topic(aws_client, unique_name):
    sns = aws_client("sns")
    sqs = aws_client("sqs")
    arn = sns.create_topic(Name=unique_name("alerts"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("alerts-sub"))["QueueUrl"]
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"}
    )
    yield arn, sqs, url
    sqs.delete_queue(QueueUrl=url)


def make(boto3_session, endpoint_url, arn, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return SNSBatchDispatcher(arn, boto3_session=boto3_session, endpoint_url=endpoint_url, **kwargs)


def test_messages_reach_the_subscribed_queue(boto3_session, endpoint_url, topic):
    arn, sqs, url = topic
    injector = FaultInjector(boto3_session, "sns", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, arn)
    for i in range(15):
        dispatcher.submit_payload({"alert": i}, message_attributes={"severity": "high"})
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [10, 5]
    messages = drain_queue(sqs, url, attributes=True)
    assert sorted(json.loads(m["Body"])["alert"] for m in messages) == list(range(15))
    assert messages[0]["MessageAttributes"]["severity"]["StringValue"] == "high"


def test_256_kib_per_publish_batch(boto3_session, endpoint_url, topic):
    arn, sqs, url = topic
    injector = FaultInjector(boto3_session, "sns", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, arn)
    for _ in range(5):
        dispatcher.submit_payload("m" * 100_000)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [2, 2, 1]
    assert len(drain_queue(sqs, url)) == 5
    with pytest.raises(PayloadError, match="262144 bytes"):
        dispatcher.submit_payload("m" * 262_145)


def test_partial_failures(boto3_session, endpoint_url, topic):
    arn, sqs, url = topic
    plan = {0: Fault("partial", {0: True, 1: False})}
    FaultInjector(boto3_session, "sns", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, arn)
    payloads = ["a", "b", "c"]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == ["b"]
    assert sorted(m["Body"] for m in drain_queue(sqs, url)) == ["a", "c"]


@pytest.fixture()
def fifo_topic(aws_client, unique_name):
    sns = aws_client("sns")
    sqs = aws_client("sqs")
    arn = sns.create_topic(Name=unique_name("orders") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("orders-sub") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"}
    )
    yield arn, sqs, url
    sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("workers", [1, 3])
def test_fifo_topic_halts_a_group_after_a_failure(boto3_session, endpoint_url, fifo_topic, workers):
    arn, sqs, url = fifo_topic
    FaultInjector(
        boto3_session,
        "sns",
        lambda call, n: OK,
        fail_entries=lambda entry: False if entry["Message"] == "a1" else None,
    )
    dispatcher = make(boto3_session, endpoint_url, arn, max_batch_size=2, max_workers=workers)
    for start in (0, 2, 4):  # a0 a1 | b0 b1 | a2 a3 | b2 b3 | a4 a5 | b4 b5
        for group in "ab":
            for seq in (start, start + 1):
                dispatcher.submit_payload(
                    f"{group}{seq}", message_id=f"{group}-{seq}", message_group_id=group
                )
    assert dispatcher.flush_payloads() == ["a1", "a2", "a3", "a4", "a5"]
    details = dispatcher.unprocessed_details
    assert details[0].code == "InvalidParameterValue"
    assert [d.code for d in details[1:]] == [FIFO_GROUP_HALTED] * 4
    assert all("a-1" in d.message for d in details[1:])
    received = [m["Body"] for m in drain_queue(sqs, url)]
    assert [b for b in received if b.startswith("a")] == ["a0"]
    assert [b for b in received if b.startswith("b")] == [f"b{i}" for i in range(6)]
    dispatcher.close()


def test_topic_must_be_an_arn():
    with pytest.raises(ConfigurationError, match="ARN"):
        SNSBatchDispatcher("alerts")


def topic_says(session, size=None, denied=False):
    """What GetTopicAttributes answers: moto 5.2.5 neither stores nor returns MaximumMessageSize,
    so a hook adds it to moto's real answer (or answers AuthorizationError); returns the call count."""
    calls = []

    def before(**_):
        calls.append(1)
        if denied:
            error = {"Code": "AuthorizationError", "Message": "not authorized"}
            return _http(403), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return None

    def after(parsed, **_):
        if size is not None:
            parsed.setdefault("Attributes", {})["MaximumMessageSize"] = str(size)

    session.events.register("before-call.sns.GetTopicAttributes", before)
    session.events.register("after-call.sns.GetTopicAttributes", after)
    return calls


def test_a_topic_of_1_mib_takes_messages_and_batches_up_to_1_mib(boto3_session, endpoint_url, topic):
    """The topic's MaximumMessageSize is read once per process; PublishBatch is captured by a hook
    (moto 5.2.5 refuses any message over 256 KiB whatever the topic says)."""
    arn, _, _ = topic
    reads = topic_says(boto3_session, size=1024 * 1024)
    network = CannedNetwork(boto3_session, "sns")
    dispatcher = make(boto3_session, endpoint_url, arn)
    for _ in range(3):
        dispatcher.submit_payload("m" * 400_000)  # 2 in a batch: within the topic's 1 MiB together
    dispatcher.submit_payload("m" * 900_000)
    assert dispatcher.flush_payloads() == []
    assert network.batches == [2, 1, 1]
    assert [len(entry["Message"]) for entry in network.sent] == [400_000] * 3 + [900_000]
    with pytest.raises(PayloadError, match=r"1048577 bytes, over the SNS message size limit \(the topic's"):
        dispatcher.submit_payload("m" * (1024 * 1024 + 1))
    again = make(boto3_session, endpoint_url, arn)  # a dispatcher made on a later invocation
    again.submit_payload("m" * 900_000)
    assert again.flush_payloads() == []
    assert len(reads) == 1  # once per topic and process


def test_a_smaller_topic_size_and_max_batch_bytes_are_named(boto3_session, endpoint_url, topic):
    arn, sqs, url = topic
    topic_says(boto3_session, size=2048)
    dispatcher = make(boto3_session, endpoint_url, arn)
    with pytest.raises(PayloadError, match=r"2049 bytes, over the SNS message size limit .*: 2048 bytes"):
        dispatcher.submit_payload("m" * 2049)
    dispatcher.submit_payload("m" * 2048)
    assert dispatcher.flush_payloads() == []
    assert [m["Body"] for m in drain_queue(sqs, url)] == ["m" * 2048]
    capped = make(boto3_session, endpoint_url, arn, max_batch_bytes=1024)
    with pytest.raises(PayloadError, match=r"max_batch_bytes setting \(1024 bytes\)"):
        capped.submit_payload("m" * 1025)


def test_without_get_topic_attributes_256_kib_applies_and_publishing_works(
    boto3_session, endpoint_url, topic
):
    arn, sqs, url = topic
    reads = topic_says(boto3_session, size=1024 * 1024, denied=True)
    dispatcher = make(boto3_session, endpoint_url, arn)
    with pytest.raises(PayloadError, match="262144 bytes"):
        dispatcher.submit_payload("m" * 262_145)
    dispatcher.submit_payload("m" * 100_000)
    assert dispatcher.flush_payloads() == []
    assert len(drain_queue(sqs, url)) == 1
    assert len(reads) == 1  # the denial is remembered: not asked again
