"""Deliveries of one batch under faults: every record handled at least once over its deliveries,
never handled twice within the window (hypothesis, on moto).

Each example is a run of deliveries of 6 SQS records. A delivery carries the records not yet
acknowledged and, at random, duplicates of acknowledged ones (standard queues deliver at least
once). Its DynamoDB calls suffer faults in order (botocore hooks): throttling, a response lost
after the write landed (the server has it, the client times out), a transaction cancelled by a
conflict; its handler fails some records; or the invocation crashes between the handlers and
the write-back (nothing written back, no response: every record comes back). Deliveries come
one second apart (claims still hold) or two minutes apart (claims expired; the window is an hour).

Invariants: a record never succeeds in its handler again once its completion is in the table,
nor while the claim of its last successful run holds (a crash's records run again only after
their claims expire: the effect of a handler whose completion was never written cannot be known);
after a few clean deliveries every record is acknowledged, having succeeded at least once.
"""

from __future__ import annotations

from typing import Any, Dict, List, Set

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_batch import BatchProcessor, EventType, Idempotency, RetryPolicy
from tests.faults import _http
from tests.idempotency_support import items_by_key, make_table
from tests.processing_events import FakeLambdaContext, sqs_record
from tests.sessions import fresh_session

pytestmark = pytest.mark.integration

RECORDS = 6
CLAIM_SECONDS = 60  # the invocation's time left: claims expire this long after a delivery starts
FAULTS = ("ok", "ok", "throttle", "lost", "cancel")


class Plan:
    """The faults of the delivery under way, applied to its DynamoDB calls in order."""

    def __init__(self) -> None:
        self.faults: List[str] = []
        self.crash = False
        self.calls = 0

    def before_call(self, model: Any, context: Dict[str, Any], **_: Any) -> Any:
        index, self.calls = self.calls, self.calls + 1
        fault = self.faults[index] if index < len(self.faults) else "ok"
        if self.crash and model.name == "BatchWriteItem":
            return _http(403), {"Error": {"Code": "AccessDenied", "Message": "the invocation crashed"}}
        if fault == "cancel" and model.name == "TransactWriteItems":
            reasons = [{"Code": "TransactionConflict"}]
            return _http(400), {
                "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                "CancellationReasons": reasons + [{"Code": "None"}] * 99,
            }
        if fault in ("throttle", "cancel"):
            return _http(400), {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
        context["lose_response"] = fault == "lost"
        return None

    def after_call(self, context: Dict[str, Any], **_: Any) -> None:
        if context.get("lose_response"):
            from botocore.exceptions import ReadTimeoutError

            raise ReadTimeoutError(endpoint_url="http://moto/")  # the write landed; its answer did not


deliveries = st.lists(
    st.fixed_dictionaries(
        {
            "faults": st.lists(st.sampled_from(FAULTS), max_size=6),
            "crash": st.booleans(),
            "later": st.booleans(),
            "fail": st.sets(st.integers(0, RECORDS - 1), max_size=2),
            "duplicates": st.sets(st.integers(0, RECORDS - 1), max_size=3),
        }
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=deliveries)
def test_every_record_at_least_once_never_twice_within_the_window(
    plan: List[Dict[str, Any]], endpoint_url: str, aws_client: Any, unique_name: Any
) -> None:
    dynamodb = aws_client("dynamodb")
    table = make_table(dynamodb, unique_name("idempotency"))
    faults = Plan()
    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    session.events.register("before-call.dynamodb", faults.before_call)
    session.events.register("after-call.dynamodb", faults.after_call)
    idempotency = Idempotency(
        table,
        retry_policy=RetryPolicy(max_attempts=4, base_delay=0.0, max_delay=0.0),
        boto3_session=session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    keys = {idempotency.key_of(f"m-{n}"): f"m-{n}" for n in range(RECORDS)}
    acknowledged: Set[str] = set()
    completed: Set[str] = set()  # completions seen in the table
    claim_until: Dict[str, float] = {}  # after a successful run: until when its claim holds
    succeeded: Dict[str, int] = {}
    violations: List[str] = []
    now = 1_000_000.0

    def deliver(numbers: List[int], fail: Set[int], crash: bool, fault_list: List[str]) -> None:
        faults.faults, faults.crash, faults.calls = fault_list, crash, 0
        processor = BatchProcessor(
            EventType.SQS, idempotency=idempotency, raise_on_entire_batch_failure=False
        )
        processor.features[-1].wall_clock = lambda: now  # type: ignore[attr-defined]

        def handler(record: Any) -> None:
            message_id = record["messageId"]
            if int(message_id[2:]) in fail:
                raise RuntimeError("the handler failed")
            if message_id in completed:  # (an assert here would only fail the record)
                violations.append(f"{message_id} handled again after its completion")
            if now < claim_until.get(message_id, 0.0):
                violations.append(f"{message_id} handled while the claim of its last run held")
            succeeded[message_id] = succeeded.get(message_id, 0) + 1
            claim_until[message_id] = now + CLAIM_SECONDS - 1

        records = [sqs_record(n) for n in numbers]
        with processor(records, handler, lambda_context=FakeLambdaContext(CLAIM_SECONDS * 1000)):
            processor.process()
        for key, item in items_by_key(dynamodb, table).items():
            if item["status"]["S"] == "COMPLETED":
                completed.add(keys[key])
        if not crash:  # a crashed invocation answers nothing: every record comes back
            failed = {failure["itemIdentifier"] for failure in processor.response()["batchItemFailures"]}
            acknowledged.update(f"m-{n}" for n in numbers if f"m-{n}" not in failed)

    for step in plan:
        pending = [n for n in range(RECORDS) if f"m-{n}" not in acknowledged]
        duplicates = [n for n in sorted(step["duplicates"]) if f"m-{n}" in acknowledged]
        deliver(sorted(pending + duplicates), step["fail"], step["crash"], step["faults"])
        assert violations == []
        now += 2 * CLAIM_SECONDS if step["later"] else 1

    for _ in range(3):  # clean deliveries, two minutes apart, until every record is acknowledged
        now += 2 * CLAIM_SECONDS
        pending = [n for n in range(RECORDS) if f"m-{n}" not in acknowledged]
        if pending:
            deliver(pending, set(), False, [])

    assert violations == []
    assert acknowledged == {f"m-{n}" for n in range(RECORDS)}
    assert set(succeeded) == acknowledged
