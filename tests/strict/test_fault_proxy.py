"""The fault proxy itself: failed entries are never stored and come back where the service puts them."""

from __future__ import annotations

import pytest

from emulator.fault_proxy import FaultProxy
from tests.strict.resources import create_stream, create_table, read_all_shards, scan_all

pytestmark = pytest.mark.integration


def test_failed_records_are_not_stored_and_are_reported_at_their_positions(
    kinesis_proxy, kinesis_direct, strict_client, unique_name
):
    stream = create_stream(kinesis_direct, unique_name("proxy"), 2)
    kinesis_proxy.set_faults(entry_failure=0.5, seed=3)
    client = strict_client("kinesis", kinesis_proxy.endpoint_url)
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(40)]
    response = client.put_records(StreamName=stream, Records=records)
    failed = [i for i, r in enumerate(response["Records"]) if "ErrorCode" in r]
    assert 0 < len(failed) < 40 and response["FailedRecordCount"] == len(failed)
    assert all("SequenceNumber" in r for i, r in enumerate(response["Records"]) if i not in failed)
    stored = {r["Data"] for shard in read_all_shards(kinesis_direct, stream).values() for r in shard}
    assert stored == {records[i]["Data"] for i in range(40) if i not in failed}
    assert kinesis_proxy.calls[-1].failed_entries == len(failed)


def test_unprocessed_writes_are_not_stored_and_come_back_as_sent(
    dynamo_proxy, dynamodb_direct, strict_client, unique_name
):
    table = create_table(dynamodb_direct, unique_name("proxy"), {"pk": "S"})
    dynamo_proxy.set_faults(entry_failure=0.5, seed=3)
    client = strict_client("dynamodb", dynamo_proxy.endpoint_url)
    writes = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"N": str(i)}}}} for i in range(25)]
    response = client.batch_write_item(RequestItems={table: writes})
    unprocessed = response["UnprocessedItems"][table]
    assert 0 < len(unprocessed) < 25 and all(w in writes for w in unprocessed)
    stored = [item["pk"]["S"] for item in scan_all(dynamodb_direct, table)]
    assert sorted(stored) == sorted(
        w["PutRequest"]["Item"]["pk"]["S"] for w in writes if w not in unprocessed
    )


def test_server_errors_are_never_forwarded(kinesis_proxy, kinesis_direct, strict_client, unique_name):
    from botocore.exceptions import ClientError

    stream = create_stream(kinesis_direct, unique_name("proxy"), 1)
    kinesis_proxy.set_faults(server_error=1.0)
    client = strict_client("kinesis", kinesis_proxy.endpoint_url)
    with pytest.raises(ClientError) as raised:
        client.put_records(StreamName=stream, Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raised.value.response["Error"]["Code"] == "InternalFailure"
    assert read_all_shards(kinesis_direct, stream) == {"shardId-000000000000": []}
    client.describe_stream_summary(StreamName=stream)  # other operations pass untouched


def test_the_same_seed_fails_the_same_entries(kinesalite, kinesis_direct, strict_client, unique_name):
    stream = create_stream(kinesis_direct, unique_name("proxy"), 1)
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(100)]
    outcomes = []
    for _ in range(2):
        with FaultProxy(kinesalite.endpoint_url, entry_failure=0.3, server_error=0.0, seed=11) as proxy:
            response = strict_client("kinesis", proxy.endpoint_url).put_records(
                StreamName=stream, Records=records
            )
            # the same content again: a fresh draw, not the same failures forever
            again = strict_client("kinesis", proxy.endpoint_url).put_records(
                StreamName=stream, Records=records
            )
        outcomes.append(
            ([i for i, r in enumerate(response["Records"]) if "ErrorCode" in r], again["FailedRecordCount"])
        )
    assert outcomes[0] == outcomes[1]
    assert 10 < len(outcomes[0][0]) < 50


def test_an_oversized_request_reaches_the_emulator_whole(
    dynamo_proxy, dynamodb_direct, strict_client, unique_name
):
    from botocore.exceptions import ClientError

    table = create_table(dynamodb_direct, unique_name("proxy"), {"pk": "S"})
    dynamo_proxy.set_faults(entry_failure=0.9, seed=1)
    big = "\u4e2d" * 130_000  # 390 KB of UTF-8, 780 KB once botocore escapes it
    writes = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "v": {"S": big}}}} for i in range(25)]
    with pytest.raises(ClientError) as raised:
        strict_client("dynamodb", dynamo_proxy.endpoint_url).batch_write_item(RequestItems={table: writes})
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert dynamo_proxy.calls[-1].request_bytes > 16 * 1024 * 1024
    assert scan_all(dynamodb_direct, table) == []
