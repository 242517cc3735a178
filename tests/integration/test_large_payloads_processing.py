"""Resolving large payloads in the processors, on the moto server: faults, deadline, deletes, options.

The pointer messages are sent by our own dispatcher (its format is checked against the
AWS Extended Client libraries in test_large_payloads_interop.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List

import pytest

from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    ConfigurationError,
    EventType,
    PartialSQSProcessor,
    SQSBatchDispatcher,
    SQSBatchProcessingError,
    async_process_partial_response,
    process_partial_response,
)
from lambda_batch.core.clients import ClientProvider
from tests.faults import _http, track_concurrency
from tests.processing_events import FakeLambdaContext, lambda_sqs_record, make_queue, receive_all

KiB = 1024


@pytest.fixture()
def pointer_event(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> Any:
    """``make(texts)``: the texts sent through S3 (threshold 0), received as Lambda's SQS event."""

    def make(texts: List[str]) -> Dict[str, Any]:
        sqs = aws_client("sqs")
        queue = make_queue(sqs, unique_name("lp"), visibility_timeout=30)
        dispatcher = SQSBatchDispatcher(
            queue["url"],
            large_payload_bucket=bucket,
            large_payload_threshold=0,
            boto3_session=boto3_session,
            endpoint_url=endpoint_url,
            payload_encoding="raw",
        )
        for text in texts:
            dispatcher.submit_payload(text)
        assert dispatcher.flush_payloads() == []
        messages = receive_all(sqs, queue["url"], len(texts))
        order = {text: n for n, text in enumerate(texts)}
        records = [lambda_sqs_record(message, queue["arn"]) for message in messages]
        keyed = {record["messageId"]: record for record in records}
        # the event in the order sent, each record's text known from its object
        s3 = aws_client("s3")
        by_text = {}
        for record in keyed.values():
            location = json.loads(record["body"])[1]
            text = (
                s3.get_object(Bucket=location["s3BucketName"], Key=location["s3Key"])["Body"].read().decode()
            )
            by_text[text] = record
        return {"Records": [by_text[text] for text in sorted(by_text, key=order.__getitem__)]}

    return make


def key_of(record: Dict[str, Any]) -> str:
    return str(json.loads(record["body"])[1]["s3Key"])


def object_keys(aws_client: Any, bucket: str) -> List[str]:
    listing = aws_client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def counting(session: Any, operation: str = "GetObject") -> List[int]:
    calls: List[int] = []
    session.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


def with_session_clients(processor: Any, session: Any) -> Any:
    processor._large_payloads.clients = ClientProvider("s3", boto3_session=session)
    return processor


@pytest.mark.parametrize("concurrency", [1, 4])
def test_missing_object_fails_that_record_only_and_logs_no_body(
    pointer_event: Any,
    aws_client: Any,
    bucket: str,
    caplog: pytest.LogCaptureFixture,
    concurrency: int,
) -> None:
    texts = [f"secret-{n}-" + "z" * 100 for n in range(5)]
    event = pointer_event(texts)
    missing = event["Records"][2]
    aws_client("s3").delete_object(Bucket=bucket, Key=key_of(missing))
    seen = []
    processor = BatchProcessor(
        EventType.SQS,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
        max_concurrency=concurrency,
    )
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        response = process_partial_response(
            event, lambda r: seen.append(r.body), processor, FakeLambdaContext()
        )
    assert response == {"batchItemFailures": [{"itemIdentifier": missing["messageId"]}]}
    assert sorted(seen) == sorted(texts[:2] + texts[3:])
    (failure,) = processor.exceptions
    assert failure[0].__name__ == "LargePayloadError"
    assert bucket in str(failure[1]) and "NoSuchKey" in str(failure[1])
    assert "secret-" not in caplog.text
    assert key_of(missing) not in caplog.text + str(failure[1])  # keys only when asked


def test_marked_record_without_a_pointer_body_fails(pointer_event: Any, bucket: str) -> None:
    event = pointer_event(["a", "b"])
    event["Records"][0]["body"] = "not a pointer"
    processor = BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket])
    seen = []
    response = process_partial_response(event, lambda r: seen.append(r.body), processor, FakeLambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert seen == ["b"]
    assert "not an S3 pointer" in str(processor.exceptions[0][1])


def test_throttled_get_is_retried(pointer_event: Any, boto3_session: Any, bucket: str) -> None:
    event = pointer_event(["payload"])
    throttles = []

    def throttle_once(**_: Any) -> Any:
        if throttles:
            return None
        throttles.append(1)
        parsed = {
            "Error": {"Code": "SlowDown", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 503, "HTTPHeaders": {}},
        }
        return _http(503), parsed

    gets = counting(boto3_session)  # first: the throttling hook answers in place of the server
    boto3_session.events.register("before-call.s3.GetObject", throttle_once)
    processor = with_session_clients(
        BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket]),
        boto3_session,
    )
    seen = []
    assert process_partial_response(event, lambda r: seen.append(r.body), processor, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert seen == ["payload"]
    assert len(gets) == 2


def test_records_skipped_by_the_deadline_are_not_fetched(
    pointer_event: Any, boto3_session: Any, bucket: str
) -> None:
    event = pointer_event(["a", "b"])
    gets = counting(boto3_session)
    processor = with_session_clients(
        BatchProcessor(
            EventType.SQS,
            resolve_large_payloads=True,
            large_payload_buckets=[bucket],
            raise_on_entire_batch_failure=False,
        ),
        boto3_session,
    )
    response = process_partial_response(event, lambda r: None, processor, FakeLambdaContext(remaining_ms=500))
    assert len(response["batchItemFailures"]) == 2
    assert gets == []


def test_native_mode_deletes_objects_of_succeeded_records_only(
    pointer_event: Any, aws_client: Any, bucket: str
) -> None:
    event = pointer_event(["ok-1", "fail", "ok-2"])
    keys = [key_of(record) for record in event["Records"]]

    def handler(record: Any) -> None:
        if record.body == "fail":
            raise ValueError("no")

    processor = BatchProcessor(
        EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket], delete_large_payloads=True
    )
    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    assert len(response["batchItemFailures"]) == 1
    assert object_keys(aws_client, bucket) == [keys[1]]


def test_delete_mode_keeps_the_object_of_a_message_not_deleted(
    pointer_event: Any, aws_client: Any, bucket: str, boto3_session: Any, endpoint_url: str
) -> None:
    event = pointer_event(["ok-1", "fail", "ok-2", "not-deleted"])
    keys = [key_of(record) for record in event["Records"]]

    def refuse_last(params: Dict[str, Any], **_: Any) -> None:
        entries = params["Entries"]
        handle = event["Records"][3]["receiptHandle"]
        params["Entries"] = [entry for entry in entries if entry["ReceiptHandle"] != handle]
        refused.extend(entry["Id"] for entry in entries if entry["ReceiptHandle"] == handle)

    def add_failure(parsed: Dict[str, Any], **_: Any) -> None:
        parsed.setdefault("Failed", []).extend(
            {"Id": entry_id, "Code": "ReceiptHandleIsInvalid", "SenderFault": True, "Message": "x"}
            for entry_id in refused
        )

    refused: List[str] = []
    boto3_session.events.register("before-parameter-build.sqs.DeleteMessageBatch", refuse_last)
    boto3_session.events.register("after-call.sqs.DeleteMessageBatch", add_failure)

    def handler(record: Any) -> None:
        if record.body == "fail":
            raise ValueError("no")

    processor = PartialSQSProcessor(
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
        delete_large_payloads=True,
    )
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], handler, FakeLambdaContext()):
        processor.process()
    assert [failure.message_id for failure in processor.delete_failures] == [event["Records"][3]["messageId"]]
    assert object_keys(aws_client, bucket) == sorted([keys[1], keys[3]])


def test_delete_mode_all_succeeded_deletes_every_object(
    pointer_event: Any, aws_client: Any, bucket: str, boto3_session: Any, endpoint_url: str
) -> None:
    event = pointer_event(["a", "b"])
    processor = PartialSQSProcessor(
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
        delete_large_payloads=True,
    )
    with processor(event["Records"], lambda r: None, FakeLambdaContext()):
        processor.process()
    assert object_keys(aws_client, bucket) == []


def test_async_handler_and_model_get_the_payload(pointer_event: Any, bucket: str) -> None:
    event = pointer_event(['{"n": 1}', '{"n": 2}'])
    seen = []

    async def handler(record: Any) -> None:
        await asyncio.sleep(0)
        seen.append(record.json_body["n"])

    processor = AsyncBatchProcessor(
        EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket]
    )
    assert async_process_partial_response(event, handler, processor, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert sorted(seen) == [1, 2]

    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        messageId: str
        body: str

    models = []
    processor = BatchProcessor(
        EventType.SQS, model=Message, resolve_large_payloads=True, large_payload_buckets=[bucket]
    )
    process_partial_response(event, models.append, processor, FakeLambdaContext())
    assert sorted(json.loads(m.body)["n"] for m in models) == [1, 2]
    assert all(record["body"].startswith('["') for record in event["Records"])  # the event is untouched


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="needs resolve_large_payloads"):
        BatchProcessor(EventType.SQS, delete_large_payloads=True)
    with pytest.raises(ConfigurationError, match=r"EventType\.SQS"):
        BatchProcessor(
            EventType.KinesisDataStreams, resolve_large_payloads=True, large_payload_buckets=["b-1"]
        )
    with pytest.raises(ConfigurationError, match="True or False"):
        BatchProcessor(EventType.SQS, resolve_large_payloads="yes", large_payload_buckets=["b-1"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        BatchProcessor(EventType.SQS, resolve_large_payload=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="resolve_large_payload"):
        PartialSQSProcessor(resolve_large_payload=True)
    with pytest.raises(TypeError, match="'large_payload_bucket'"):
        BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_bucket="b-1")  # type: ignore[call-arg]
    unresolved = BatchProcessor(EventType.SQS)
    assert unresolved._large_payloads is None


def test_without_the_option_pointers_reach_the_handler_as_sent(pointer_event: Any) -> None:
    event = pointer_event(["x" * 10 * KiB])
    seen = []
    processor = BatchProcessor(EventType.SQS)
    process_partial_response(event, lambda r: seen.append(r.body), processor, FakeLambdaContext())
    assert seen[0].startswith('["software.amazon.payloadoffloading.PayloadS3Pointer"')


def test_a_custom_process_record_gets_the_payload_and_an_unreadable_one_fails(
    pointer_event: Any, aws_client: Any, bucket: str
) -> None:
    event = pointer_event(["first", "second"])
    aws_client("s3").delete_object(Bucket=bucket, Key=key_of(event["Records"][1]))

    class Custom(BatchProcessor):
        def _process_record(self, record: Any) -> Any:  # the Powertools way of customising
            try:
                return self.success_handler(record, self.handler(record))
            except Exception as exc:
                return self.failure_handler(record, exc)

    seen = []
    processor = Custom(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket])
    response = process_partial_response(
        event, lambda r: seen.append(r["body"]), processor, FakeLambdaContext()
    )
    assert seen == ["first"]
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


@pytest.mark.parametrize("copy_fails", [True, False])
def test_an_object_another_record_still_needs_is_kept(
    pointer_event: Any, aws_client: Any, bucket: str, copy_fails: bool
) -> None:
    event = pointer_event(["shared"])
    duplicate = dict(event["Records"][0], messageId="dup-1")  # a second delivery of the same pointer
    event["Records"].append(duplicate)
    key = key_of(duplicate)

    def handler(record: Any) -> None:
        if copy_fails and record["messageId"] == "dup-1":
            raise ValueError("no")

    processor = BatchProcessor(
        EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket], delete_large_payloads=True
    )
    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    assert len(response["batchItemFailures"]) == (1 if copy_fails else 0)
    assert object_keys(aws_client, bucket) == ([key] if copy_fails else [])


@pytest.mark.parametrize(("concurrency", "overlap"), [(1, False), (4, True)])
def test_payloads_are_fetched_concurrently_with_max_concurrency(
    pointer_event: Any, boto3_session: Any, concurrency: int, overlap: bool, bucket: str
) -> None:
    event = pointer_event([f"p{n}" for n in range(6)])
    state = track_concurrency(boto3_session, "s3.GetObject")
    processor = with_session_clients(
        BatchProcessor(
            EventType.SQS,
            resolve_large_payloads=True,
            large_payload_buckets=[bucket],
            max_concurrency=concurrency,
        ),
        boto3_session,
    )
    seen = []
    assert process_partial_response(event, lambda r: seen.append(r.body), processor, FakeLambdaContext()) == {
        "batchItemFailures": []
    }
    assert sorted(seen) == [f"p{n}" for n in range(6)]
    assert (state["peak"] > 1) is overlap
