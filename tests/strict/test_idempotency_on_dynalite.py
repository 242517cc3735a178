"""The idempotency table's reads and write-backs on dynalite, which validates as DynamoDB does.

dynalite has BatchGetItem and BatchWriteItem (100 keys, 25 writes, no duplicate key in a call,
key sizes) but no TransactWriteItems: there the whole feature shows that a claim it cannot make
leaves every record unhandled (failed, to come back), never handled unclaimed.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from lambda_batch import BatchProcessor, EventType, Idempotency, IdempotencyError, process_partial_response
from lambda_batch.core.deadline import Deadline
from lambda_batch.processing.features.idempotency_table import IdempotencyTable
from tests.idempotency_support import Handled, WireCalls
from tests.processing_events import FakeLambdaContext, sqs_record
from tests.strict.resources import REGION, create_table, no_wait_policy, scan_all

pytestmark = pytest.mark.integration


@pytest.fixture()
def dynamodb(strict_client: Any, dynalite: Any) -> Any:
    return strict_client("dynamodb", dynalite.endpoint_url)


def _table(boto3_session: Any, endpoint_url: str, name: str) -> IdempotencyTable:
    options = Idempotency(name, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name=REGION)
    return IdempotencyTable(name, options.clients, no_wait_policy())


def test_write_back_and_read_in_calls_of_25_and_100(
    dynalite: Any, dynamodb: Any, boto3_session: Any, unique_name: Any
) -> None:
    name = create_table(dynamodb, unique_name("idempotency"), {"id": "S"})
    wire = WireCalls(boto3_session)
    table = _table(boto3_session, dynalite.endpoint_url, name)
    expiry = str(int(time.time()) + 3600)
    keys = [f"fn.handler#{n:032x}" + "k" * 2000 for n in range(130)]  # near the 2,048-byte key limit
    puts = [
        (f"m-{n}", {"id": {"S": key}, "status": {"S": "COMPLETED"}, "expiration": {"N": expiry}})
        for n, key in enumerate(keys)
    ]

    assert table.write_back(puts, [], Deadline.after(60)) == []
    assert table.write_back([], [(f"m-{n}", keys[n]) for n in range(10)], Deadline.after(60)) == []
    found, unread = table.read(keys, Deadline.after(60))

    assert wire.by_operation() == {"BatchWriteItem": 6 + 1, "BatchGetItem": 2}
    assert unread == {} and sorted(found) == sorted(keys[10:])
    assert len(scan_all(dynamodb, name)) == 120


def test_without_transactions_no_record_is_handled_unclaimed(
    dynalite: Any, dynamodb: Any, boto3_session: Any, unique_name: Any
) -> None:
    name = create_table(dynamodb, unique_name("idempotency"), {"id": "S"})
    options = Idempotency(
        name, boto3_session=boto3_session, endpoint_url=dynalite.endpoint_url, region_name=REGION
    )
    processor = BatchProcessor(EventType.SQS, idempotency=options, raise_on_entire_batch_failure=False)
    handler = Handled()

    response = process_partial_response(
        {"Records": [sqs_record(n) for n in range(3)]}, handler, processor, FakeLambdaContext()
    )

    assert not handler.runs
    assert [failure["itemIdentifier"] for failure in response["batchItemFailures"]] == ["m-0", "m-1", "m-2"]
    assert all(isinstance(info[1], IdempotencyError) for info in processor.exceptions)
    assert scan_all(dynamodb, name) == []
