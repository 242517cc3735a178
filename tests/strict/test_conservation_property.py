"""Property (as tests/property/test_dispatch_faults.py, on the strict emulators): every item is
stored or returned, exactly once, whatever the fault rates, batch sizes, workers and attempts.

Faults come from the proxy on the wire (entry failures that are never stored, 500s never
forwarded), seeded by hypothesis, so a failing example reproduces. In Kinesis's ordered mode,
each partition key also stays in order. Few examples: each makes a table or a stream.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_batch import DynamoBatchDispatcher, KinesisBatchDispatcher, RetryPolicy
from tests.strict.resources import REGION, create_stream, create_table, read_all_shards, scan_all

pytestmark = pytest.mark.integration

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

faults = st.fixed_dictionaries(
    {
        "entry_failure": st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]),
        "server_error": st.sampled_from([0.0, 0.05, 0.3]),
        "seed": st.integers(0, 2**16),
    }
)


def check(payloads, returned, delivered_ids, dispatcher):
    returned_ids = [p["id"] for p in returned]
    assert Counter(delivered_ids) + Counter(returned_ids) == Counter(p["id"] for p in payloads)
    assert all(r is payloads[r["id"]] for r in returned)
    assert returned_ids == sorted(returned_ids)
    assert [d.item for d in dispatcher.unprocessed_details] == returned
    assert dispatcher.stats.entries_sent == len(delivered_ids)


@SETTINGS
@given(
    fault=faults,
    count=st.integers(1, 80),
    batch=st.integers(1, 25),
    workers=st.sampled_from([1, 3]),
    attempts=st.integers(1, 5),
    deletes=st.booleans(),
)
def test_dynamodb_items_are_stored_or_returned_exactly_once(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name, fault, count, batch, workers, attempts, deletes
):
    table = create_table(dynamodb_direct, unique_name("prop"), {"pk": "S", "sk": "N"})
    try:
        dynamo_proxy.set_faults(**fault)
        dispatcher = DynamoBatchDispatcher(
            table,
            partition_key="pk",
            sort_key="sk",
            max_batch_size=batch,
            max_workers=workers,
            boto3_session=boto3_session,
            endpoint_url=dynamo_proxy.endpoint_url,
            region_name=REGION,
            retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        )
        payloads = [{"id": i, "pk": f"p{i % 7}", "sk": i, "text": "é" * (i % 5)} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload)
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        delivered = [int(item["id"]["N"]) for item in scan_all(dynamodb_direct, table)]
        check(payloads, returned, delivered, dispatcher)
    finally:
        dynamodb_direct.delete_table(TableName=table)


@SETTINGS
@given(
    fault=faults,
    count=st.integers(1, 300),
    batch=st.sampled_from([1, 7, 100, 500]),
    workers=st.sampled_from([1, 3]),
    attempts=st.integers(1, 5),
    keys=st.integers(1, 12),
    ordered=st.booleans(),
)
def test_kinesis_records_are_stored_or_returned_exactly_once(
    boto3_session,
    kinesis_proxy,
    kinesis_direct,
    unique_name,
    fault,
    count,
    batch,
    workers,
    attempts,
    keys,
    ordered,
):
    stream = create_stream(kinesis_direct, unique_name("prop"), 2)
    try:
        kinesis_proxy.set_faults(**fault)
        dispatcher = KinesisBatchDispatcher(
            stream,
            max_batch_size=batch,
            max_workers=workers,
            ordered=ordered,
            boto3_session=boto3_session,
            endpoint_url=kinesis_proxy.endpoint_url,
            region_name=REGION,
            retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0, max_delay=0),
        )
        payloads = [{"id": i, "key": f"k{i % keys}"} for i in range(count)]
        for payload in payloads:
            dispatcher.submit_payload(payload, partition_key=payload["key"])
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        by_key = defaultdict(list)
        delivered = []
        for shard in read_all_shards(kinesis_direct, stream).values():
            for record in shard:
                body = json.loads(record["Data"])
                by_key[body["key"]].append(body["id"])
                delivered.append(body["id"])
        check(payloads, returned, delivered, dispatcher)
        if ordered:
            assert all(ids == sorted(ids) for ids in by_key.values())
    finally:
        kinesis_direct.delete_stream(StreamName=stream)
