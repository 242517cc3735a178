"""Kinesis dispatcher against the moto server: records are read back from the shards."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from lambda_batch import KinesisBatchDispatcher, PayloadError
from tests.faults import OK, Fault, FaultInjector, fast_policy, min_calls, read_stream

pytestmark = pytest.mark.integration

#: moto refuses PutRecords calls over 5 MiB (AWS allows 10 MiB): tests against it use this cap.
MOTO_PUT_RECORDS_BYTES = 5 * 1024 * 1024


@pytest.fixture()
def kinesis(aws_client):
    return aws_client("kinesis")


@pytest.fixture()
def stream(kinesis, unique_name):
    name = unique_name("clicks")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    yield name
    kinesis.delete_stream(StreamName=name)


def make(boto3_session, endpoint_url, target, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    kwargs.setdefault("max_batch_bytes", MOTO_PUT_RECORDS_BYTES)
    return KinesisBatchDispatcher(
        target, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def test_records_arrive_with_their_partition_keys(boto3_session, endpoint_url, kinesis, stream):
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, stream, partition_key_identifier="user")
    payloads = [{"user": f"u{i % 7}", "n": i} for i in range(1234)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [500, 500, 234]
    records = read_stream(kinesis, stream)
    assert sorted(json.loads(r["Data"])["n"] for r in records) == list(range(1234))
    assert all(r["PartitionKey"] == json.loads(r["Data"])["user"] for r in records)


def test_stream_named_by_arn_and_explicit_hash_key(boto3_session, endpoint_url, kinesis, stream):
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    dispatcher = make(boto3_session, endpoint_url, arn)
    dispatcher.submit_payload(b"\x00raw", partition_key="k", explicit_hash_key="0")
    dispatcher.submit_payload("text")
    assert dispatcher.flush_payloads() == []
    # bytes as they are; a str JSON-encoded, as boto3-batch-utils does
    assert sorted(r["Data"] for r in read_stream(kinesis, stream)) == [b"\x00raw", b'"text"']


@pytest.mark.parametrize("workers", [1, 4])
def test_order_is_kept_per_partition_key(boto3_session, endpoint_url, kinesis, stream, workers):
    dispatcher = make(boto3_session, endpoint_url, stream, max_batch_size=20, max_workers=workers)
    for i in range(300):
        dispatcher.submit_payload({"seq": i}, partition_key=f"key-{i % 5}")
    assert dispatcher.flush_payloads() == []
    dispatcher.close()
    records = read_stream(kinesis, stream)
    assert len(records) == 300
    for key in range(5):
        seqs = [json.loads(r["Data"])["seq"] for r in records if r["PartitionKey"] == f"key-{key}"]
        assert seqs == sorted(seqs) and len(seqs) == 60


def test_mixed_sizes_take_the_lower_bound_of_calls(boto3_session, endpoint_url, kinesis, stream):
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, stream)
    sizes = ([900_000] * 3 + [100] * 40 + [1_000_000] * 4 + [10] * 300) * 2
    for i, size in enumerate(sizes):
        dispatcher.submit_payload(b"d" * size, partition_key=f"{i:04d}")  # 4-byte keys count too
    assert dispatcher.flush_payloads() == []
    assert injector.call_count == min_calls([s + 4 for s in sizes], 500, MOTO_PUT_RECORDS_BYTES)
    assert Counter(len(r["Data"]) for r in read_stream(kinesis, stream)) == Counter(sizes)


def test_record_over_one_mib_is_refused_and_nothing_else_is_lost(
    boto3_session, endpoint_url, kinesis, stream
):
    dispatcher = make(boto3_session, endpoint_url, stream)
    dispatcher.submit_payload("kept", partition_key="a")
    with pytest.raises(PayloadError, match="1048576 bytes"):
        dispatcher.submit_payload(b"x" * (1024 * 1024), partition_key="a")  # data + key > 1 MiB
    with pytest.raises(PayloadError, match="partition key field 'user'"):
        KinesisBatchDispatcher(stream, partition_key_identifier="user").submit_payload({"other": 1})
    assert dispatcher.flush_payloads() == []
    assert [r["Data"] for r in read_stream(kinesis, stream)] == [b'"kept"']


def test_throughput_exceeded_records_are_retried_and_kms_errors_returned(
    boto3_session, endpoint_url, kinesis, stream
):
    plan = {0: Fault("partial", {0: True, 3: False, 4: True}), 1: Fault("partial", {0: True})}
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, stream)
    payloads = [{"n": i} for i in range(6)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert failed == [payloads[3]] and failed[0] is payloads[3]
    assert dispatcher.unprocessed_details[0].code == "KMSAccessDeniedException"
    assert [c.entries for c in injector.calls] == [6, 2, 1]
    assert dispatcher.stats.retries == 2
    assert sorted(json.loads(r["Data"])["n"] for r in read_stream(kinesis, stream)) == [0, 1, 2, 4, 5]


def test_missing_stream_returns_the_records(boto3_session, endpoint_url, unique_name):
    dispatcher = make(boto3_session, endpoint_url, unique_name("absent"))
    payloads = [{"n": i} for i in range(3)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert all(a is b for a, b in zip(failed, payloads, strict=False)) and len(failed) == 3
    assert dispatcher.unprocessed_details[0].code == "ResourceNotFoundException"


def test_a_failed_record_does_not_hold_back_its_partition_key(boto3_session, endpoint_url, kinesis, stream):
    # Kinesis does not promise order across retries, so later records of the key are still put.
    FaultInjector(
        boto3_session,
        "kinesis",
        lambda call, n: OK,
        fail_entries=lambda record: False if json.loads(record["Data"])["n"] == 1 else None,
    )
    dispatcher = make(boto3_session, endpoint_url, stream, max_batch_size=2)
    payloads = [{"n": i} for i in range(6)]
    for payload in payloads:
        dispatcher.submit_payload(payload, partition_key="same")
    assert dispatcher.flush_payloads() == [payloads[1]]
    assert [json.loads(r["Data"])["n"] for r in read_stream(kinesis, stream)] == [0, 2, 3, 4, 5]


# -- keys Kinesis refuses, refused at submit (issue 8 defects 7 and 9, issue 15 point 3) -----------

SECRET = "s3cr3t-user-id"


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (
            {"partition_key": "k", "explicit_hash_key": str(2**128)},
            r"record #2: explicit_hash_key is above 2\*\*128 - 1",
        ),
        (
            {"partition_key": "k", "explicit_hash_key": "-1"},
            r"record #2: explicit_hash_key must be a decimal integer",
        ),
        ({"partition_key": "k", "explicit_hash_key": "12a"}, r"explicit_hash_key must be a decimal integer"),
        ({"partition_key": "k", "explicit_hash_key": "007"}, r"without sign or leading zeros"),
        ({"partition_key": "k", "explicit_hash_key": ""}, r"explicit_hash_key must be a decimal integer"),
        (
            {"partition_key": "k", "explicit_hash_key": 1.5},
            r"explicit_hash_key must be a decimal integer string, not float",
        ),
        ({"partition_key": SECRET * 20}, r"record #2: the partition key is 280 characters"),
        ({"partition_key": "\U0001f600" * 129}, r"the partition key is 258 characters \(UTF-16 code units\)"),
        ({"partition_key": ""}, r"the partition key is 0 characters"),
        ({"partition_key": 42}, r"the partition key must be a string, not int"),
    ],
)
def test_keys_kinesis_refuses_are_refused_at_submit_without_quoting_them(
    boto3_session, endpoint_url, kinesis, stream, kwargs, problem
):
    injector = FaultInjector(boto3_session, "kinesis", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, stream)
    dispatcher.submit_payload("kept", partition_key="a")
    with pytest.raises(PayloadError, match=problem) as raised:
        dispatcher.submit_payload({"secret": SECRET}, **kwargs)
    assert SECRET not in str(raised.value)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1]
    assert [r["Data"] for r in read_stream(kinesis, stream)] == [b'"kept"']


def test_a_partition_key_field_that_is_none_is_refused(boto3_session, endpoint_url, kinesis, stream):
    dispatcher = make(boto3_session, endpoint_url, stream, partition_key_identifier="user")
    with pytest.raises(PayloadError, match=r"record #1: partition key field 'user' is None") as raised:
        dispatcher.submit_payload({"user": None, "secret": SECRET})
    assert SECRET not in str(raised.value)
    dispatcher.submit_payload({"user": 7})  # other values become their text, as boto3-batch-utils does
    assert dispatcher.flush_payloads() == []
    assert [r["PartitionKey"] for r in read_stream(kinesis, stream)] == ["7"]


def test_keys_at_the_limits_are_put(boto3_session, endpoint_url, kinesis, stream):
    dispatcher = make(boto3_session, endpoint_url, stream)
    keys = ["漢" * 256, "\U0001f600" * 128, "k" * 256]
    for key in keys:
        # (2**128 - 1 is accepted too, see the unit tests; moto finds no shard for it)
        dispatcher.submit_payload(b"x", partition_key=key, explicit_hash_key=str(2**128 - 2))
    dispatcher.submit_payload(b"y", partition_key="int", explicit_hash_key=2**127)
    assert dispatcher.flush_payloads() == []
    assert sorted(r["PartitionKey"] for r in read_stream(kinesis, stream)) == sorted([*keys, "int"])
