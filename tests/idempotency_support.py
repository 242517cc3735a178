"""Shared parts of the idempotency tests: the table on a DynamoDB endpoint, calls counted on the wire.

Calls are counted with a botocore ``before-send`` hook on the session: one count per HTTP request
sent (retries included), named by its operation.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple


def make_table(dynamodb: Any, name: str) -> str:
    """An idempotency table as Powertools documents it: partition key ``id`` (string), on demand."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


class WireCalls:
    """Counts the DynamoDB requests sent through clients of ``session`` (register before making them)."""

    def __init__(self, session: Any, service: str = "dynamodb") -> None:
        self.operations: List[str] = []
        self._lock = threading.Lock()
        session.events.register(f"before-send.{service}", self._sent)

    def _sent(self, request: Any, event_name: str, **_: Any) -> None:
        with self._lock:
            self.operations.append(event_name.rsplit(".", 1)[-1])

    @property
    def count(self) -> int:
        return len(self.operations)

    def by_operation(self) -> Dict[str, int]:
        return dict(Counter(self.operations))

    def reset(self) -> None:
        with self._lock:
            self.operations.clear()


def items_by_key(dynamodb: Any, table: str) -> Dict[str, Dict[str, Any]]:
    """Every item of the table, by its ``id``."""
    items: Dict[str, Dict[str, Any]] = {}
    kwargs: Dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        for item in page["Items"]:
            items[item["id"]["S"]] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Handled:
    """A record handler that counts its runs per message id (thread-safe) and fails the ids asked."""

    def __init__(self, fail: Optional[Callable[[str], bool]] = None) -> None:
        self.runs: Counter[str] = Counter()
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self, record: Any) -> Any:
        message_id = record["messageId"]
        with self._lock:
            self.runs[message_id] += 1
        if self.fail is not None and self.fail(message_id):
            raise RuntimeError("handler failed")
        return {"handled": message_id}


def process_in_child(
    table: str, endpoint_url: str, count: int, barrier: Any, fail: str = ""
) -> Tuple[List[str], List[str]]:
    """One delivery of records ``m-0``..``m-<count-1>`` in a process of its own (another execution
    environment): the message ids its handler ran, and those it returned as failures. Both
    processes wait on ``barrier`` after reading the table, so their claims race."""
    from lambda_batch import BatchProcessor, EventType, Idempotency, process_partial_response
    from tests.processing_events import FakeLambdaContext, sqs_record
    from tests.sessions import fresh_session

    session = fresh_session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    session.events.register("before-call.dynamodb.TransactWriteItems", lambda **_: barrier.wait(30) and None)
    idempotency = Idempotency(
        table, boto3_session=session, endpoint_url=endpoint_url, region_name="us-east-1"
    )
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency, raise_on_entire_batch_failure=False)
    handler = Handled()
    event = {"Records": [sqs_record(n) for n in range(count)]}
    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    return sorted(handler.runs.elements()), [
        failure["itemIdentifier"] for failure in response["batchItemFailures"]
    ]


def child_main(table: str, endpoint_url: str, count: int, barrier: Any, results: Any) -> None:
    """:func:`process_in_child`, its outcome put on the ``results`` queue (a process's target)."""
    try:
        results.put(process_in_child(table, endpoint_url, count, barrier))
    except BaseException as exc:  # the parent must hear of it rather than wait
        results.put(("error", repr(exc)))
