"""Property: whatever faults occur, every submitted item is delivered or handed back, exactly once.

Runs against the moto server; faults are injected for real on each call (tests.faults):
throttling, 5xx, access denied, connection errors, timeouts and partial failures with
retryable and non-retryable entries, in any order, with sequential or concurrent sending.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_batch import DynamoBatchDispatcher, KinesisBatchDispatcher, RetryPolicy, SQSBatchDispatcher
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


def prepared(service, plan):
    injector = INJECTORS[service]
    injector.plan = plan
    injector.calls = []
    return SESSIONS[service], injector


def run_sqs(server, plan, count, batch, workers, attempts):
    s, injector = prepared("sqs", plan)
    sqs = s.client("sqs", endpoint_url=server.endpoint_url)
    url = sqs.create_queue(QueueName=f"prop-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        dispatcher = SQSBatchDispatcher(
            url,
            max_batch_size=batch,
            max_workers=workers,
            boto3_session=s,
            endpoint_url=server.endpoint_url,
            retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        )
        payloads = [{"id": i} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload)
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [json.loads(m["Body"])["id"] for m in drain_queue(sqs, url)]
        return payloads, returned, delivered, dispatcher, injector
    finally:
        sqs.delete_queue(QueueUrl=url)


def run_kinesis(server, plan, count, batch, workers, attempts):
    s, injector = prepared("kinesis", plan)
    kinesis = s.client("kinesis", endpoint_url=server.endpoint_url)
    name = f"prop-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    try:
        dispatcher = KinesisBatchDispatcher(
            name,
            max_batch_size=batch,
            max_workers=workers,
            boto3_session=s,
            endpoint_url=server.endpoint_url,
            retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        )
        payloads = [{"id": i} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload, partition_key=f"k{payload['id'] % 3}")
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [json.loads(r["Data"])["id"] for r in read_stream(kinesis, name)]
        return payloads, returned, delivered, dispatcher, injector
    finally:
        kinesis.delete_stream(StreamName=name)


def run_dynamodb(server, plan, count, batch, workers, attempts):
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
            max_batch_size=batch,
            max_workers=workers,
            boto3_session=s,
            endpoint_url=server.endpoint_url,
            retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        )
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
)
def test_every_item_is_delivered_or_returned_exactly_once(
    moto_server, service, plan_faults, count, batch, workers, attempts
):
    def plan(call, entries):
        return plan_faults[call] if call < len(plan_faults) else OK

    payloads, returned, delivered, dispatcher, injector = RUNNERS[service](
        moto_server, plan, count, batch, workers, attempts
    )
    returned_ids = [item["id"] for item in returned]
    # exactly once: delivered and returned together are the submitted ids, no repeats, no losses
    assert Counter(delivered) + Counter(returned_ids) == Counter(range(count))
    # the returned items are the submitted objects themselves, in submission order
    assert all(item is payloads[item["id"]] for item in returned)
    assert returned_ids == sorted(returned_ids)
    assert [d.item for d in dispatcher.unprocessed_details] == returned
    assert all(d.code and 1 <= d.attempts <= attempts for d in dispatcher.unprocessed_details)
    stats = dispatcher.stats
    assert stats.entries_sent == len(delivered) and stats.failures == len(returned)
    assert stats.calls == injector.call_count
