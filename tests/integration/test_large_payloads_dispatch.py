"""Sending large payloads through S3 with the SQS and SNS dispatchers, on the moto server.

Thresholds, packing by the pointer message's real size, FIFO deduplication from the payload,
and the faults: S3 PutObject throttled or denied (the item comes back, nothing is sent),
a send that finally fails (its object is deleted, unless the send's outcome is unknown).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Dict, List

import pytest

from lambda_batch import (
    ConfigurationError,
    PayloadError,
    SNSBatchDispatcher,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.dispatchers.serialization import utf8_len
from lambda_batch.payloads.pointers import SIZE_ATTRIBUTE
from tests.faults import OK, Fault, FaultInjector, _http, drain_queue, fast_policy, track_concurrency
from tests.processing_events import CallCounter, make_queue

KiB = 1024
MiB = 1024 * KiB


def object_keys(aws_client: Any, bucket: str) -> List[str]:
    listing = aws_client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def resolve(aws_client: Any, message: Dict[str, Any]) -> str:
    """A received message's payload: read through its pointer when it has one."""
    if SIZE_ATTRIBUTE not in message.get("MessageAttributes", {}):
        return str(message["Body"])
    location = json.loads(message["Body"])[1]
    obj = aws_client("s3").get_object(Bucket=location["s3BucketName"], Key=location["s3Key"])
    return str(obj["Body"].read().decode("utf-8"))


def s3_fault(session: Any, operation: str, status: int, code: str) -> List[int]:
    """Every ``operation`` call of S3 clients made from ``session`` fails with ``code``; the calls seen."""
    calls: List[int] = []

    def answer(**_: Any) -> Any:
        calls.append(1)
        parsed = {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        }
        return _http(status), parsed

    session.events.register(f"before-call.s3.{operation}", answer)
    return calls


def sqs_dispatcher(queue_url: str, session: Any, endpoint_url: str, **options: Any) -> SQSBatchDispatcher:
    return SQSBatchDispatcher(
        queue_url, boto3_session=session, endpoint_url=endpoint_url, payload_encoding="raw", **options
    )


# -- sizes -----------------------------------------------------------------------------------


def test_ten_200_kib_payloads_go_through_with_and_without_offloading(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("ten"), visibility_timeout=30)
    sends = CallCounter(boto3_session, "sqs", "SendMessageBatch")
    texts = [f"{n}:" + "p" * (200 * KiB - 2) for n in range(10)]

    plain = sqs_dispatcher(queue["url"], boto3_session, endpoint_url, large_payload_bucket=bucket)
    for text in texts:
        plain.submit_payload(text)
    assert plain.flush_payloads() == []
    assert sends.entries_per_call() == [5, 5]  # each fits in a message: packed by size, nothing in S3
    assert object_keys(aws_client, bucket) == []

    offloading = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=100 * KiB,
    )
    for text in texts:
        offloading.submit_payload(text)
    assert offloading.flush_payloads() == []
    assert sends.entries_per_call() == [5, 5, 10]  # ten pointers in one call
    assert len(object_keys(aws_client, bucket)) == 10
    received = sorted(resolve(aws_client, m) for m in drain_queue(sqs, queue["url"], attributes=True))
    assert received == sorted(texts + texts)


def test_packing_counts_the_pointer_messages_real_size(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("pack"), visibility_timeout=30)
    sends = CallCounter(boto3_session, "sqs", "SendMessageBatch")
    dispatcher = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        max_batch_bytes=2000,
    )
    attributes = {"a": "x" * 200}
    dispatcher.submit_payload("small", message_attributes=attributes)
    (entry,) = dispatcher._buffer.open
    request = entry.request
    measured = utf8_len(request["MessageBody"]) + sum(
        utf8_len(name) + utf8_len(value["DataType"]) + utf8_len(value["StringValue"])
        for name, value in request["MessageAttributes"].items()
    )
    assert entry.size == measured
    for _ in range(9):
        dispatcher.submit_payload("small", message_attributes=attributes)
    assert dispatcher.flush_payloads() == []
    per_call = 2000 // measured
    assert sends.entries_per_call()[0] == per_call
    assert sum(sends.entries_per_call()) == 10
    assert len(drain_queue(sqs, queue["url"])) == 10


def test_thresholds_none_number_and_zero(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("small"), Attributes={"MaximumMessageSize": "2048"})[
        "QueueUrl"
    ]
    cases = [(None, ["a" * 2048, "a" * 2049], 1), (100, ["a" * 100, "a" * 101], 1), (0, ["a", "b"], 2)]
    for threshold, texts, stored in cases:
        before = len(object_keys(aws_client, bucket))
        dispatcher = sqs_dispatcher(
            url, boto3_session, endpoint_url, large_payload_bucket=bucket, large_payload_threshold=threshold
        )
        for text in texts:
            dispatcher.submit_payload(text)
        assert dispatcher.flush_payloads() == []
        assert len(object_keys(aws_client, bucket)) - before == stored, threshold
        received = sorted(resolve(aws_client, m) for m in drain_queue(sqs, url, attributes=True))
        assert received == sorted(texts)


def test_sns_offloads_over_256_kib(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sns = aws_client("sns")
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    queue = make_queue(aws_client("sqs"), unique_name("sub"), visibility_timeout=30)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue["arn"], Attributes={"RawMessageDelivery": "true"}
    )
    dispatcher = SNSBatchDispatcher(
        topic, large_payload_bucket=bucket, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    texts = ["s" * (256 * KiB), "s" * (256 * KiB + 1)]
    for text in texts:
        dispatcher.submit_payload(text, subject=None)
    assert dispatcher.flush_payloads() == []
    assert len(object_keys(aws_client, bucket)) == 1
    messages = drain_queue(aws_client("sqs"), queue["url"], attributes=True)
    assert sorted(resolve(aws_client, m) for m in messages) == sorted(texts)
    with pytest.raises(PayloadError, match="message_structure"):
        dispatcher.submit_payload(json.dumps({"default": "x" * 300 * KiB}), message_structure="json")


# -- FIFO --------------------------------------------------------------------------------------


def test_fifo_deduplicates_offloaded_messages_by_their_payload(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("dedup"), visibility_timeout=30, fifo=True)  # content-based
    dispatcher = SQSFifoBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    for text in ("same", "same", "other"):
        dispatcher.submit_payload(text, message_group_id="g")
    assert dispatcher.flush_payloads() == []
    messages = drain_queue(sqs, queue["url"], attributes=True)
    assert [resolve(aws_client, m) for m in messages] == ["same", "other"]
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()


def test_fifo_by_content_dedup_ids_hash_the_payload_on_a_queue_without_content_dedup(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("ids") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dispatcher = SQSFifoBatchDispatcher(
        url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        deduplicate_by_content=True,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    dispatcher.submit_payload("x" * 10, message_group_id="g")
    dispatcher.submit_payload("x" * 10, message_group_id="g")
    assert dispatcher.flush_payloads() == []
    messages = drain_queue(sqs, url, attributes=True)
    assert len(messages) == 1
    assert messages[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"x" * 10).hexdigest()


# -- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "attempts"),
    [(503, "SlowDown", 3), (403, "AccessDenied", 1)],
    ids=["throttled", "denied"],
)
def test_put_object_failure_returns_the_item_and_sends_nothing(
    aws_client: Any,
    boto3_session: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    status: int,
    code: str,
    attempts: int,
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("putfail"), visibility_timeout=30)
    puts = s3_fault(boto3_session, "PutObject", status, code)
    dispatcher = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=1000,
        retry_policy=fast_policy(3),
    )
    big = {"blob": "b" * 2000}
    dispatcher.submit_payload("small one", message_id="small")
    dispatcher.submit_payload(big, message_id="big")
    assert dispatcher.flush_payloads() == [big]
    (detail,) = dispatcher.unprocessed_details
    assert (detail.code, detail.record_id, detail.attempts) == (code, "big", attempts)
    assert "S3 PutObject" in detail.message
    assert len(puts) == attempts
    assert [m["Body"] for m in drain_queue(sqs, queue["url"])] == ["small one"]
    assert object_keys(aws_client, bucket) == []


def test_fifo_messages_behind_an_unstored_one_are_held_back(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("fifohold"), visibility_timeout=30, fifo=True)
    s3_fault(boto3_session, "PutObject", 403, "AccessDenied")
    dispatcher = SQSFifoBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_threshold=100,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
        retry_policy=fast_policy(3),
    )
    dispatcher.submit_payload("first", message_group_id="g", message_id="first")
    dispatcher.submit_payload("x" * 200, message_group_id="g", message_id="large")
    dispatcher.submit_payload("after", message_group_id="g", message_id="after")
    dispatcher.submit_payload("other", message_group_id="h", message_id="other")
    assert dispatcher.flush_payloads() == ["x" * 200, "after"]
    assert [d.code for d in dispatcher.unprocessed_details] == ["AccessDenied", "FifoGroupHalted"]
    assert sorted(m["Body"] for m in drain_queue(sqs, queue["url"])) == ["first", "other"]


def test_send_refused_deletes_the_orphaned_object(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("orphan"), visibility_timeout=30)
    FaultInjector(boto3_session, "sqs", lambda call, n: OK, fail_entries=lambda entry: False)
    dispatcher = sqs_dispatcher(
        queue["url"], boto3_session, endpoint_url, large_payload_bucket=bucket, large_payload_threshold=0
    )
    dispatcher.submit_payload("refused")
    assert dispatcher.flush_payloads() == ["refused"]
    assert dispatcher.unprocessed_details[0].code == "InvalidParameterValue"
    assert object_keys(aws_client, bucket) == []


def test_send_of_unknown_outcome_keeps_the_object(
    aws_client: Any,
    boto3_session: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("unknown"), visibility_timeout=30)
    FaultInjector(boto3_session, "sqs", lambda call, n: Fault("server"))
    puts = s3_calls(boto3_session, "PutObject")
    dispatcher = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        retry_policy=fast_policy(2),
    )
    dispatcher.submit_payload("maybe-sent")
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        assert dispatcher.flush_payloads() == ["maybe-sent"]
    # each attempt may have landed: each had an object of its own, and both are kept
    keys = object_keys(aws_client, bucket)
    assert len(keys) == len(puts) == 2
    assert "outcome is unknown" in caplog.text
    assert not any(key in caplog.text for key in keys)  # keys only when asked
    assert "maybe-sent" not in caplog.text


def s3_calls(session: Any, operation: str) -> List[Dict[str, Any]]:
    """The parameters of every ``operation`` call of S3 clients made from ``session``."""
    calls: List[Dict[str, Any]] = []
    session.events.register(f"before-call.s3.{operation}", lambda params, **_: calls.append(params))
    return calls


def lose_first_response(session: Any, how: str) -> List[int]:
    """The first SendMessageBatch lands, then its answer is lost (a read timeout) or is a 500."""
    from botocore.exceptions import ClientError, ReadTimeoutError

    calls: List[int] = []

    def after(**_: Any) -> None:
        calls.append(1)
        if len(calls) > 1:
            return
        if how == "timeout":
            raise ReadTimeoutError(endpoint_url="http://sqs-after-landing")
        error = {"Error": {"Code": "InternalError", "Message": "injected after landing"}}
        raise ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 500}}, "SendMessageBatch")

    session.events.register("after-call.sqs.SendMessageBatch", after)
    return calls


@pytest.mark.parametrize("how", ["timeout", "5xx"])
def test_a_send_retried_after_an_unknown_outcome_points_to_an_object_of_its_own(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any, how: str
) -> None:
    from lambda_batch import BatchProcessor, EventType, process_partial_response
    from tests.processing_events import FakeLambdaContext, lambda_sqs_record, receive_all

    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("dup"), visibility_timeout=30)
    sends = lose_first_response(boto3_session, how)
    dispatcher = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        retry_policy=fast_policy(3),
    )
    dispatcher.submit_payload("the payload")
    assert dispatcher.flush_payloads() == []
    assert len(sends) == 2
    messages = receive_all(sqs, queue["url"], 2)
    assert len(messages) == 2  # the first send landed, and so did its retry: a duplicate
    assert len({json.loads(m["Body"])[1]["s3Key"] for m in messages}) == 2
    # each copy consumed by an invocation of its own, deleting its object when done
    seen = []
    for message in messages:
        processor = BatchProcessor(
            EventType.SQS,
            resolve_large_payloads=True,
            delete_large_payloads=True,
            large_payload_buckets=[bucket],
        )
        event = {"Records": [lambda_sqs_record(message, queue["arn"])]}
        response = process_partial_response(
            event, lambda r: seen.append(r.body), processor, FakeLambdaContext()
        )
        assert response == {"batchItemFailures": []}, processor.exceptions
    assert seen == ["the payload", "the payload"]
    assert object_keys(aws_client, bucket) == []


def test_puts_run_concurrently_with_max_workers(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("conc"), visibility_timeout=30)
    state = track_concurrency(boto3_session, "s3.PutObject")
    dispatcher = sqs_dispatcher(
        queue["url"],
        boto3_session,
        endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        max_workers=4,
    )
    for n in range(10):
        dispatcher.submit_payload(f"p{n}")
    assert dispatcher.flush_payloads() == []
    assert state["peak"] > 1
    assert len(object_keys(aws_client, bucket)) == 10
    assert len(drain_queue(sqs, queue["url"])) == 10


def test_deadline_passed_sends_and_stores_nothing(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("late"), visibility_timeout=30)
    dispatcher = sqs_dispatcher(
        queue["url"], boto3_session, endpoint_url, large_payload_bucket=bucket, large_payload_threshold=0
    )
    dispatcher.submit_payload("early")  # resolves the queue while there is time
    dispatcher.set_deadline(0.5)  # within the policy's 1 s margin: no call starts
    dispatcher.submit_payload("late")
    assert dispatcher.flush_payloads() == ["early", "late"]
    assert {d.code for d in dispatcher.unprocessed_details} == {"DeadlineExceeded"}
    assert object_keys(aws_client, bucket) == []


# -- bad input ---------------------------------------------------------------------------------


def test_bad_settings_and_payloads_are_refused(aws_client: Any, bucket: str) -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    with pytest.raises(ConfigurationError, match="large_payload_bucket"):
        SQSBatchDispatcher(url, large_payload_bucket="")
    with pytest.raises(ConfigurationError, match="large_payload_threshold"):
        SQSBatchDispatcher(url, large_payload_bucket=bucket, large_payload_threshold=-1)
    with pytest.raises(ConfigurationError, match="need large_payload_bucket"):
        SQSBatchDispatcher(url, large_payload_threshold=10)
    with pytest.raises(TypeError, match="large_payload_buckett"):
        SQSBatchDispatcher(url, large_payload_buckett=bucket)
    dispatcher = SQSBatchDispatcher(url, large_payload_bucket=bucket, large_payload_threshold=0, deadline=0)
    with pytest.raises(PayloadError, match="reserved"):
        dispatcher.submit_payload("x", message_attributes={SIZE_ATTRIBUTE: 5})
    with pytest.raises(PayloadError, match="over the limit of 10"):
        dispatcher.submit_payload("x", message_attributes={f"a{n}": "v" for n in range(10)})
    dispatcher.submit_payload("x", message_attributes={f"a{n}": "v" for n in range(9)})


def test_sns_put_object_denied_returns_the_item_and_publishes_nothing(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    sns = aws_client("sns")
    topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
    queue = make_queue(aws_client("sqs"), unique_name("sub"), visibility_timeout=30)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue["arn"], Attributes={"RawMessageDelivery": "true"}
    )
    s3_fault(boto3_session, "PutObject", 403, "AccessDenied")
    dispatcher = SNSBatchDispatcher(
        topic,
        large_payload_bucket=bucket,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        retry_policy=fast_policy(3),
    )
    big = "b" * (256 * KiB + 1)
    dispatcher.submit_payload(big, message_id="big")
    dispatcher.submit_payload("small", message_id="small")
    assert dispatcher.flush_payloads() == [big]
    assert dispatcher.unprocessed_details[0].code == "AccessDenied"
    assert [m["Body"] for m in drain_queue(aws_client("sqs"), queue["url"])] == ["small"]


def test_sns_fifo_deduplication_id_hashes_the_payload(bucket: str) -> None:
    dispatcher = SNSBatchDispatcher(
        "arn:aws:sns:us-east-1:123456789012:orders.fifo",
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        deduplicate_by_content=True,
        deadline=0,  # nothing is sent: the request is read as built
    )
    dispatcher.submit_payload("the payload", message_group_id="g")
    (entry,) = dispatcher._buffer.open
    assert entry.request["Message"].startswith('["software.amazon.payloadoffloading.PayloadS3Pointer"')
    assert entry.request["MessageDeduplicationId"] == hashlib.sha256(b"the payload").hexdigest()
