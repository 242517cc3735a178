"""Two deliveries of one batch at the same time (a visibility timeout lapsed, two pollers): each
record's handler runs exactly once, in threads of one process and in two processes.

Both deliveries read the table before either claims (they meet at a barrier before their
TransactWriteItems), so the claims really race; the loser's records fail as in progress and a
later delivery finds them completed.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from typing import Any, Dict, List

import pytest

from lambda_batch import BatchProcessor, EventType, Idempotency, process_partial_response
from tests.idempotency_support import Handled, child_main, items_by_key, make_table
from tests.processing_events import FakeLambdaContext, sqs_record
from tests.sessions import fresh_session

pytestmark = [pytest.mark.integration]

COUNT = 30


@pytest.fixture()
def table(aws_client: Any, unique_name: Any) -> str:
    return make_table(aws_client("dynamodb"), unique_name("idempotency"))


def _event() -> Dict[str, Any]:
    return {"Records": [sqs_record(n) for n in range(COUNT)]}


def _redeliver_failures(table: str, endpoint_url: str, failed: List[str], runs: Counter[str]) -> None:
    """The failed messages come back later, one delivery: none of them runs again."""
    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    idempotency = Idempotency(
        table, boto3_session=session, endpoint_url=endpoint_url, region_name="us-east-1"
    )
    handler = Handled()
    event = {"Records": [sqs_record(int(message_id[2:])) for message_id in failed]}
    response = process_partial_response(
        event, handler, BatchProcessor(EventType.SQS, idempotency=idempotency), None
    )
    assert response == {"batchItemFailures": []}
    runs.update(handler.runs)


def test_two_threads_delivering_one_batch_run_each_record_once(
    table: str, endpoint_url: str, aws_client: Any
) -> None:
    barrier = threading.Barrier(2, timeout=30)
    runs: Counter[str] = Counter()
    failed: List[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        session = fresh_session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        session.events.register(
            "before-call.dynamodb.TransactWriteItems", lambda **_: barrier.wait() and None
        )
        idempotency = Idempotency(
            table, boto3_session=session, endpoint_url=endpoint_url, region_name="us-east-1"
        )
        processor = BatchProcessor(
            EventType.SQS, idempotency=idempotency, raise_on_entire_batch_failure=False
        )
        handler = Handled()
        response = process_partial_response(_event(), handler, processor, FakeLambdaContext())
        with lock:
            runs.update(handler.runs)
            failed.extend(failure["itemIdentifier"] for failure in response["batchItemFailures"])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert set(runs.values()) == {1} and len(runs) == COUNT  # each record handled by one delivery only
    assert len(failed) == COUNT  # the other delivery returned each as in progress
    _redeliver_failures(table, endpoint_url, failed, runs)
    assert set(runs.values()) == {1} and len(runs) == COUNT
    items = items_by_key(aws_client("dynamodb"), table)
    assert {item["status"]["S"] for item in items.values()} == {"COMPLETED"} and len(items) == COUNT


def test_two_processes_delivering_one_batch_run_each_record_once(table: str, endpoint_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    queue = context.Queue()
    processes = [
        context.Process(target=child_main, args=(table, endpoint_url, COUNT, barrier, queue))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [queue.get(timeout=180) for _ in processes]
    for process in processes:
        process.join(60)
    assert all(outcome[0] != "error" for outcome in outcomes), outcomes

    runs: Counter[str] = Counter()
    failed: List[str] = []
    for ran, returned in outcomes:
        runs.update(ran)
        failed.extend(returned)
    assert set(runs.values()) == {1} and len(runs) == COUNT
    assert sorted(failed) == sorted(f"m-{n}" for n in range(COUNT))
    _redeliver_failures(table, endpoint_url, failed, runs)
    assert set(runs.values()) == {1} and len(runs) == COUNT
