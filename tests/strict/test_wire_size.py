"""Sizes as they go on the wire (issue 15 point 2).

botocore escapes every non-ASCII character as ``\\uXXXX``: a 400 KB item of CJK text is about
800 KB of request body, of Latin-1 text about 1.2 MB. dynalite answers a body over 16 MiB
with a bare HTTP 413 (no error code), as DynamoDB does over its limit; kinesalite does the
same over 7 MiB. The dispatchers must pack by the serialized size, and split on a bare 413.
"""

from __future__ import annotations

import json

import pytest

from lambda_batch import DynamoBatchDispatcher, KinesisBatchDispatcher
from tests.faults import min_calls
from tests.strict.resources import (
    REGION,
    create_stream,
    create_table,
    no_wait_policy,
    read_all_shards,
    scan_all,
)

pytestmark = pytest.mark.integration

ITEM_LIMIT = 400 * 1024  # DynamoDB: attribute names plus values, UTF-8


def non_ascii_items(count: int):
    """Items of nearly 400 KB (UTF-8), CJK and Latin-1 text in turn."""
    items = []
    for index in range(count):
        char, width = ("\u6771", 3) if index % 2 == 0 else ("\u00e9", 2)  # 東: 3 bytes, é: 2 bytes
        items.append({"pk": f"text-{index}", "sk": index, "text": char * ((ITEM_LIMIT - 200) // width)})
    return items


def wire_sizes(table: str, items):
    """Each PutRequest's size in botocore's JSON (``json.dumps``: non-ASCII escaped), with its separator."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    sizes = [
        len(json.dumps({"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}})) + 2
        for item in items
    ]
    overhead = len(json.dumps({"RequestItems": {table: []}}))
    return sizes, overhead


def test_25_non_ascii_400kb_items_are_stored_in_as_few_calls_as_the_wire_allows(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    table = create_table(dynamodb_direct, unique_name("wire"), {"pk": "S", "sk": "N"})
    items = non_ascii_items(25)
    dispatcher = DynamoBatchDispatcher(
        table,
        partition_key="pk",
        sort_key="sk",
        boto3_session=boto3_session,
        endpoint_url=dynamo_proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
    )
    for item in items:
        dispatcher.submit_payload(item)
    returned = dispatcher.flush_payloads()
    dispatcher.close()

    assert returned == [], [d.code for d in dispatcher.unprocessed_details]
    stored = scan_all(dynamodb_direct, table)
    assert sorted(int(item["sk"]["N"]) for item in stored) == list(range(25))
    calls = dynamo_proxy.calls
    sizes, overhead = wire_sizes(table, items)
    assert sum(sizes) > 20 * 1024 * 1024  # what the issue saw: 20-30 MB for "10 MB" of items
    # the fewest calls in which every request body stays within the limit
    fewest = min_calls(sizes, 25, dispatcher.max_batch_bytes - overhead)
    assert [c.status for c in calls if c.status == 413] == [], "a request went over the body limit"
    assert all(c.request_bytes <= 16 * 1024 * 1024 for c in calls)
    assert len(calls) == fewest == 2


def test_a_bare_413_from_kinesis_splits_the_batch(boto3_session, kinesis_proxy, kinesis_direct, unique_name):
    """kinesalite refuses bodies over 7 MiB (base64 data: 5.3 MiB of records) with a bare 413."""
    stream = create_stream(kinesis_direct, unique_name("wire"), 2)
    payloads = [bytes([65 + n]) * 900_000 for n in range(12)]  # 10.8 MB: two calls by the 10 MiB count
    dispatcher = KinesisBatchDispatcher(
        stream,
        boto3_session=boto3_session,
        endpoint_url=kinesis_proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
    )
    for n, payload in enumerate(payloads):
        dispatcher.submit_payload(payload, partition_key=f"k{n}")
    returned = dispatcher.flush_payloads()
    dispatcher.close()

    assert returned == [], [d.code for d in dispatcher.unprocessed_details]
    stored = sorted(r["Data"] for shard in read_all_shards(kinesis_direct, stream).values() for r in shard)
    assert stored == sorted(payloads)
    statuses = [c.status for c in kinesis_proxy.calls]
    assert 413 in statuses  # the emulator did refuse a body: the split was needed
    assert len(statuses) <= 2 * 12 - 1
