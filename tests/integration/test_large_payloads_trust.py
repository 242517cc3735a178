"""Large payload pointers under hostile review, on the moto server: every field of a message is hostile.

A pointer names its own bucket and key and its message declares its size, and anyone who may
send to the queue writes them. The processors read only the buckets they are told, as the
account they are told, never more than the message declares nor past the deadline margin.
Requests are counted as they leave the process (botocore ``before-send``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

import pytest

from emulator.fault_proxy import FaultProxy
from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    ConfigurationError,
    EventType,
    PartialSQSProcessor,
    SQSBatchDispatcher,
    SqsFifoPartialProcessor,
    process_partial_response,
    sqs_batch_processor,
)
from lambda_batch.payloads.pointers import pointer_body
from lambda_batch.processing.features.large_payload_options import FALLBACK_MAX_BYTES, check_settings
from tests.processing_events import FakeLambdaContext, lambda_sqs_record, make_queue, receive_all

KiB = 1024
MiB = 1024 * KiB
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:consumer"


class ArnContext(FakeLambdaContext):
    """A Lambda context with the invoked function's ARN (its account owns the payload bucket)."""

    invoked_function_arn = FUNCTION_ARN


def sent_requests(session: Any) -> List[Tuple[str, str, Dict[str, str]]]:
    """Every S3 request that leaves the process through clients of ``session``: (method, url, headers)."""
    requests: List[Tuple[str, str, Dict[str, str]]] = []

    def record(request: Any, **_: Any) -> None:
        items = request.headers.items()
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else str(v) for k, v in items}
        requests.append((request.method, request.url, headers))

    session.events.register("before-send.s3", record)
    return requests


def pointer_events(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any, texts: List[str]
) -> Dict[str, Any]:
    """``texts`` sent through S3 by our dispatcher and received as Lambda's SQS event, in order."""
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("trust"), visibility_timeout=30)
    dispatcher = SQSBatchDispatcher(
        queue["url"],
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        payload_encoding="raw",
    )
    for n, text in enumerate(texts):
        position = {"n": {"DataType": "Number", "StringValue": str(n)}}
        dispatcher.submit_payload(text, message_attributes=position)
    assert dispatcher.flush_payloads() == []
    records = [lambda_sqs_record(m, queue["arn"]) for m in receive_all(sqs, queue["url"], len(texts))]
    return {"Records": sorted(records, key=lambda r: int(r["messageAttributes"]["n"]["stringValue"]))}


def repointed(record: Dict[str, Any], bucket: str, key: str, size: int, message_id: str) -> Dict[str, Any]:
    """A copy of a pointer record naming ``bucket``/``key`` and declaring ``size`` bytes."""
    attributes = dict(record["messageAttributes"])
    attributes["ExtendedPayloadSize"] = {"stringValue": str(size), "dataType": "Number"}
    return dict(record, messageId=message_id, body=pointer_body(bucket, key), messageAttributes=attributes)


def object_keys(aws_client: Any, bucket: str) -> List[str]:
    listing = aws_client("s3").list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listing.get("Contents", []))


# -- which buckets, whose ---------------------------------------------------------------------


HOSTILE_BUCKETS = {
    "foreign": None,  # a bucket of this account the processor was not told about (made in the test)
    "access-point": "arn:aws:s3:eu-west-1:999999999999:accesspoint/their-point",
    "object-lambda": "arn:aws:s3-object-lambda:us-west-2:999999999999:accesspoint/their-olap",
    "outposts": "arn:aws:s3-outposts:us-east-1:999999999999:outpost/op-1/accesspoint/ap",
}


def test_pointers_outside_the_allowed_buckets_send_nothing_and_delete_nothing(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    victim = unique_name("victim-secrets")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=victim)
    s3.put_object(Bucket=victim, Key="config/prod.env", Body=b"DB_PASSWORD=hunter2")
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, ["fine"])
    good = event["Records"][0]
    for label, name in HOSTILE_BUCKETS.items():
        event["Records"].append(repointed(good, name or victim, "config/prod.env", 19, f"hostile-{label}"))
    requests = sent_requests(boto3_session)
    seen = []
    processor = BatchProcessor(
        EventType.SQS,
        resolve_large_payloads=True,
        delete_large_payloads=True,
        large_payload_buckets=[bucket],
        boto3_session=boto3_session,
    )
    response = process_partial_response(event, lambda r: seen.append(r.body), processor, ArnContext())
    assert seen == ["fine"]
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(
        f"hostile-{label}" for label in HOSTILE_BUCKETS
    )
    for kind, error, _ in processor.exceptions:
        assert kind.__name__ == "LargePayloadError"
        assert "large_payload_buckets" in str(error)
        assert "prod.env" not in str(error) and "hunter2" not in str(error)
    # only the good record's GetObject and its DeleteObjects left the process
    assert [method for method, _, _ in requests] == ["GET", "POST"]
    assert all(f"/{bucket}/" in url or url.endswith(f"/{bucket}?delete") for _, url, _ in requests), requests
    assert object_keys(aws_client, victim) == ["config/prod.env"]
    assert object_keys(aws_client, bucket) == []


@pytest.mark.parametrize(
    ("option", "expected"), [(None, ACCOUNT), ("111122223333", "111122223333")], ids=["own", "named"]
)
def test_reads_and_deletes_carry_the_expected_bucket_owner(
    aws_client: Any,
    boto3_session: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    option: Any,
    expected: str,
) -> None:
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, ["a", "b"])
    requests = sent_requests(boto3_session)
    processor = BatchProcessor(
        EventType.SQS,
        resolve_large_payloads=True,
        delete_large_payloads=True,
        large_payload_buckets=[bucket],
        large_payload_bucket_owner=option,
        boto3_session=boto3_session,
    )
    process_partial_response(event, lambda r: None, processor, ArnContext())
    assert [method for method, _, _ in requests] == ["GET", "GET", "POST"]
    assert [headers.get("x-amz-expected-bucket-owner") for _, _, headers in requests] == [expected] * 3


PROCESSORS = {
    "BatchProcessor": lambda **o: BatchProcessor(EventType.SQS, **o),
    "AsyncBatchProcessor": lambda **o: AsyncBatchProcessor(EventType.SQS, **o),
    "SqsFifoPartialProcessor": SqsFifoPartialProcessor,
    "PartialSQSProcessor": PartialSQSProcessor,
    "sqs_batch_processor": lambda **o: sqs_batch_processor(record_handler=print, **o),
}


@pytest.mark.parametrize("make", PROCESSORS.values(), ids=list(PROCESSORS))
def test_every_processor_takes_the_options_and_refuses_resolving_without_buckets(make: Any) -> None:
    with pytest.raises(ConfigurationError, match="large_payload_buckets"):
        make(resolve_large_payloads=True)
    with pytest.raises(ConfigurationError, match="large_payload_buckets"):
        make(resolve_large_payloads=True, large_payload_buckets=["arn:aws:s3:::payloads"])
    with pytest.raises(ConfigurationError, match="large_payload_buckets"):
        make(resolve_large_payloads=True, large_payload_buckets="payloads")  # a string, not a list of names
    with pytest.raises(ConfigurationError, match="needs resolve_large_payloads"):
        make(large_payload_buckets=["payloads"])
    with pytest.raises(ConfigurationError, match="large_payload_bucket_owner"):
        make(resolve_large_payloads=True, large_payload_buckets=["payloads"], large_payload_bucket_owner="me")
    with pytest.raises(ConfigurationError, match="max_large_payload_bytes"):
        make(resolve_large_payloads=True, large_payload_buckets=["payloads"], max_large_payload_bytes=0)
    with pytest.raises(TypeError, match="large_payload_bucket_owners"):
        make(resolve_large_payloads=True, large_payload_buckets=["payloads"], large_payload_bucket_owners="1")
    make(
        resolve_large_payloads=True,
        delete_large_payloads=True,
        large_payload_buckets=("payloads", "more.payloads"),
        large_payload_bucket_owner=ACCOUNT,
        max_large_payload_bytes=MiB,
    )


def test_the_default_size_bound_follows_the_functions_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = check_settings("BatchProcessor", True, ["payloads"], None, None)
    assert settings is not None
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", raising=False)
    assert settings.max_bytes_for(None) == FALLBACK_MAX_BYTES

    class Context:
        memory_limit_in_mb = "512"

    assert settings.max_bytes_for(Context()) == 128 * MiB
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    assert settings.max_bytes_for(Context()) == 32 * MiB
    bounded = check_settings("BatchProcessor", True, ["payloads"], None, 1000)
    assert bounded is not None and bounded.max_bytes_for(Context()) == 1000


# -- sizes -------------------------------------------------------------------------------------


def test_a_declared_size_over_the_bound_is_not_requested(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    texts = ["small", "x" * (2 * MiB)]
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, texts)
    requests = sent_requests(boto3_session)
    seen = []
    processor = BatchProcessor(
        EventType.SQS,
        resolve_large_payloads=True,
        large_payload_buckets=[bucket],
        max_large_payload_bytes=MiB,
        boto3_session=boto3_session,
    )
    response = process_partial_response(event, lambda r: seen.append(r.body), processor, ArnContext())
    assert seen == ["small"]
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][1]["messageId"]}]
    assert "max_large_payload_bytes" in str(processor.exceptions[0][1])
    assert len(requests) == 1  # the small one's GetObject only


def test_a_length_other_than_declared_fails_before_the_body(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, ["ok", "12345"])
    shorter = dict(event["Records"][1], messageId="declares-more")
    shorter["messageAttributes"] = dict(
        shorter["messageAttributes"], ExtendedPayloadSize={"stringValue": "6", "dataType": "Number"}
    )
    bad_size = dict(shorter, messageId="not-a-size")
    bad_size["messageAttributes"] = dict(
        shorter["messageAttributes"], ExtendedPayloadSize={"stringValue": "-1", "dataType": "Number"}
    )
    event["Records"] += [shorter, bad_size]
    seen = []
    processor = BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket])
    response = process_partial_response(event, lambda r: seen.append(r.body), processor, ArnContext())
    assert seen == ["ok", "12345"]
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["declares-more", "not-a-size"]
    assert "not the 6 bytes its message declares" in str(processor.exceptions[0][1])
    assert "not a size in bytes" in str(processor.exceptions[1][1])


_MEASURE = r"""
import json, sys, tracemalloc
from lambda_batch import BatchProcessor, EventType, process_partial_response

class Context:
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:consumer"
    def get_remaining_time_in_millis(self):
        return 60_000

warm, event, bucket = json.loads(sys.stdin.read())
processor = BatchProcessor(EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket])
handled = []
process_partial_response(warm, lambda r: None, processor, Context())  # clients made before measuring
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
response = process_partial_response(event, lambda r: handled.append(r["messageId"]), processor, Context())
peak = tracemalloc.get_traced_memory()[1] - before
tracemalloc.stop()
print(json.dumps({"peak": peak, "response": response, "handled": handled,
                  "errors": [str(e) for _, e, _ in processor.exceptions]}))
"""


def test_48_mib_declared_as_10_bytes_fails_that_record_only_without_reading_it(
    aws_client: Any, boto3_session: Any, endpoint_url: str, bucket: str, unique_name: Any
) -> None:
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, ["w", "a", "b"])
    warm = {"Records": event["Records"][:1]}
    aws_client("s3").put_object(Bucket=bucket, Key="huge", Body=b"\0" * (48 * MiB))
    event["Records"] = [*event["Records"][1:], repointed(event["Records"][1], bucket, "huge", 10, "liar")]
    # the consumer in a process of its own: the moto server's copies of the object stay out of its memory
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["layer", "."]), AWS_ENDPOINT_URL_S3=endpoint_url)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE],
        input=json.dumps([warm, event, bucket]),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    outcome = json.loads(result.stdout)
    assert outcome["response"] == {"batchItemFailures": [{"itemIdentifier": "liar"}]}
    assert sorted(outcome["handled"]) == sorted(r["messageId"] for r in event["Records"][:2])
    assert "not the 10 bytes its message declares" in outcome["errors"][0]
    assert outcome["peak"] < 8 * MiB, outcome["peak"]


# -- the deadline --------------------------------------------------------------------------------


@pytest.mark.realtime
def test_a_slow_body_stops_at_the_deadline_margin(
    aws_client: Any,
    boto3_session: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = "s" * MiB
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, [payload])
    seen = []
    with FaultProxy(endpoint_url, body_rate=100_000) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.endpoint_url)  # GetObject's body at 100 KB/s
        processor = BatchProcessor(
            EventType.SQS,
            resolve_large_payloads=True,
            large_payload_buckets=[bucket],
            raise_on_entire_batch_failure=False,
            boto3_session=boto3_session,
        )
        context = ArnContext(remaining_ms=3000)
        started = time.monotonic()
        response = process_partial_response(event, seen.append, processor, context)
        elapsed = time.monotonic() - started
        sent = proxy.body_bytes_sent
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert seen == []
    assert "before the deadline margin" in str(processor.exceptions[0][1])
    # The body would take 10 s at this rate; it was cut off with most of it unsent. The read
    # ends at the margin (2 s from the start); 3 s (the deadline itself) is the bound, with
    # room left for a machine under load by the margin the layer keeps.
    assert sent < MiB // 2, sent
    assert elapsed < 3.0, elapsed


@pytest.mark.realtime
def test_a_hung_endpoint_fails_the_record_by_the_deadline(
    aws_client: Any,
    boto3_session: Any,
    endpoint_url: str,
    bucket: str,
    unique_name: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = pointer_events(aws_client, boto3_session, endpoint_url, bucket, unique_name, ["never"])
    seen: List[Any] = []
    # a listening socket that never accepts: connections complete in the backlog, no answer comes
    with socket.create_server(("127.0.0.1", 0)) as hung:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{hung.getsockname()[1]}")
        processor = BatchProcessor(
            EventType.SQS,
            resolve_large_payloads=True,
            large_payload_buckets=[bucket],
            raise_on_entire_batch_failure=False,
            boto3_session=boto3_session,
        )
        context = ArnContext(remaining_ms=3000)
        started = time.monotonic()
        response = process_partial_response(event, seen.append, processor, context)
        elapsed = time.monotonic() - started
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert seen == []
    assert processor.exceptions[0][0].__name__ == "LargePayloadError"
    # Attempts with timeouts that shrink with the time left until the margin (2 s from the
    # start), none started after it: the record has failed before the deadline itself (3 s).
    assert elapsed < 3.0, elapsed
