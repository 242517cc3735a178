"""Large payloads against the real AWS Extended Client libraries, on the moto server (S3, SQS, SNS).

Both directions: what our dispatchers send with ``large_payload_bucket`` is read in full by
the SQS Extended Client's receive, and what the SQS and SNS Extended Clients send reaches
our processors' handlers as the original payload (raw SNS delivery and the SNS envelope).

The libraries replace ``boto3.Session`` process-wide when imported: the fixture imports
them once and puts boto3's own Session back, so nothing else in the test run is affected.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from lambda_batch import (
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    SNSBatchDispatcher,
    SQSBatchDispatcher,
    SqsFifoPartialProcessor,
    process_partial_response,
    sqs_batch_processor,
)
from lambda_batch.payloads.pointers import POINTER_CLASS, SIZE_ATTRIBUTE
from tests.conftest import REGION
from tests.processing_events import FakeLambdaContext, lambda_sqs_record, make_queue, receive_all

MiB = 1024 * 1024
KiB = 1024
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def extended() -> Iterator[Tuple[Any, Any]]:
    """The Extended Client session classes, imported with boto3.Session put back afterwards."""
    import boto3
    import boto3.session

    saved = (boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION)
    try:
        from sns_extended_client import SNSExtendedClientSession
        from sqs_extended_client import SQSExtendedClientSession
    finally:
        boto3.session.Session, boto3.Session, boto3.DEFAULT_SESSION = saved
    assert boto3.session.Session is saved[0]
    yield SQSExtendedClientSession, SNSExtendedClientSession


@pytest.fixture()
def s3_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> str:
    """Every S3 client made from here on talks to the moto server (ours and the libraries')."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint_url)
    return endpoint_url


@pytest.fixture()
def bucket(aws_client: Any, unique_name: Any, s3_endpoint: str) -> str:
    name = unique_name("payloads")
    aws_client("s3").create_bucket(Bucket=name)
    return str(name)


def extended_sqs(extended: Any, endpoint_url: str, bucket: str, aws_client: Any, **settings: Any) -> Any:
    session = extended[0](**CREDENTIALS)
    client = session.client("sqs", endpoint_url=endpoint_url)
    client.s3_client = aws_client("s3")
    client.large_payload_support = bucket
    for name, value in settings.items():
        setattr(client, name, value)
    return client


def object_keys(aws_client: Any, bucket: str) -> List[str]:
    listing = aws_client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def payload(size: int, tag: str = "x") -> str:
    """``size`` UTF-8 bytes of text, with multi-byte characters, starting with ``tag``."""
    head = f"{tag}:é€"  # 2- and 3-byte characters: sizes are bytes, not characters
    return head + "a" * (size - len(head.encode("utf-8")))


def event_of(messages: List[Dict[str, Any]], queue: Dict[str, str]) -> Dict[str, Any]:
    return {"Records": [lambda_sqs_record(message, queue["arn"]) for message in messages]}


# -- ours -> their receive -------------------------------------------------------------------


def test_extended_client_receive_reads_in_full_what_we_send(
    extended: Any, aws_client: Any, endpoint_url: str, boto3_session: Any, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("big"), visibility_timeout=30)
    sent = {
        "five-mib": payload(5 * MiB, "five"),
        "one-mib-plus-one": payload(MiB + 1, "edge"),
        "small": payload(100, "small"),
    }
    dispatcher = SQSBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_prefix="sent/",
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    for name, text in sent.items():
        dispatcher.submit_payload(text, message_id=name, message_attributes={"name": name})
    assert dispatcher.flush_payloads() == []
    assert len(object_keys(aws_client, bucket)) == 2  # the small one went as it is
    assert all(key.startswith("sent/") for key in object_keys(aws_client, bucket))

    theirs = extended_sqs(extended, endpoint_url, bucket, aws_client)
    received: Dict[str, str] = {}
    for _ in range(20):
        response = theirs.receive_message(
            QueueUrl=queue["url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            received[message["MessageAttributes"]["name"]["StringValue"]] = message["Body"]
        if len(received) == len(sent):
            break
    assert received == sent


def test_the_pointer_message_is_in_the_libraries_format(
    aws_client: Any, endpoint_url: str, boto3_session: Any, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fmt"), visibility_timeout=30)
    text = payload(300 * KiB)
    dispatcher = SQSBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_threshold=256 * KiB,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    dispatcher.submit_payload(text, message_attributes={"tenant": "acme"})
    assert dispatcher.flush_payloads() == []
    (message,) = receive_all(sqs, queue["url"], 1)
    pointer = json.loads(message["Body"])
    (key,) = object_keys(aws_client, bucket)
    assert pointer == [POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}]
    assert message["Body"] == json.dumps(pointer)  # byte for byte as the libraries write it (json.dumps)
    assert message["MessageAttributes"][SIZE_ATTRIBUTE] == {
        "DataType": "Number",
        "StringValue": str(len(text.encode("utf-8"))),
    }
    assert message["MessageAttributes"]["tenant"]["StringValue"] == "acme"
    stored = aws_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    assert stored == text


# -- theirs -> our handlers ------------------------------------------------------------------


def _send_with_extended(
    extended: Any,
    endpoint_url: str,
    bucket: str,
    aws_client: Any,
    url: str,
    texts: List[str],
    **settings: Any,
) -> None:
    theirs = extended_sqs(extended, endpoint_url, bucket, aws_client, **settings)
    for text in texts:
        theirs.send_message(QueueUrl=url, MessageBody=text)


@pytest.mark.parametrize("legacy", [False, True], ids=["pointer", "legacy-pointer"])
def test_batch_processor_hands_our_handler_what_the_extended_client_sent(
    extended: Any, aws_client: Any, endpoint_url: str, bucket: str, unique_name: Any, legacy: bool
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("theirs"), visibility_timeout=30)
    texts = [payload(5 * MiB, "a"), payload(MiB + 1, "b"), payload(300 * KiB, "c")]
    _send_with_extended(
        extended, endpoint_url, bucket, aws_client, queue["url"], texts, use_legacy_attribute=legacy
    )
    assert len(object_keys(aws_client, bucket)) == 3
    event = event_of(receive_all(sqs, queue["url"], 3), queue)
    assert all(record["body"].startswith('["') for record in event["Records"])  # pointers on the wire
    seen: List[Tuple[str, str]] = []
    processor = BatchProcessor(
        EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket], max_concurrency=3
    )

    def handler(record: Any) -> None:
        seen.append((record["body"], record.body))
        assert "ExtendedPayloadSize" not in record["messageAttributes"]
        assert "SQSLargePayloadSize" not in record["messageAttributes"]

    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert sorted(body for body, _ in seen) == sorted(texts)
    assert all(body is attr for body, attr in seen)
    assert all(record["body"].startswith('["') for record in event["Records"])  # the event is untouched


def test_partial_sqs_processor_and_decorator_resolve_and_delete(
    extended: Any, aws_client: Any, endpoint_url: str, bucket: str, unique_name: Any, boto3_session: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("delmode"), visibility_timeout=30)
    texts = [payload(400 * KiB, f"m{n}") for n in range(4)]
    _send_with_extended(extended, endpoint_url, bucket, aws_client, queue["url"], texts)
    event = event_of(receive_all(sqs, queue["url"], 4), queue)
    keys = {record["messageId"]: json.loads(record["body"])[1]["s3Key"] for record in event["Records"]}
    bodies = {}

    def handler(record: Any) -> None:
        bodies[record["messageId"]] = record["body"]
        if record["body"].startswith("m1:"):
            raise ValueError(record["body"])  # would quote the body: it must not be logged

    @sqs_batch_processor(
        record_handler=handler,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
        delete_large_payloads=True,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
    )
    def lambda_handler(event: Any, context: Any) -> str:
        return "done"

    from lambda_batch import SQSBatchProcessingError

    with pytest.raises(SQSBatchProcessingError) as raised:
        lambda_handler(event, FakeLambdaContext())
    assert "m1:" not in str(raised.value)
    assert sorted(bodies.values()) == sorted(texts)
    failed_id = next(mid for mid, body in bodies.items() if body.startswith("m1:"))
    # the succeeded messages were deleted from the queue, then their objects; the failed one keeps its object
    assert object_keys(aws_client, bucket) == [keys[failed_id]]


def test_fifo_processor_resolves_only_records_that_run(
    extended: Any, aws_client: Any, endpoint_url: str, bucket: str, unique_name: Any, boto3_session: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fifo"), visibility_timeout=30, fifo=True)
    theirs = extended_sqs(extended, endpoint_url, bucket, aws_client, always_through_s3=True)
    for n in range(4):
        theirs.send_message(QueueUrl=queue["url"], MessageBody=f"order-{n}", MessageGroupId="g")
    event = event_of(receive_all(sqs, queue["url"], 4), queue)
    fetched = []

    def count(**kwargs: Any) -> None:
        fetched.append(kwargs)

    from lambda_batch.core.clients import ClientProvider

    boto3_session.events.register("before-call.s3.GetObject", count)
    processor = SqsFifoPartialProcessor(
        resolve_large_payloads=True, large_payload_buckets=[bucket], delete_large_payloads=True
    )
    processor._large_payloads.clients = ClientProvider("s3", boto3_session=boto3_session)
    seen = []

    def handler(record: Any) -> None:
        seen.append(record.body)
        if record.body == "order-1":
            raise RuntimeError("no")

    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    assert seen == ["order-0", "order-1"]
    assert len(response["batchItemFailures"]) == 3
    assert len(fetched) == 2  # records 2 and 3 were skipped: never fetched
    assert len(object_keys(aws_client, bucket)) == 3  # only order-0's object deleted


# -- SNS -> SQS ------------------------------------------------------------------------------


def _topic_to_queue(aws_client: Any, unique_name: Any, raw: bool) -> Tuple[str, Dict[str, str]]:
    sns = aws_client("sns")
    topic = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    queue = make_queue(aws_client("sqs"), unique_name("sub"), visibility_timeout=30)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue["arn"],
        Attributes={"RawMessageDelivery": "true" if raw else "false"},
    )
    return topic, queue


@pytest.mark.parametrize("raw", [True, False], ids=["raw-delivery", "sns-envelope"])
def test_sns_to_sqs_pointers_resolve_from_both_senders(
    extended: Any,
    aws_client: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    boto3_session: Any,
    raw: bool,
) -> None:
    topic, queue = _topic_to_queue(aws_client, unique_name, raw)
    theirs = extended[1](**CREDENTIALS).client("sns", endpoint_url=endpoint_url)
    theirs.s3_client = aws_client("s3")
    theirs.large_payload_support = bucket
    from_them = payload(300 * KiB, "sns-ext")
    theirs.publish(TopicArn=topic, Message=from_them)
    from_us = [payload(2 * MiB, "ours-big"), payload(10, "ours-small")]
    dispatcher = SNSBatchDispatcher(
        topic, large_payload_bucket=bucket, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    for text in from_us:
        dispatcher.submit_payload(text)
    assert dispatcher.flush_payloads() == []
    assert len(object_keys(aws_client, bucket)) == 2

    event = event_of(receive_all(aws_client("sqs"), queue["url"], 3), queue)
    bodies = []

    def handler(record: Any) -> None:
        bodies.append(record.body if raw else json.loads(record.body)["Message"])

    processor = BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket])
    assert process_partial_response(event, handler, processor, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert sorted(bodies) == sorted([from_them, *from_us])


def test_partial_processor_given_session_reads_s3_with_it(
    aws_client: Any, endpoint_url: str, bucket: str, unique_name: Any, boto3_session: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("sess"), visibility_timeout=30)
    dispatcher = SQSBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    dispatcher.submit_payload({"n": 1})
    assert dispatcher.flush_payloads() == []
    event = event_of(receive_all(sqs, queue["url"], 1), queue)
    gets = []
    boto3_session.events.register("before-call.s3.GetObject", lambda **kwargs: gets.append(1))
    processor = PartialSQSProcessor(
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
    )
    seen = []
    with processor(event["Records"], lambda record: seen.append(record.json_body), FakeLambdaContext()):
        processor.process()
    assert seen == [{"n": 1}]
    assert gets == [1]
    client = processor._large_payloads.clients.get()
    assert client.meta.config.retries["total_max_attempts"] == 1  # one retry loop: the layer's
