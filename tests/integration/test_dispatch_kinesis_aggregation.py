"""KinesisBatchDispatcher(aggregate=True) against the moto server: aggregated records are read back
with GetRecords and de-aggregated by aws-kinesis-agg (the KPL format's Python peer)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections import defaultdict

import pytest
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_batch import KinesisBatchDispatcher
from lambda_batch.dispatchers import kinesis_aggregation
from lambda_batch.errors import ConfigurationError, PayloadError
from tests.faults import OK, Fault, FaultInjector, fast_policy, read_stream

pytestmark = pytest.mark.integration

MOTO_PUT_RECORDS_BYTES = 5 * 1024 * 1024  # moto caps PutRecords at 5 MiB (AWS: 10 MiB)


@pytest.fixture()
def kinesis(aws_client):
    return aws_client("kinesis")


@pytest.fixture()
def stream(kinesis, unique_name):
    name = unique_name("agg")
    kinesis.create_stream(StreamName=name, ShardCount=4)
    yield name
    kinesis.delete_stream(StreamName=name)


def make(boto3_session, endpoint_url, target, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    kwargs.setdefault("max_batch_bytes", MOTO_PUT_RECORDS_BYTES)
    return KinesisBatchDispatcher(
        target, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def user_records(stored):
    """aws-kinesis-agg's reading of what GetRecords returned: (partition key, data) per user record."""
    out = []
    for record in iter_deaggregate_records(stored, data_format="Boto3"):
        kinesis = record["kinesis"]
        assert kinesis.get("aggregated") is True  # every stored record is an aggregate
        out.append((kinesis["partitionKey"], base64.b64decode(kinesis["data"])))
    return out


def hash_of(key: str) -> int:
    return int.from_bytes(hashlib.md5(key.encode()).digest(), "big")


def test_10000_user_records_of_100_bytes_in_at_most_200_kinesis_records(
    boto3_session, endpoint_url, kinesis, stream
):
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True)
    submitted = []
    for i in range(10_000):
        key = f"user-{i % 100}"
        data = (f"{i:06d}-" + "x" * 100)[:100].encode()
        submitted.append((key, data))
        dispatcher.submit_payload(data, partition_key=key)
    assert dispatcher.flush_payloads() == []

    stored = read_stream(kinesis, stream)
    kinesis_records = sum(call.entries for call in injector.calls)
    assert len(stored) == kinesis_records <= 200
    total = sum(len(r["Data"]) + len(r["PartitionKey"]) for r in stored)
    assert (
        injector.call_count
        == math.ceil(kinesis_records / 500)
        == max(1, math.ceil(total / MOTO_PUT_RECORDS_BYTES))
    )
    assert dispatcher.stats.entries_sent == kinesis_records and dispatcher.stats.failures == 0

    got = user_records(stored)
    assert sorted(got) == sorted(submitted)  # exactly the submitted records, none lost or doubled
    by_key_sent, by_key_got = defaultdict(list), defaultdict(list)
    for key, data in submitted:
        by_key_sent[key].append(data)
    for key, data in got:
        by_key_got[key].append(data)
    assert by_key_got == by_key_sent  # in order per partition key

    # Every user record hashes into the shard its aggregate was stored on (the KCL drops it otherwise).
    ranges = {
        s["ShardId"]: (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in kinesis.list_shards(StreamName=stream)["Shards"]
    }
    for shard_id, (low, high) in ranges.items():
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        on_shard = kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]
        for user in iter_deaggregate_records(on_shard, data_format="Boto3"):
            assert low <= hash_of(user["kinesis"]["partitionKey"]) <= high


def test_without_aggregation_the_same_records_take_20_calls(boto3_session, endpoint_url, stream):
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, stream)
    for i in range(10_000):
        dispatcher.submit_payload(b"x" * 100, partition_key=f"user-{i % 100}")
    assert dispatcher.flush_payloads() == []
    assert sum(call.entries for call in injector.calls) == 10_000 and injector.call_count == 20


def test_per_partition_key_aggregation_keeps_keys_apart(boto3_session, endpoint_url, kinesis, stream):
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate="partition_key")
    for i in range(600):
        dispatcher.submit_payload({"n": i}, partition_key=f"k{i % 3}")
    assert dispatcher.flush_payloads() == []
    stored = read_stream(kinesis, stream)
    assert len(stored) == 3
    for record in stored:
        keys = {
            user["kinesis"]["partitionKey"]
            for user in iter_deaggregate_records([record], data_format="Boto3")
        }
        assert keys == {record["PartitionKey"]}


def test_explicit_hash_keys_route_the_aggregate(boto3_session, endpoint_url, kinesis, stream):
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True)
    top = 2**128 - 2**20  # in the last of 4 shards (moto finds no shard for 2**128 - 1 itself)
    for i in range(40):
        dispatcher.submit_payload(f"r{i}", partition_key=f"k{i}", explicit_hash_key=str(top - i))
    assert dispatcher.flush_payloads() == []
    stored = read_stream(kinesis, stream)
    assert len(stored) == 1  # every hash key is in the last shard: one aggregate
    users = list(iter_deaggregate_records(stored, data_format="Boto3"))
    assert [u["kinesis"]["explicitHashKey"] for u in users] == [str(top - i) for i in range(40)]


def test_a_failed_aggregate_returns_its_user_records_as_submitted(
    boto3_session, endpoint_url, kinesis, stream
):
    # The first call's aggregates all fail for good: the user records come back, in submission order.
    FaultInjector(
        boto3_session,
        "kinesis",
        lambda call, n: Fault("partial", {i: False for i in range(n)}) if call == 0 else OK,
    )
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True)
    payloads = [{"n": i} for i in range(300)]
    for i, payload in enumerate(payloads):
        dispatcher.submit_payload(payload, partition_key=f"user-{i % 10}")
    failed = dispatcher.flush_payloads()
    assert all(a is b for a, b in zip(failed, payloads, strict=False)) and len(failed) == 300
    details = dispatcher.unprocessed_details
    assert {d.code for d in details} == {"KMSAccessDeniedException"}
    assert details[0].record_id.startswith("record #1 (in an aggregated record of")
    assert read_stream(kinesis, stream) == []


def test_retries_and_the_deadline_work_per_aggregated_record(boto3_session, endpoint_url, kinesis, stream):
    plan = lambda call, n: Fault("partial", {0: True}) if call < 2 else OK  # noqa: E731
    injector = FaultInjector(boto3_session, "kinesis", plan)
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate="partition_key")
    for i in range(90):
        dispatcher.submit_payload(json.dumps({"n": i}), partition_key=f"k{i % 3}")
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [3, 1, 1]
    assert sorted(
        len(list(iter_deaggregate_records([r], data_format="Boto3"))) for r in read_stream(kinesis, stream)
    ) == [30, 30, 30]

    expired = make(boto3_session, endpoint_url, stream, aggregate=True, deadline=0.5)
    items = [f"late-{i}" for i in range(10)]
    for item in items:
        expired.submit_payload(item, partition_key="k")
    assert expired.flush_payloads() == items
    assert {d.code for d in expired.unprocessed_details} == {"DeadlineExceeded"}


def test_a_put_on_an_unexpected_shard_reads_the_shard_map_again(
    boto3_session, endpoint_url, kinesis, stream, caplog
):
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True)
    dispatcher.submit_payload(b"a", partition_key="k")  # reads the map
    key = next(k for k in kinesis_aggregation._SHARD_MAPS if k[0] == stream)
    real = kinesis_aggregation._SHARD_MAPS[key]
    only = next(i for i in real._ids if i != real.shard_for(hash_of("k0")))  # a stale map: one wrong shard
    kinesis_aggregation._SHARD_MAPS[key] = kinesis_aggregation.ShardMap([(0, 2**128 - 1, only)])
    dispatcher2 = make(boto3_session, endpoint_url, stream, aggregate=True)
    for i in range(50):
        dispatcher2.submit_payload(b"b", partition_key=f"k{i}")
    assert dispatcher2.flush_payloads() == []
    assert "its shards are read again" in caplog.text
    dispatcher2.submit_payload(b"c", partition_key="k0")  # the map is read again: four shards
    assert len(kinesis_aggregation._SHARD_MAPS[key]) == 4
    assert dispatcher2.flush_payloads() == [] and dispatcher.flush_payloads() == []


def test_bad_options_and_records_are_refused(boto3_session, endpoint_url, kinesis, stream):
    with pytest.raises(ConfigurationError):
        make(boto3_session, endpoint_url, stream, aggregate="yes")
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True)
    dispatcher.submit_payload(b"first", partition_key="k")
    dispatcher.submit_payload(b"second", partition_key="k")
    with pytest.raises(PayloadError, match=r"record #3 \(as an aggregated record\) is 1048\d+ bytes"):
        dispatcher.submit_payload(b"x" * (1024 * 1024), partition_key="k")
    with pytest.raises(PayloadError, match="record #3: the partition key is 0 characters"):
        dispatcher.submit_payload(b"x", partition_key="")
    dispatcher.submit_payload(b"ok", partition_key="k")
    assert dispatcher.flush_payloads() == []
    assert sorted(data for _, data in user_records(read_stream(kinesis, stream))) == [
        b"first",
        b"ok",
        b"second",
    ]


def test_no_list_shards_call_past_the_deadline(boto3_session, endpoint_url, kinesis, stream):
    calls = []
    boto3_session.events.register("before-call.kinesis.ListShards", lambda **kw: calls.append(1))
    dispatcher = make(boto3_session, endpoint_url, stream, aggregate=True, deadline=0.5)
    dispatcher.submit_payload(b"x", partition_key="k")
    assert calls == []  # aggregated per partition key instead
    assert dispatcher.flush_payloads() == [b"x"]


faults = st.sampled_from(["ok", "ok", "partial-retry", "partial-final", "throttle", "server", "timeout"])


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    plan=st.lists(faults, min_size=1, max_size=8),
    keys=st.integers(1, 30),
    count=st.integers(1, 400),
    mode=st.sampled_from([True, "partition_key"]),
    workers=st.sampled_from([1, 3]),
)
def test_every_user_record_is_put_once_or_handed_back_once(
    boto3_session, endpoint_url, kinesis, unique_name, plan, keys, count, mode, workers
):
    name = unique_name("aggprop")
    kinesis.create_stream(StreamName=name, ShardCount=3)
    try:

        def fault(call, n):
            kind = plan[call % len(plan)]
            if kind == "partial-retry":
                return Fault("partial", {0: True})
            if kind == "partial-final":
                return Fault("partial", {n - 1: False})
            return OK if kind == "ok" else Fault(kind)

        session = type(boto3_session)(region_name="us-east-1")
        FaultInjector(session, "kinesis", fault)
        dispatcher = make(session, endpoint_url, name, aggregate=mode, max_workers=workers, max_batch_size=7)
        payloads = [f"{i}".encode() for i in range(count)]
        for i, payload in enumerate(payloads):
            dispatcher.submit_payload(payload, partition_key=f"k{i % keys}")
        failed = dispatcher.flush_payloads()
        stored = [u for u in user_records(read_stream(kinesis, name))]
        delivered = sorted(int(data) for _, data in stored)
        returned = sorted(int(item) for item in failed)
        assert sorted(delivered + returned) == list(range(count))  # each exactly once
        assert len(set(map(id, failed))) == len(failed) and all(f in payloads for f in failed)
    finally:
        kinesis.delete_stream(StreamName=name)


def test_ordered_mode_and_workers_keep_each_keys_user_records_in_order(
    boto3_session, endpoint_url, kinesis, stream
):
    plan = lambda call, n: Fault("partial", {0: True}) if call % 3 == 0 else OK  # noqa: E731
    FaultInjector(boto3_session, "kinesis", plan)
    dispatcher = make(
        boto3_session, endpoint_url, stream, aggregate=True, ordered=True, max_batch_bytes=64 * 1024
    )
    sent = [(f"k{i % 7}", f"{i:05d}".encode() * 40) for i in range(3000)]
    for key, data in sent:
        dispatcher.submit_payload(data, partition_key=key)
    assert dispatcher.flush_payloads() == []
    got = user_records(read_stream(kinesis, stream))
    for key in {k for k, _ in sent}:
        assert [d for k, d in got if k == key] == [d for k, d in sent if k == key]
