"""Invariants of partial processing, whatever the outcomes and faults: no record lost, none duplicated.

* Native responses: every record gets exactly one result, in order; the response lists
  exactly the failed ones; FIFO keeps order (a group's successes are a prefix of it).
* Delete mode, on the emulator with faults injected into DeleteMessageBatch: every
  message ends either deleted (a success) or still on its queue (a failure, or a
  success whose delete failed and was reported) - never both, never neither.
"""

from __future__ import annotations

from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import (
    BatchProcessingError,
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    RetryPolicy,
    SQSBatchProcessingError,
    process_partial_response,
)
from tests.processing_events import make_queue, receive_all, receive_sqs_event, send_bodies, sqs_record
from tests.sessions import fresh_session


@st.composite
def batches(draw):
    size = draw(st.integers(min_value=0, max_value=30))
    fifo = draw(st.booleans())
    groups = draw(st.lists(st.sampled_from("abc"), min_size=size, max_size=size))
    failing = draw(st.sets(st.integers(min_value=0, max_value=max(0, size - 1)), max_size=size))
    records = [
        sqs_record(n, queue="q.fifo" if fifo else "q", group=groups[n] if fifo else None) for n in range(size)
    ]
    return records, {f"m-{n}" for n in failing if n < size}, fifo


@settings(max_examples=150)
@given(
    batch=batches(),
    skip_group=st.booleans(),
    concurrency=st.sampled_from([1, 3]),
    raise_on_all=st.booleans(),
)
def test_every_record_has_exactly_one_result_and_the_response_lists_exactly_the_failures(
    batch, skip_group, concurrency, raise_on_all
):
    records, failing, fifo = batch
    attempted: List[str] = []

    def handler(record):
        attempted.append(record["messageId"])
        if record["messageId"] in failing:
            raise ValueError("planned failure")
        return record["messageId"]

    processor = BatchProcessor(
        EventType.SQS,
        skip_group_on_error=skip_group,
        max_concurrency=concurrency,
        raise_on_entire_batch_failure=raise_on_all,
    )
    event = {"Records": records}
    try:
        response = process_partial_response(event, handler, processor)
    except BatchProcessingError as error:
        assert raise_on_all
        assert len(error.child_exceptions) == len(records) > 0
        response = {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}
    results = processor._outcome.results
    assert results is not None and len(results) == len(records)
    # Order, nothing lost: each result carries its record (a record object equal to the event's
    # record, with the same message id), as a user reading the results sees it.
    assert [result[2]["messageId"] for result in results] == [record["messageId"] for record in records]
    assert all(result[2] == record for result, record in zip(results, records, strict=False))
    assert len(attempted) == len(set(attempted))  # nobody handled twice

    failed_ids = [r[2]["messageId"] for r in results if r[0] == "fail"]
    succeeded_ids = [r[2]["messageId"] for r in results if r[0] == "success"]
    assert [item["itemIdentifier"] for item in response["batchItemFailures"]] == failed_ids
    assert (
        set(succeeded_ids) == set(attempted) - failing
    )  # a success is exactly a handled, non-failing record
    assert not set(succeeded_ids) & failing

    if not fifo:
        assert sorted(attempted) == sorted(r["messageId"] for r in records)
        return
    for group in "abc":
        outcomes = [r[0] for r in results if r[2]["attributes"]["MessageGroupId"] == group]
        first_fail = outcomes.index("fail") if "fail" in outcomes else len(outcomes)
        assert outcomes == ["success"] * first_fail + ["fail"] * (len(outcomes) - first_fail)
    if not skip_group and failed_ids and concurrency == 1:  # sequential: nothing after the first failure
        first = next(i for i, r in enumerate(results) if r[0] == "fail")
        assert all(r[0] == "fail" for r in results[first:])


FAULTS = st.sampled_from(["ok", "throttle", "retryable-entry", "refused-entry", "denied"])


@settings(max_examples=12)
@given(
    size=st.integers(min_value=1, max_value=24),
    failing=st.sets(st.integers(min_value=0, max_value=23)),
    plan=st.lists(FAULTS, min_size=1, max_size=12),
)
def test_delete_mode_loses_nothing_whatever_the_delete_faults(moto_server, size, failing, plan):
    import uuid

    from botocore.awsrequest import AWSResponse

    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    import threading

    # Deletes of several chunks run on several threads: each call keeps its own fault in
    # botocore's per-request context.
    calls = {"n": 0}
    lock = threading.Lock()

    def before_params(params, context, **_):
        with lock:
            fault = plan[calls["n"] % len(plan)]
            calls["n"] += 1
        context["fault"] = fault
        context["held"] = []
        if fault in ("retryable-entry", "refused-entry") and params["Entries"]:
            context["held"].append(params["Entries"].pop(0)["Id"])

    def short_circuit(context, **_):
        fault = context.get("fault")
        if fault in ("throttle", "denied"):
            status, code = (400, "ThrottlingException") if fault == "throttle" else (403, "AccessDenied")
            return AWSResponse("http://emulator", status, {}, None), {
                "Error": {"Code": code, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
        return None

    def after_call(parsed, context, **_):
        refused = context.get("fault") == "refused-entry"
        for key in context.get("held", ()):
            parsed.setdefault("Failed", []).append(
                {
                    "Id": key,
                    "SenderFault": refused,
                    "Code": "InvalidParameterValue" if refused else "InternalError",
                    "Message": "injected",
                }
            )

    session.events.register("provide-client-params.sqs.DeleteMessageBatch", before_params)
    session.events.register("before-call.sqs.DeleteMessageBatch", short_circuit)
    session.events.register("after-call.sqs.DeleteMessageBatch", after_call)

    sqs = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("sqs", endpoint_url=moto_server.endpoint_url)
    queue = make_queue(sqs, f"prop-{uuid.uuid4().hex[:8]}", visibility_timeout=30)
    try:
        send_bodies(sqs, queue["url"], [f"b-{n}" for n in range(size)])
        event = receive_sqs_event(sqs, queue, size)
        bad_bodies = {f"b-{n}" for n in failing if n < size}

        def handler(record):
            if record["body"] in bad_bodies:
                raise ValueError("planned")

        processor = PartialSQSProcessor(
            boto3_session=session,
            endpoint_url=moto_server.endpoint_url,
            retry_policy=RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0),
        )
        raised = None
        try:
            with processor(event["Records"], handler) as proc:
                proc.process()
        except SQSBatchProcessingError as error:
            raised = error

        by_id = {r["messageId"]: r["body"] for r in event["Records"]}
        not_deleted = {by_id[f.message_id] for f in processor.delete_failures}
        assert (raised is not None) == bool(bad_bodies)
        if raised is not None:
            assert len(raised.child_exceptions) == len(bad_bodies)
        assert not not_deleted & bad_bodies
        # All succeeded: Lambda deletes the batch, the processor does not.
        expected_left = bad_bodies | not_deleted if bad_bodies else {f"b-{n}" for n in range(size)}

        # Make every message still on the queue visible again, then read them all back.
        handles = [
            {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
            for i, r in enumerate(event["Records"])
        ]
        for start in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(QueueUrl=queue["url"], Entries=handles[start : start + 10])
        left = [m["Body"] for m in receive_all(sqs, queue["url"], len(expected_left), attempts=10)]
        assert sorted(left) == sorted(expected_left)
    finally:
        sqs.delete_queue(QueueUrl=queue["url"])


@pytest.mark.parametrize("count", [0, 1, 10, 11, 25])
def test_delete_chunks_never_exceed_ten_entries(count):
    from lambda_batch.core.limits import SQS_MAX_DELETE_ENTRIES as MAX_DELETE_ENTRIES

    assert MAX_DELETE_ENTRIES == 10
    chunks = [
        list(range(count))[start : start + MAX_DELETE_ENTRIES]
        for start in range(0, count, MAX_DELETE_ENTRIES)
    ]
    assert sum(len(chunk) for chunk in chunks) == count
    assert all(1 <= len(chunk) <= 10 for chunk in chunks)
