"""Batch metrics with real SQS calls (moto on loopback): the EMF document counts the delete and
visibility calls the batch made, in delete mode as in native mode, at any concurrency.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import (
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    RetryDelay,
    SQSBatchProcessingError,
    process_partial_response,
)
from tests.processing_events import CallCounter, FakeLambdaContext, make_queue, receive_sqs_event, send_bodies
from tests.sessions import fresh_session
from tests.unit.test_processing_batch_metrics import emf_documents

pytestmark = pytest.mark.integration


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


def _handler(record):
    if record["body"].startswith("bad"):
        raise ValueError("bad")
    if record["body"].startswith("slow"):
        time.sleep(1.2)


def test_delete_mode_counts_its_delete_and_visibility_calls(
    sqs, boto3_session, endpoint_url, unique_name, capsys
):
    deletes = CallCounter(boto3_session, "sqs", "DeleteMessageBatch")
    changes = CallCounter(boto3_session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, unique_name("metrics"), visibility_timeout=2)
    send_bodies(sqs, queue["url"], [f"ok-{n}" for n in range(11)] + ["bad-1", "slow-1"])
    event = receive_sqs_event(sqs, queue, 13)
    processor = PartialSQSProcessor(
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        retry_delay=RetryDelay(initial_seconds=1, jitter=False),
        extend_visibility=True,
        max_concurrency=4,
        metrics_namespace="Consumer",
        metrics_dimensions={"Function": "consumer"},
    )
    context = FakeLambdaContext(30_000)
    with pytest.raises(SQSBatchProcessingError), processor(event["Records"], _handler, context) as proc:
        proc.process()
    [document] = emf_documents(capsys.readouterr().out, "Consumer")
    assert (document["RecordsSucceeded"], document["RecordsFailed"], document["RecordsSkipped"]) == (12, 1, 0)
    assert document["DeleteCalls"] == deletes.count == 2  # 12 successes: 10 + 2
    assert document["VisibilityCalls"] == changes.count >= 2  # a heartbeat or more, then the retry delay
    assert document["Function"] == "consumer"
    assert document["BatchDuration"] >= 1200


@settings(max_examples=8)
@given(
    outcomes=st.lists(st.sampled_from(["ok", "bad"]), min_size=1, max_size=12),
    concurrency=st.integers(min_value=1, max_value=4),
    delete_mode=st.booleans(),
)
def test_counts_match_in_both_modes(moto_server, outcomes, concurrency, delete_mode):
    import uuid

    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    sqs = session.client("sqs", endpoint_url=moto_server.endpoint_url)
    deletes = CallCounter(session, "sqs", "DeleteMessageBatch")
    changes = CallCounter(session, "sqs", "ChangeMessageVisibilityBatch")
    queue = make_queue(sqs, f"metrics-{uuid.uuid4().hex[:8]}", visibility_timeout=30)
    send_bodies(sqs, queue["url"], [f"{outcome}-{n}" for n, outcome in enumerate(outcomes)])
    event = receive_sqs_event(sqs, queue, len(outcomes))
    options = {
        "boto3_session": session,
        "endpoint_url": moto_server.endpoint_url,
        "max_concurrency": concurrency,
        "retry_delay": RetryDelay(initial_seconds=0, jitter=False),
        "metrics_namespace": "H",
    }
    stream = io.StringIO()
    failed, succeeded = outcomes.count("bad"), outcomes.count("ok")
    if delete_mode:
        processor = PartialSQSProcessor(**options)
        processor._metrics.stream = stream
        try:
            with processor(event["Records"], _handler) as proc:
                proc.process()
        except SQSBatchProcessingError:
            assert failed
        else:
            assert not failed
    else:
        processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False, **options)
        processor._metrics.stream = stream
        response = process_partial_response(event, _handler, processor)
        assert len(response["batchItemFailures"]) == failed
    [document] = emf_documents(stream.getvalue(), "H")
    assert (document["RecordsSucceeded"], document["RecordsFailed"]) == (succeeded, failed)
    assert document["VisibilityCalls"] == changes.count == -(-failed // 10)
    assert document["DeleteCalls"] == deletes.count
    assert deletes.count == (-(-succeeded // 10) if delete_mode and failed else 0)
    json.dumps(document)
