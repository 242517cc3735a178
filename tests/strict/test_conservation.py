"""Conservation on the strict emulators under 30 % entry failures and 5 % HTTP 500s (issue 15).

Stored + returned = submitted, nothing twice, and the returned items are the submitted
objects themselves, in submission order: 1,000 mixed DynamoDB items on a table with a
partition and a sort key (read back with Scan), 5,000 Kinesis records on a 4-shard stream
(read back with GetRecords on every shard). In Kinesis's ordered mode, no record of a
partition key is stored after a later one of the same key.
"""

from __future__ import annotations

import decimal
import inspect
import json
import random
from collections import Counter, defaultdict
from typing import Any, Dict, List, Tuple

import pytest

from lambda_batch import DynamoBatchDispatcher, KinesisBatchDispatcher
from tests.strict.resources import (
    REGION,
    create_stream,
    create_table,
    no_wait_policy,
    read_all_shards,
    scan_all,
)

pytestmark = pytest.mark.integration

ENTRY_FAILURE = 0.30
SERVER_ERROR = 0.05
#: Codes an item may come back with here: the injected faults (retries exhausted), nothing else.
FAULT_CODES = {"UnprocessedItems", "ProvisionedThroughputExceededException", "InternalFailure"}

TEXTS = [
    "plain ascii",
    "Grüße aus Köln",
    "東京の天気は晴れ",
    "emoji \U0001f680 ok",
    "ελληνικά",
    "mixed é中\U0001f600",
]


# -- DynamoDB ---------------------------------------------------------------------------------


def mixed_item(rng: random.Random, index: int) -> Dict[str, Any]:
    """An item with a few of every DynamoDB type; every 40th is large (100-350 KB)."""
    item: Dict[str, Any] = {"pk": f"user-{index % 97}-{rng.choice(TEXTS)}", "sk": index}
    choices = {
        "name": lambda: rng.choice(TEXTS) * rng.randint(1, 20),
        "count": lambda: rng.randint(-(10**20), 10**20),
        "price": lambda: decimal.Decimal(rng.randint(-(10**37), 10**37)).scaleb(-rng.randint(0, 40)),
        "ratio": lambda: rng.uniform(-1e6, 1e6),
        "flag": lambda: rng.random() < 0.5,
        "nothing": lambda: None,
        "blob": lambda: rng.randbytes(rng.randint(1, 2000)),
        "tags": lambda: {rng.choice(TEXTS) + str(n) for n in range(rng.randint(1, 5))},
        "scores": lambda: {rng.randint(-1000, 1000) for _ in range(rng.randint(1, 6))},
        "blobs": lambda: {rng.randbytes(8) for _ in range(rng.randint(1, 4))},
        "history": lambda: [rng.randint(0, 9), rng.choice(TEXTS), {"at": rng.random() < 0.5, "n": None}],
        "profile": lambda: {
            "address": {"city": rng.choice(TEXTS), "zip": rng.randint(10000, 99999)},
            "tags": [],
        },
    }
    for name in rng.sample(sorted(choices), rng.randint(2, len(choices))):
        item[name] = choices[name]()
    if index % 40 == 7:
        item["document"] = rng.choice(TEXTS) * (rng.randint(100_000, 350_000) // 40)
    return item


def as_stored(item: Dict[str, Any]) -> Dict[str, Any]:
    """What DynamoDB keeps of a submitted item, in boto3's Python types (floats as Decimals)."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    def plain(value: Any) -> Any:
        if isinstance(value, float):
            return decimal.Decimal(repr(value))
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    serializer, deserializer = TypeSerializer(), TypeDeserializer()
    return {k: deserializer.deserialize(serializer.serialize(plain(v))) for k, v in item.items()}


def test_dynamodb_1000_mixed_items_are_stored_or_returned(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    from boto3.dynamodb.types import TypeDeserializer

    table = create_table(dynamodb_direct, unique_name("conserve"), {"pk": "S", "sk": "N"})
    rng = random.Random(1015)
    payloads = [mixed_item(rng, i) for i in range(1000)]
    dynamo_proxy.set_faults(entry_failure=ENTRY_FAILURE, server_error=SERVER_ERROR, seed=15)
    dispatcher = DynamoBatchDispatcher(
        table,
        partition_key="pk",
        sort_key="sk",
        boto3_session=boto3_session,
        endpoint_url=dynamo_proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
        max_workers=2,
    )
    for payload in payloads:
        dispatcher.submit_payload(payload)
    returned = dispatcher.flush_payloads()
    dispatcher.close()

    deserializer = TypeDeserializer()
    stored = {
        (item["pk"]["S"], int(item["sk"]["N"])): {k: deserializer.deserialize(v) for k, v in item.items()}
        for item in scan_all(dynamodb_direct, table)
    }
    submitted = {(p["pk"], p["sk"]): p for p in payloads}
    returned_keys = [(r["pk"], r["sk"]) for r in returned]
    assert Counter(stored.keys()) + Counter(returned_keys) == Counter(submitted.keys())
    assert_returned_are_the_submitted(payloads, returned)
    assert {d.code for d in dispatcher.unprocessed_details} <= FAULT_CODES
    for key, item in stored.items():
        assert item == as_stored(submitted[key]), key
    calls = dynamo_proxy.calls
    # the faults did happen (500s: about 3 in some 60 calls, by chance; always in the property tests)
    assert sum(c.failed_entries for c in calls) > 100
    assert dispatcher.stats.entries_sent == len(stored) and dispatcher.stats.failures == len(returned)
    assert len(stored) >= 950  # retries got through: conservation is not "everything returned"


# -- Kinesis ----------------------------------------------------------------------------------

KEYS = [f"key-{n}" if n % 5 else f"ключ-{n}-{'é' * (n % 60)}" for n in range(200)]


def kinesis_records(count: int) -> List[Tuple[Any, str]]:
    """(payload, partition key): dicts, str and bytes, a few of 10-50 KB; ``seq`` numbers a key's records."""
    rng = random.Random(2015)
    seq: Counter[str] = Counter()
    records = []
    for index in range(count):
        key = rng.choice(KEYS)
        number = seq[key]
        seq[key] += 1
        pad = rng.choice(TEXTS) * (rng.randint(1_000, 2_500) if index % 250 == 3 else rng.randint(0, 20))
        kind = index % 3
        if kind == 0:
            payload: Any = {"id": index, "key": key, "seq": number, "pad": pad}
        elif kind == 1:
            payload = f"{index}|{key}|{number}|{pad}"
        else:
            payload = f"{index}|{key}|{number}|".encode() + rng.randbytes(rng.randint(0, 500))
        records.append((payload, key))
    return records


def parse(data: bytes) -> Tuple[int, str, int]:
    """(id, key, seq) of a stored record."""
    if data.startswith(b'"'):  # a str payload, json.dumps-ed (the dispatcher's default encoding)
        data = json.loads(data).encode()
    if data.startswith(b"{"):
        body = json.loads(data)
        return body["id"], body["key"], body["seq"]
    index, key, number = data.split(b"|", 3)[:3]
    return int(index), key.decode(), int(number)


def run_kinesis(boto3_session, proxy, kinesis_direct, name, count, **options):
    stream = create_stream(kinesis_direct, name, 4)
    records = kinesis_records(count)
    proxy.set_faults(entry_failure=ENTRY_FAILURE, server_error=SERVER_ERROR, seed=15)
    dispatcher = KinesisBatchDispatcher(
        stream,
        boto3_session=boto3_session,
        endpoint_url=proxy.endpoint_url,
        region_name=REGION,
        **options,
    )
    for payload, key in records:
        dispatcher.submit_payload(payload, partition_key=key)
    returned = dispatcher.flush_payloads()
    dispatcher.close()
    by_shard = read_all_shards(kinesis_direct, stream)
    stored: Dict[str, List[int]] = defaultdict(list)  # key -> seq numbers in stored order
    stored_ids = []
    for shard_records in by_shard.values():
        for record in shard_records:
            index, key, number = parse(record["Data"])
            assert record["PartitionKey"] == key
            stored[key].append(number)
            stored_ids.append(index)
    payloads = [payload for payload, _ in records]
    returned_ids = [parse(_data(r))[0] for r in returned]
    assert Counter(stored_ids) + Counter(returned_ids) == Counter(range(count))
    assert_returned_are_the_submitted(payloads, returned)
    assert len(stored_ids) >= count * 0.9, dispatcher.unprocessed_details[:3]  # retries got through
    return dispatcher, stored, returned


def _data(payload: Any) -> bytes:
    if isinstance(payload, dict):
        return json.dumps(payload).encode()
    return payload.encode() if isinstance(payload, str) else payload


def inversions(stored: Dict[str, List[int]]) -> int:
    """Records stored after a later record of their key."""
    count = 0
    for numbers in stored.values():
        highest = -1
        for number in numbers:
            if number < highest:
                count += 1
            highest = max(highest, number)
    return count


def test_kinesis_5000_records_are_stored_or_returned(
    boto3_session, kinesis_proxy, kinesis_direct, unique_name
):
    dispatcher, stored, returned = run_kinesis(
        boto3_session,
        kinesis_proxy,
        kinesis_direct,
        unique_name("conserve"),
        5000,
        retry_policy=no_wait_policy(),
        max_workers=2,
    )
    assert {d.code for d in dispatcher.unprocessed_details} <= FAULT_CODES
    calls = kinesis_proxy.calls
    assert sum(c.failed_entries for c in calls) > 1000
    print(
        f"\nunordered: {dispatcher.stats.calls} calls ({sum(c.injected_500 for c in calls)} answered 500), "
        f"{len(returned)} returned, "
        f"{inversions(stored)} per-key order inversions"
    )


def test_kinesis_ordered_mode_keeps_each_key_in_order(
    boto3_session, kinesis_proxy, kinesis_direct, unique_name
):
    if "ordered" not in inspect.signature(KinesisBatchDispatcher).parameters:
        pytest.fail("KinesisBatchDispatcher has no ordered=True mode yet (issue 15 point 1)")
    dispatcher, stored, returned = run_kinesis(
        boto3_session,
        kinesis_proxy,
        kinesis_direct,
        unique_name("ordered"),
        5000,
        ordered=True,
        retry_policy=no_wait_policy(max_attempts=8),
        max_workers=2,
    )
    assert inversions(stored) == 0
    codes = {d.code for d in dispatcher.unprocessed_details}
    assert codes <= FAULT_CODES | {"PartitionKeyHalted"}, codes
    # a record not put holds back its key's later records: what is stored of a key is a prefix
    for key, numbers in stored.items():
        assert numbers == list(range(len(numbers))), key
    calls = kinesis_proxy.calls
    assert sum(c.failed_entries for c in calls) > 1000 and sum(c.injected_500 for c in calls) > 0
    print(f"\nordered: {dispatcher.stats.calls} calls, {len(returned)} returned")


def assert_returned_are_the_submitted(payloads: List[Any], returned: List[Any]) -> None:
    """Each returned item is a submitted object itself (not a copy), once, in submission order."""
    position = {id(p): n for n, p in enumerate(payloads)}
    positions = [position.get(id(r)) for r in returned]
    assert None not in positions
    assert all(payloads[n] is r for n, r in zip(positions, returned, strict=False))
    assert positions == sorted(set(positions))  # type: ignore[type-var]
