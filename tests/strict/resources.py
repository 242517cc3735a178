"""Tables and streams on the strict emulators, and reading back what arrived; the dispatchers' settings.

Resources are made and read on the emulator itself (never through the fault proxy).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List

from lambda_batch import RetryPolicy

REGION = "us-east-1"


def no_wait_policy(max_attempts: int = 5) -> RetryPolicy:
    """The default number of attempts, without waiting between them (tests must not sleep)."""
    return RetryPolicy(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0)


def _wait(describe: Callable[[], str], what: str) -> None:
    deadline = time.monotonic() + 30
    while describe() != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ACTIVE after 30 s")
        time.sleep(0.02)


def create_table(dynamodb: Any, name: str, key_types: Dict[str, str]) -> str:
    """A PAY_PER_REQUEST table whose key is ``{"pk": "S", "sk": "N"}`` (hash first, range second)."""
    names = list(key_types)
    schema = [{"AttributeName": names[0], "KeyType": "HASH"}]
    if len(names) > 1:
        schema.append({"AttributeName": names[1], "KeyType": "RANGE"})
    dynamodb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in key_types.items()],
        BillingMode="PAY_PER_REQUEST",
    )
    _wait(lambda: dynamodb.describe_table(TableName=name)["Table"]["TableStatus"], f"table {name}")
    return name


def scan_all(dynamodb: Any, name: str) -> List[Dict[str, Any]]:
    """Every item of a table, as DynamoDB JSON, through every page of Scan."""
    items: List[Dict[str, Any]] = []
    page: Dict[str, Any] = {}
    while True:
        response = dynamodb.scan(TableName=name, **page)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return items
        page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}


def create_stream(kinesis: Any, name: str, shards: int) -> str:
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    _wait(
        lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"],
        f"stream {name}",
    )
    return name


def read_all_shards(kinesis: Any, name: str) -> Dict[str, List[Dict[str, Any]]]:
    """Every record of a stream, per shard, in sequence order (GetRecords from TRIM_HORIZON)."""
    by_shard: Dict[str, List[Dict[str, Any]]] = {}
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = by_shard.setdefault(shard["ShardId"], [])
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            records += response["Records"]
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return by_shard
