"""No key values in logs by default: records are named by position, message id or sequence number.

Kinesis partition keys, DynamoDB item keys and S3 object keys (chosen by a message's sender) are
often personal data: here an e-mail address. By default it appears in no log record (its
message, its arguments, its traceback) and in no error text the layer writes (a failure's
``record_id`` and message, a record's exception); ``log_exception_messages=True``, on a
dispatcher or a processor alike, names the items by their keys.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List

import pytest

from lambda_batch import BatchProcessor, DynamoBatchDispatcher, EventType, KinesisBatchDispatcher
from lambda_batch.payloads.pointers import SIZE_ATTRIBUTE, pointer_body
from tests.faults import Fault, FaultInjector, fast_policy
from tests.processing_events import FakeLambdaContext, make_queue, sqs_record

pytestmark = pytest.mark.integration

EMAIL = "ada.lovelace@example.com"


def logged_text(records: List[logging.LogRecord]) -> str:
    """Everything a log handler could write of ``records``: messages, raw arguments, tracebacks."""
    formatter = logging.Formatter()
    parts = []
    for record in records:
        parts += [record.getMessage(), str(record.msg), repr(record.args)]
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(record.stack_info)
    return "\n".join(parts)


def failure_texts(dispatcher: Any) -> str:
    """The error texts of what a dispatcher handed back: record ids and messages (not the items)."""
    return "\n".join(f"{item.record_id}\n{item.message}" for item in dispatcher.unprocessed_details)


@pytest.fixture()
def s3_endpoint(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint_url)
    yield endpoint_url


# -- Kinesis partition keys ---------------------------------------------------------------------


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_a_kinesis_partition_key_is_logged_only_with_the_opt_in(
    boto3_session, endpoint_url, aws_client, unique_name, caplog, reveal
):
    kinesis = aws_client("kinesis")
    stream = unique_name("keys")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    try:
        # the first call fails its record for good; in ordered mode the second record of the key
        # is then held back, with a message naming the first
        FaultInjector(
            boto3_session, "kinesis", lambda call, n: Fault("partial", {0: False}) if call == 0 else Fault()
        )
        options: Dict[str, Any] = {"log_exception_messages": True} if reveal else {}
        dispatcher = KinesisBatchDispatcher(
            stream,
            max_batch_size=1,
            ordered=True,
            boto3_session=boto3_session,
            endpoint_url=endpoint_url,
            retry_policy=fast_policy(2),
            **options,
        )
        with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
            dispatcher.submit_payload({"n": 1}, partition_key=EMAIL)
            dispatcher.submit_payload({"n": 2}, partition_key=EMAIL)
            returned = dispatcher.flush_payloads()
        assert returned == [{"n": 1}, {"n": 2}]
        codes = [item.code for item in dispatcher.unprocessed_details]
        assert codes == ["KMSAccessDeniedException", "PartitionKeyHalted"]
        logs, errors = logged_text(caplog.records), failure_texts(dispatcher)
        assert "record #1" in logs and "KMSAccessDeniedException" in logs  # still says which and why
        assert "record #1" in dispatcher.unprocessed_details[1].message
        assert (EMAIL in logs, EMAIL in errors) == (reveal, reveal)
    finally:
        kinesis.delete_stream(StreamName=stream)


# -- DynamoDB item keys -------------------------------------------------------------------------


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_a_dynamodb_key_value_is_logged_only_with_the_opt_in(
    boto3_session, endpoint_url, aws_client, unique_name, caplog, reveal
):
    dynamodb = aws_client("dynamodb")
    table = unique_name("keys")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        # DynamoDB hands the write back as unprocessed on every call, until the attempts run out
        FaultInjector(boto3_session, "dynamodb", lambda call, n: Fault("partial", {0: True}))
        options: Dict[str, Any] = {"log_exception_messages": True} if reveal else {}
        dispatcher = DynamoBatchDispatcher(
            table,
            partition_key="email",
            boto3_session=boto3_session,
            endpoint_url=endpoint_url,
            retry_policy=fast_policy(2),
            **options,
        )
        with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
            dispatcher.submit_payload({"email": EMAIL, "plan": "pro"})
            dispatcher.submit_payload({"email": "other@example.org", "plan": "free"})
            returned = dispatcher.flush_payloads()
        assert returned == [{"email": EMAIL, "plan": "pro"}]
        logs, errors = logged_text(caplog.records), failure_texts(dispatcher)
        assert "item #1" in logs and "UnprocessedItems" in logs
        assert (EMAIL in logs, EMAIL in errors) == (reveal, reveal)
    finally:
        dynamodb.delete_table(TableName=table)


# -- S3 keys of large payloads: processing --------------------------------------------------------


def resolving_processor(bucket: str, **options: Any) -> BatchProcessor:
    """A processor resolving pointers into ``bucket``."""
    return BatchProcessor(
        EventType.SQS, resolve_large_payloads=True, large_payload_buckets=[bucket], **options
    )


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_a_senders_s3_key_is_logged_only_with_the_opt_in(
    aws_client, unique_name, s3_endpoint, caplog, reveal
):
    bucket = unique_name("payloads")
    aws_client("s3").create_bucket(Bucket=bucket)
    key = f"exports/{EMAIL}.json"  # chosen by the sender; the object is not there: NoSuchKey
    record = sqs_record(0, body=pointer_body(bucket, key))
    record["messageAttributes"] = {SIZE_ATTRIBUTE: {"dataType": "Number", "stringValue": "40"}}
    handled = []
    processor = resolving_processor(
        bucket, log_exception_messages=reveal, raise_on_entire_batch_failure=False
    )
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        with processor([record], handled.append, lambda_context=FakeLambdaContext()) as batch:
            batch.process()
        response = processor.response()
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert handled == []
    (failure,) = processor.exceptions
    logs = logged_text(caplog.records)
    assert "m-0" in logs and "NoSuchKey" in logs and bucket in logs  # which record, why, where
    assert "NoSuchKey" in str(failure[1])
    assert (EMAIL in logs, EMAIL in str(failure[1])) == (reveal, reveal)


# -- S3 keys of large payloads: the dispatchers' unknown outcome --------------------------------


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_an_offloaded_objects_key_is_logged_only_with_the_opt_in(
    boto3_session, endpoint_url, aws_client, unique_name, s3_endpoint, caplog, reveal
):
    from lambda_batch import SQSBatchDispatcher

    bucket = unique_name("payloads")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    queue = make_queue(aws_client("sqs"), unique_name("keys"), visibility_timeout=30)
    FaultInjector(boto3_session, "sqs", lambda call, n: Fault("server"))  # the outcome is unknown
    options: Dict[str, Any] = {"log_exception_messages": True} if reveal else {}
    dispatcher = SQSBatchDispatcher(
        queue["url"],
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        large_payload_bucket=bucket,
        large_payload_threshold=0,
        large_payload_prefix=f"{EMAIL}/",
        retry_policy=fast_policy(2),
        **options,
    )
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"):
        dispatcher.submit_payload("maybe-sent")
        assert dispatcher.flush_payloads() == ["maybe-sent"]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]  # one per attempt, kept
    assert len(keys) == 2
    logs = logged_text(caplog.records)
    assert "outcome is unknown" in logs and bucket in logs
    assert "maybe-sent" not in logs
    assert (all(key in logs for key in keys), any(key in logs for key in keys)) == (reveal, reveal)
    assert (EMAIL in logs) == reveal


@pytest.mark.parametrize("reveal", [False, True], ids=["default", "opt-in"])
def test_a_senders_s3_key_not_deleted_is_logged_only_with_the_opt_in(
    boto3_session, aws_client, unique_name, s3_endpoint, caplog, reveal
):
    from lambda_batch.core.clients import ClientProvider
    from tests.faults import _http

    bucket = unique_name("payloads")
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=bucket)
    key = f"exports/{EMAIL}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"order": 1}')
    record = sqs_record(0, body=pointer_body(bucket, key))
    record["messageAttributes"] = {SIZE_ATTRIBUTE: {"dataType": "Number", "stringValue": "12"}}

    def denied(**_: Any) -> Any:
        error = {"Code": "AccessDenied", "Message": "injected AccessDenied"}
        return _http(403), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}}}

    boto3_session.events.register("before-call.s3.DeleteObjects", denied)
    processor = resolving_processor(bucket, log_exception_messages=reveal, delete_large_payloads=True)
    processor._large_payloads.clients = ClientProvider("s3", boto3_session=boto3_session)
    handled = []
    with (
        caplog.at_level(logging.DEBUG, logger="lambda_batch"),
        processor([record], lambda r: handled.append(r["body"]), lambda_context=FakeLambdaContext()) as batch,
    ):
        batch.process()
    assert processor.response() == {"batchItemFailures": []}
    assert handled == ['{"order": 1}']
    logs = logged_text(caplog.records)
    assert "not deleted" in logs and "AccessDenied" in logs and bucket in logs
    assert (EMAIL in logs) == reveal
