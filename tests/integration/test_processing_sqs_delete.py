"""PartialSQSProcessor and sqs_batch_processor against a real SQS wire protocol (moto on loopback).

Events are built from messages really received from the emulator, with their real
receipt handles; what happened is read back from the queues.
"""

from __future__ import annotations

import time

import pytest

from lambda_batch import (
    DeadlineReachedError,
    MalformedEventError,
    PartialSQSProcessor,
    PreviousRecordFailedError,
    RetryPolicy,
    SQSBatchProcessingError,
    sqs_batch_processor,
)
from tests.processing_events import (
    CallCounter,
    FakeLambdaContext,
    bodies_back_after_timeout,
    make_queue,
    receive_sqs_event,
    send_bodies,
)

pytestmark = pytest.mark.integration

FAST_RETRIES = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05, deadline_margin=0.0)


def failing_on(bad):
    def record_handler(record):
        if record["body"] in bad:
            raise ValueError(f"cannot handle {record['messageId']}")
        return record["body"].upper()

    return record_handler


@pytest.fixture()
def deletes(boto3_session):
    return CallCounter(boto3_session, "sqs", "DeleteMessageBatch")


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


def processor_for(boto3_session, endpoint_url, **options):
    return PartialSQSProcessor(boto3_session=boto3_session, endpoint_url=endpoint_url, **options)


def test_25_records_3_failures_deletes_22_in_3_calls_and_the_3_come_back(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    queue = make_queue(sqs, unique_name("jobs"))
    bodies = [f"job-{n:02d}" for n in range(25)]
    send_bodies(sqs, queue["url"], bodies)
    event = receive_sqs_event(sqs, queue, 25)
    bad = {"job-03", "job-11", "job-20"}
    processor = processor_for(boto3_session, endpoint_url)

    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor(event["Records"], failing_on(bad)) as proc,
    ):
        results = proc.process()

    assert [r[0] for r in results].count("fail") == 3
    assert len(raised.value.child_exceptions) == 3
    assert all(info[0] is ValueError for info in raised.value.child_exceptions)
    assert deletes.count == 3
    assert sorted(deletes.entries_per_call()) == [2, 10, 10]
    assert bodies_back_after_timeout(sqs, queue["url"], expected=3) == sorted(bad)
    assert processor.delete_failures == []


def test_result_tuples_are_in_record_order_with_type_and_message(
    sqs, boto3_session, endpoint_url, unique_name
):
    queue = make_queue(sqs, unique_name("order"))
    send_bodies(sqs, queue["url"], ["a", "b", "c"])
    event = receive_sqs_event(sqs, queue, 3)
    processor = processor_for(boto3_session, endpoint_url, suppress_exception=True)
    with processor(event["Records"], failing_on({"b"})) as proc:
        results = proc.process()
    assert [r[2]["messageId"] for r in results] == [r["messageId"] for r in event["Records"]]
    by_body = {r[2]["body"]: r for r in results}
    assert by_body["a"][:2] == ("success", "A")
    record_b = by_body["b"][2]
    assert by_body["b"][:2] == ("fail", f"ValueError:cannot handle {record_b['messageId']}")


def test_whole_batch_success_makes_no_api_call_and_no_client(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    queue = make_queue(sqs, unique_name("allgood"))
    send_bodies(sqs, queue["url"], ["a", "b", "c", "d"])
    event = receive_sqs_event(sqs, queue, 4)
    processor = processor_for(boto3_session, endpoint_url)
    with processor(event["Records"], failing_on(set())) as proc:
        results = proc.process()
    assert [r[0] for r in results] == ["success"] * 4
    assert deletes.count == 0
    assert processor._clients._clients == {}  # no client was even made
    # Nothing was deleted by the processor: Lambda's own delete is what removes them.
    assert bodies_back_after_timeout(sqs, queue["url"], expected=4) == ["a", "b", "c", "d"]


def test_everything_failed_deletes_nothing_and_raises(sqs, boto3_session, endpoint_url, unique_name, deletes):
    queue = make_queue(sqs, unique_name("allbad"))
    send_bodies(sqs, queue["url"], ["a", "b"])
    event = receive_sqs_event(sqs, queue, 2)
    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor_for(boto3_session, endpoint_url)(event["Records"], failing_on({"a", "b"})) as proc,
    ):
        proc.process()
    assert len(raised.value.child_exceptions) == 2
    assert deletes.count == 0
    assert bodies_back_after_timeout(sqs, queue["url"], expected=2) == ["a", "b"]


def test_queue_in_another_region_than_the_client_default(
    aws_client, boto3_session, endpoint_url, unique_name
):
    assert boto3_session.region_name == "us-east-1"
    sqs_eu = aws_client("sqs", region_name="eu-west-1")
    queue = make_queue(sqs_eu, unique_name("eu"))
    assert ":eu-west-1:" in queue["arn"]
    send_bodies(sqs_eu, queue["url"], ["ok-1", "bad", "ok-2"])
    event = receive_sqs_event(sqs_eu, queue, 3)
    processor = processor_for(boto3_session, endpoint_url)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], failing_on({"bad"})) as proc:
        proc.process()
    assert {region for region, _ in processor._clients._clients} == {"eu-west-1"}
    assert bodies_back_after_timeout(sqs_eu, queue["url"], expected=1) == ["bad"]


def test_records_of_two_queues_in_two_regions_in_one_event(
    aws_client, boto3_session, endpoint_url, unique_name
):
    sqs_us, sqs_ap = aws_client("sqs"), aws_client("sqs", region_name="ap-southeast-2")
    q_us, q_ap = make_queue(sqs_us, unique_name("us")), make_queue(sqs_ap, unique_name("ap"))
    send_bodies(sqs_us, q_us["url"], ["us-ok", "us-bad"])
    send_bodies(sqs_ap, q_ap["url"], ["ap-ok", "ap-ok-2"])
    records = receive_sqs_event(sqs_us, q_us, 2)["Records"] + receive_sqs_event(sqs_ap, q_ap, 2)["Records"]
    with (
        pytest.raises(SQSBatchProcessingError),
        processor_for(boto3_session, endpoint_url)(records, failing_on({"us-bad"})) as proc,
    ):
        proc.process()
    assert bodies_back_after_timeout(sqs_us, q_us["url"], expected=1) == ["us-bad"]
    assert bodies_back_after_timeout(sqs_ap, q_ap["url"], wait=0) == []


def test_suppress_exception_deletes_successes_and_raises_nothing(
    sqs, boto3_session, endpoint_url, unique_name
):
    queue = make_queue(sqs, unique_name("suppress"))
    send_bodies(sqs, queue["url"], ["a", "b", "c"])
    event = receive_sqs_event(sqs, queue, 3)
    processor = processor_for(boto3_session, endpoint_url, suppress_exception=True)
    with processor(event["Records"], failing_on({"b"})) as proc:
        results = proc.process()
    assert sorted(r[0] for r in results) == ["fail", "success", "success"]
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["b"]


def test_decorator_reused_warm_starts_clean_and_makes_one_client(
    sqs, boto3_session, endpoint_url, unique_name
):
    queue = make_queue(sqs, unique_name("warm"))
    handled = []

    def record_handler(record, lambda_context):
        handled.append((record["body"], lambda_context.aws_request_id))
        if record["body"].startswith("bad"):
            raise ValueError("bad record")
        return record["body"]

    @sqs_batch_processor(
        record_handler=record_handler, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    def lambda_handler(event, context):
        return {"statusCode": 200}

    send_bodies(sqs, queue["url"], ["one", "bad-1"])
    with pytest.raises(SQSBatchProcessingError) as first:
        lambda_handler(receive_sqs_event(sqs, queue, 2), FakeLambdaContext())
    assert len(first.value.child_exceptions) == 1
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["bad-1"]

    # Second (warm) invocation: a fresh batch, no failure carried over, handler result returned.
    sqs.purge_queue(QueueUrl=queue["url"])
    send_bodies(sqs, queue["url"], ["two", "three"])
    assert lambda_handler(receive_sqs_event(sqs, queue, 2), FakeLambdaContext()) == {"statusCode": 200}
    assert {body for body, _ in handled} >= {"one", "bad-1", "two", "three"}
    assert all(request == "request-id" for _, request in handled)


def test_fifo_delete_mode_keeps_order(sqs, boto3_session, endpoint_url, unique_name, deletes):
    queue = make_queue(sqs, unique_name("orders"), fifo=True)
    send_bodies(sqs, queue["url"], ["1", "2", "3", "4", "5"], group="customer-1")
    event = receive_sqs_event(sqs, queue, 5)
    assert [r["body"] for r in event["Records"]] == ["1", "2", "3", "4", "5"]
    seen = []

    def record_handler(record):
        seen.append(record["body"])
        if record["body"] == "3":
            raise ValueError("cannot handle 3")

    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor_for(boto3_session, endpoint_url)(event["Records"], record_handler) as proc,
    ):
        results = proc.process()
    assert seen == ["1", "2", "3"]  # nothing after the failure was started
    assert [r[0] for r in results] == ["success", "success", "fail", "fail", "fail"]
    kinds = [info[0] for info in raised.value.child_exceptions]
    assert kinds == [ValueError, PreviousRecordFailedError, PreviousRecordFailedError]
    [call] = deletes.calls
    deleted = {entry["ReceiptHandle"] for entry in call["Entries"]}
    assert deleted == {r["receiptHandle"] for r in event["Records"][:2]}  # only what came before the failure
    # The emulator's FIFO redelivery order is not AWS's, so count what is left instead of receiving it.
    attributes = sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
    left = int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
    assert left == 3


def test_non_retryable_failed_entries_are_reported_and_the_error_still_raised(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    queue = make_queue(sqs, unique_name("stale"))
    send_bodies(sqs, queue["url"], ["ok", "stale", "bad"])
    event = receive_sqs_event(sqs, queue, 3)
    stale = next(r for r in event["Records"] if r["body"] == "stale")
    stale["receiptHandle"] = "no-longer-valid"  # the server refuses it (SenderFault)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with (
        pytest.raises(SQSBatchProcessingError, match="1 processed messages could not be deleted"),
        processor(event["Records"], failing_on({"bad"})) as proc,
    ):
        proc.process()
    assert deletes.count == 1  # a sender fault is not retried
    [failure] = processor.delete_failures
    assert failure.message_id == stale["messageId"]
    assert failure.code == "ReceiptHandleIsInvalid"
    assert bodies_back_after_timeout(sqs, queue["url"], expected=2) == ["bad", "stale"]


def test_retryable_failed_entries_are_retried_until_deleted(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    calls = {"n": 0}
    held_back = {}

    def drop_last_entry_once(params, **_):
        calls["n"] += 1
        if calls["n"] == 1:
            entry = params["Entries"].pop()
            held_back[entry["Id"]] = entry

    def report_it_failed(parsed, **_):
        if held_back and calls["n"] == 1:
            parsed.setdefault("Failed", []).extend(
                {"Id": key, "SenderFault": False, "Code": "InternalError", "Message": "try again"}
                for key in held_back
            )

    boto3_session.events.register("provide-client-params.sqs.DeleteMessageBatch", drop_last_entry_once)
    boto3_session.events.register("after-call.sqs.DeleteMessageBatch", report_it_failed)
    queue = make_queue(sqs, unique_name("retry"))
    send_bodies(sqs, queue["url"], ["a", "b", "c", "bad"])
    event = receive_sqs_event(sqs, queue, 4)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], failing_on({"bad"})) as proc:
        proc.process()
    assert deletes.entries_per_call() == [2, 1]  # 3 successes: 2 deleted, then the held-back one retried
    assert processor.delete_failures == []
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["bad"]


def _short_circuit(status, code):
    from botocore.awsrequest import AWSResponse

    def answer(**_):
        response = AWSResponse("http://emulator", status, {}, None)
        return response, {
            "Error": {"Code": code, "Message": f"injected {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    return answer


def test_a_delete_error_never_hides_the_processing_error(
    sqs, boto3_session, endpoint_url, unique_name, deletes
):
    boto3_session.events.register("before-call.sqs.DeleteMessageBatch", _short_circuit(403, "AccessDenied"))
    queue = make_queue(sqs, unique_name("denied"))
    send_bodies(sqs, queue["url"], ["ok", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor(event["Records"], failing_on({"bad"})) as proc,
    ):
        proc.process()
    assert len(raised.value.child_exceptions) == 1
    assert raised.value.child_exceptions[0][0] is ValueError
    assert deletes.count == 1  # access denied is not retried
    assert [f.code for f in processor.delete_failures] == ["AccessDenied"]
    assert bodies_back_after_timeout(sqs, queue["url"], expected=2) == ["bad", "ok"]


def test_throttled_delete_is_retried_with_backoff(sqs, boto3_session, endpoint_url, unique_name, deletes):
    throttle = _short_circuit(400, "ThrottlingException")
    state = {"calls": 0}

    def first_call_throttled(**kwargs):
        state["calls"] += 1
        return throttle(**kwargs) if state["calls"] == 1 else None

    boto3_session.events.register("before-call.sqs.DeleteMessageBatch", first_call_throttled)
    queue = make_queue(sqs, unique_name("throttled"))
    send_bodies(sqs, queue["url"], ["ok", "bad"])
    event = receive_sqs_event(sqs, queue, 2)
    processor = processor_for(boto3_session, endpoint_url, retry_policy=FAST_RETRIES)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], failing_on({"bad"})) as proc:
        proc.process()
    assert deletes.count == 2
    assert processor.delete_failures == []
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["bad"]


def test_deadline_guard_leaves_unstarted_records_on_the_queue(sqs, boto3_session, endpoint_url, unique_name):
    queue = make_queue(sqs, unique_name("deadline"))
    send_bodies(sqs, queue["url"], [f"slow-{n}" for n in range(6)])
    event = receive_sqs_event(sqs, queue, 6)
    started = []

    def slow_handler(record):
        started.append(record["body"])
        time.sleep(0.25)

    processor = processor_for(boto3_session, endpoint_url, deadline_margin=1.0)
    context = FakeLambdaContext(remaining_ms=1600)  # room for about two records
    with (
        pytest.raises(SQSBatchProcessingError) as raised,
        processor(event["Records"], slow_handler, lambda_context=context) as proc,
    ):
        results = proc.process()
    assert 1 <= len(started) <= 4
    assert [r[0] for r in results] == ["success"] * len(started) + ["fail"] * (6 - len(started))
    assert all(info[0] is DeadlineReachedError for info in raised.value.child_exceptions)
    back = bodies_back_after_timeout(sqs, queue["url"], expected=6 - len(started))
    assert back == sorted(r["body"] for r in event["Records"][len(started) :])


def test_malformed_event_is_never_a_silent_success(sqs, boto3_session, endpoint_url, unique_name, deletes):
    queue = make_queue(sqs, unique_name("malformed"))
    send_bodies(sqs, queue["url"], ["a", "b"])
    event = receive_sqs_event(sqs, queue, 2)
    del event["Records"][1]["receiptHandle"]
    handled = []
    with (
        pytest.raises(MalformedEventError, match=r"record 1 \(messageId '[^']+'\) has no receiptHandle"),
        processor_for(boto3_session, endpoint_url)(event["Records"], handled.append) as proc,
    ):
        proc.process()
    assert handled == []
    assert deletes.count == 0

    @sqs_batch_processor(
        record_handler=handled.append, boto3_session=boto3_session, endpoint_url=endpoint_url
    )
    def lambda_handler(event, context):
        return "done"

    with pytest.raises(MalformedEventError, match="no 'Records'"):
        lambda_handler({"records": []}, None)
    assert handled == []
