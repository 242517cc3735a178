"""Property: whatever faults occur, every submitted item is delivered or handed back, exactly once.

Runs against the moto server; faults are injected for real on each call (tests.faults):
throttling, 5xx, access denied, connection errors, timeouts and partial failures with
retryable and non-retryable entries, in any order, with sequential or concurrent sending,
and a deadline that may arrive before any call or after any call. For FIFO queues, each
message group also stays in order: what arrives of a group arrives in submission order, and
nothing of a group arrives after a message held back because the group was halted.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lambda_batch import (
    DynamoBatchDispatcher,
    KinesisBatchDispatcher,
    RetryPolicy,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.core.unprocessed import DEADLINE_EXCEEDED, FIFO_GROUP_HALTED, PARTITION_KEY_HALTED
from tests.faults import OK, WHOLE_CALL_FAULTS, Fault, FaultInjector, drain_queue, read_stream

pytestmark = pytest.mark.integration

faults = st.one_of(
    st.just(OK),
    st.sampled_from(WHOLE_CALL_FAULTS).map(Fault),
    st.dictionaries(st.integers(0, 9), st.booleans(), min_size=1).map(
        lambda failing: Fault("partial", failing)
    ),
)


def _session():
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


# One session per service, its fault hooks registered once; each example swaps in its own plan.
SESSIONS = {service: _session() for service in ("sqs", "kinesis", "dynamodb")}
INJECTORS = {service: FaultInjector(s, service, lambda call, n: OK) for service, s in SESSIONS.items()}

#: The dispatcher of the running example, for a plan that brings its deadline forward.
CURRENT = {}


def prepared(service, plan):
    injector = INJECTORS[service]
    injector.plan = plan
    injector.calls = []
    return SESSIONS[service], injector


def deadline_plan(plan_faults, deadline_at):
    """Calls get ``plan_faults`` in turn; from call ``deadline_at`` on, less than the margin is left."""

    def plan(call, entries):
        if deadline_at is not None and call == deadline_at - 1:
            CURRENT["dispatcher"].set_deadline(0.0)  # this call goes on; no later one may start
        return plan_faults[call] if call < len(plan_faults) else OK

    return plan


def options(s, server, batch, workers, attempts, deadline_at):
    """Constructor arguments: no waiting between attempts, and the deadline already near if asked."""
    return {
        "max_batch_size": batch,
        "max_workers": workers,
        "boto3_session": s,
        "endpoint_url": server.endpoint_url,
        "retry_policy": RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        "deadline": 0.0 if deadline_at == 0 else None,
    }


def run_sqs(server, plan, count, batch, workers, attempts, deadline_at):
    s, injector = prepared("sqs", plan)
    sqs = s.client("sqs", endpoint_url=server.endpoint_url)
    url = sqs.create_queue(QueueName=f"prop-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        dispatcher = SQSBatchDispatcher(url, **options(s, server, batch, workers, attempts, deadline_at))
        CURRENT["dispatcher"] = dispatcher
        payloads = [{"id": i} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload)
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [json.loads(m["Body"])["id"] for m in drain_queue(sqs, url)]
        return payloads, returned, delivered, dispatcher, injector
    finally:
        sqs.delete_queue(QueueUrl=url)


def run_kinesis(server, plan, count, batch, workers, attempts, deadline_at, ordered=False):
    s, injector = prepared("kinesis", plan)
    kinesis = s.client("kinesis", endpoint_url=server.endpoint_url)
    name = f"prop-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        dispatcher = KinesisBatchDispatcher(
            name, ordered=ordered, **options(s, server, batch, workers, attempts, deadline_at)
        )
        CURRENT["dispatcher"] = dispatcher
        payloads = [{"id": i} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload, partition_key=f"k{payload['id'] % 3}")
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [json.loads(r["Data"])["id"] for r in read_stream(kinesis, name)]
        return payloads, returned, delivered, dispatcher, injector
    finally:
        kinesis.delete_stream(StreamName=name)


def run_dynamodb(server, plan, count, batch, workers, attempts, deadline_at):
    s, injector = prepared("dynamodb", plan)
    dynamodb = s.client("dynamodb", endpoint_url=server.endpoint_url)
    name = f"prop-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        dispatcher = DynamoBatchDispatcher(
            name,
            partition_key="id",
            partition_key_data_type=int,
            **options(s, server, batch, workers, attempts, deadline_at),
        )
        CURRENT["dispatcher"] = dispatcher
        payloads = [{"id": i} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload)
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [int(item["id"]["N"]) for item in dynamodb.scan(TableName=name)["Items"]]
        return payloads, returned, delivered, dispatcher, injector
    finally:
        dynamodb.delete_table(TableName=name)


RUNNERS = {"sqs": run_sqs, "kinesis": run_kinesis, "dynamodb": run_dynamodb}


deadlines = st.one_of(st.none(), st.integers(0, 4))


def check_exactly_once(
    count, payloads, returned, delivered, dispatcher, injector, attempts, deadline_at, workers
):
    returned_ids = [item["id"] for item in returned]
    # exactly once: delivered and returned together are the submitted ids, no repeats, no losses
    assert Counter(delivered) + Counter(returned_ids) == Counter(range(count))
    # the returned items are the submitted objects themselves, in submission order
    assert all(item is payloads[item["id"]] for item in returned)
    assert returned_ids == sorted(returned_ids)
    details = dispatcher.unprocessed_details
    for code in {d.code for d in details} & {DEADLINE_EXCEEDED, FIFO_GROUP_HALTED}:
        event(f"returned {code}")
    assert [d.item for d in details] == returned
    assert all(d.code and 0 <= d.attempts <= attempts for d in details)
    # only items held back by the dispatcher itself were never sent
    held = (DEADLINE_EXCEEDED, FIFO_GROUP_HALTED, PARTITION_KEY_HALTED)
    assert all(d.code in held for d in details if d.attempts == 0)
    if deadline_at is None:
        assert DEADLINE_EXCEEDED not in {d.code for d in details}
    else:
        # no call starts once the deadline is near (calls already past the check may go on)
        assert injector.call_count <= deadline_at + workers - 1 if deadline_at else injector.call_count == 0
    stats = dispatcher.stats
    assert stats.entries_sent == len(delivered) and stats.failures == len(returned)
    assert stats.calls == injector.call_count


@settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    service=st.sampled_from(sorted(RUNNERS)),
    plan_faults=st.lists(faults, max_size=12),
    count=st.integers(1, 30),
    batch=st.integers(1, 10),
    workers=st.sampled_from([1, 3]),
    attempts=st.integers(1, 5),
    deadline_at=deadlines,
)
def test_every_item_is_delivered_or_returned_exactly_once(
    moto_server, service, plan_faults, count, batch, workers, attempts, deadline_at
):
    payloads, returned, delivered, dispatcher, injector = RUNNERS[service](
        moto_server, deadline_plan(plan_faults, deadline_at), count, batch, workers, attempts, deadline_at
    )
    check_exactly_once(
        count, payloads, returned, delivered, dispatcher, injector, attempts, deadline_at, workers
    )
    assert FIFO_GROUP_HALTED not in {d.code for d in dispatcher.unprocessed_details}


HALTED_BY = re.compile(r"because (m\d+) was not delivered")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan_faults=st.lists(faults, max_size=10),
    groups=st.lists(st.sampled_from("abc"), min_size=1, max_size=20),
    batch=st.integers(1, 10),
    workers=st.sampled_from([1, 3]),
    attempts=st.integers(1, 4),
    deadline_at=deadlines,
)
def test_fifo_groups_stay_in_order_and_halt_after_a_failure(
    moto_server, plan_faults, groups, batch, workers, attempts, deadline_at
):
    count = len(groups)
    s, injector = prepared("sqs", deadline_plan(plan_faults, deadline_at))
    sqs = s.client("sqs", endpoint_url=moto_server.endpoint_url)
    url = sqs.create_queue(QueueName=f"prop-{uuid.uuid4().hex[:8]}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    try:
        dispatcher = SQSFifoBatchDispatcher(
            url, **options(s, moto_server, batch, workers, attempts, deadline_at)
        )
        CURRENT["dispatcher"] = dispatcher
        payloads = [{"id": i, "group": group} for i, group in enumerate(groups)]
        for payload in payloads:
            dispatcher.submit_payload(
                payload, message_id=f"m{payload['id']}", message_group_id=payload["group"]
            )
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [json.loads(m["Body"])["id"] for m in drain_queue(sqs, url)]
    finally:
        sqs.delete_queue(QueueUrl=url)
    check_exactly_once(
        count, payloads, returned, delivered, dispatcher, injector, attempts, deadline_at, workers
    )
    failed = {d.record_id: d for d in dispatcher.unprocessed_details}
    for group in set(groups):
        arrived = [i for i in delivered if groups[i] == group]
        # what arrives of a group arrives in submission order
        assert arrived == sorted(arrived)
        for detail in dispatcher.unprocessed_details:
            if detail.code != FIFO_GROUP_HALTED or detail.item["group"] != group:
                continue
            # a halted message names an earlier message of its group that was not delivered
            blocker = HALTED_BY.search(detail.message).group(1)
            assert failed[blocker].code != FIFO_GROUP_HALTED
            assert failed[blocker].item["group"] == group and failed[blocker].item["id"] < detail.item["id"]
            if detail.attempts == 0:  # held back before any call: nothing later in the group was sent
                assert all(i < detail.item["id"] for i in arrived)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan_faults=st.lists(faults, max_size=12),
    count=st.integers(1, 30),
    batch=st.integers(1, 10),
    workers=st.sampled_from([1, 3]),
    attempts=st.integers(1, 5),
    deadline_at=deadlines,
)
def test_kinesis_ordered_mode_keeps_each_key_in_order_whatever_fails(
    moto_server, plan_faults, count, batch, workers, attempts, deadline_at
):
    """ordered=True: what arrives of a key arrives in submission order, and nothing of a key
    arrives after a record of it that was handed back."""
    payloads, returned, delivered, dispatcher, injector = run_kinesis(
        moto_server,
        deadline_plan(plan_faults, deadline_at),
        count,
        batch,
        workers,
        attempts,
        deadline_at,
        True,
    )
    check_exactly_once(
        count, payloads, returned, delivered, dispatcher, injector, attempts, deadline_at, workers
    )
    for key in range(3):
        arrived = [i for i in delivered if i % 3 == key]
        assert arrived == sorted(arrived)
        first_back = min((item["id"] for item in returned if item["id"] % 3 == key), default=None)
        if first_back is not None:
            assert all(i < first_back for i in arrived)
