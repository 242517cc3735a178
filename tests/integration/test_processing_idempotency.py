"""idempotency= on a real DynamoDB wire protocol (moto on loopback): calls counted on the wire, items
read back.

Faults (UnprocessedKeys, UnprocessedItems, a cancelled transaction) are injected with botocore
event hooks on the session; the table's clock is the feature's own ``wall_clock`` hook.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, List

import pytest

from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    ConfigurationError,
    EventType,
    Idempotency,
    PartialSQSProcessor,
    RecordInProgressError,
    SQSBatchProcessingError,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from tests.idempotency_support import Handled, WireCalls, items_by_key, make_table
from tests.processing_events import FakeLambdaContext, dynamodb_record, kinesis_record, sqs_record

pytestmark = [pytest.mark.integration]


@pytest.fixture()
def dynamodb(aws_client: Any) -> Any:
    return aws_client("dynamodb")


@pytest.fixture()
def table(dynamodb: Any, unique_name: Any) -> str:
    return make_table(dynamodb, unique_name("idempotency"))


@pytest.fixture()
def wire(boto3_session: Any) -> WireCalls:
    return WireCalls(boto3_session)


@pytest.fixture()
def idempotency(table: str, boto3_session: Any, endpoint_url: str) -> Idempotency:
    return Idempotency(table, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1")


def _event(numbers: Any, **kwargs: Any) -> Dict[str, Any]:
    return {"Records": [sqs_record(n, **kwargs) for n in numbers]}


def _failed_ids(response: Dict[str, Any]) -> List[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_100_fresh_records_cost_at_most_10_calls_and_are_marked_completed(
    idempotency: Idempotency, wire: WireCalls, dynamodb: Any, table: str
) -> None:
    handler = Handled()
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)

    response = process_partial_response(_event(range(100)), handler, processor, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert set(handler.runs.values()) == {1} and len(handler.runs) == 100
    assert wire.count <= 10, wire.by_operation()  # Powertools: 200
    assert wire.by_operation() == {"BatchGetItem": 1, "TransactWriteItems": 1, "BatchWriteItem": 4}
    items = items_by_key(dynamodb, table)
    assert len(items) == 100
    assert {item["status"]["S"] for item in items.values()} == {"COMPLETED"}
    assert all("in_progress_expiration" not in item for item in items.values())
    assert sorted(json.loads(item["data"]["S"])["handled"] for item in items.values()) == sorted(
        f"m-{n}" for n in range(100)
    )


def test_a_redelivery_of_100_completed_records_costs_at_most_2_calls_and_runs_no_handler(
    idempotency: Idempotency, wire: WireCalls
) -> None:
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    process_partial_response(_event(range(100)), Handled(), processor, FakeLambdaContext())
    wire.reset()
    again = Handled()

    with processor(_event(range(100))["Records"], again, lambda_context=FakeLambdaContext()):
        results = processor.process()

    assert not again.runs
    assert wire.count <= 2, wire.by_operation()
    assert processor.response() == {"batchItemFailures": []}
    assert [result[1] for result in results] == [{"handled": f"m-{n}"} for n in range(100)]


def test_a_failed_record_redelivered_runs_alone(idempotency: Idempotency, dynamodb: Any, table: str) -> None:
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    first = Handled(fail=lambda message_id: message_id == "m-3")
    response = process_partial_response(_event(range(10)), first, processor, FakeLambdaContext())
    assert _failed_ids(response) == ["m-3"]
    assert len(items_by_key(dynamodb, table)) == 9  # the failed record's claim was released

    again = Handled()
    response = process_partial_response(_event(range(10)), again, processor, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert dict(again.runs) == {"m-3": 1}


def test_the_claims_expire_with_the_invocation_and_a_crashed_invocations_records_run_after_it(
    idempotency: Idempotency, dynamodb: Any, table: str
) -> None:
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    feature = processor.features[-1]
    now = time.time()
    feature.wall_clock = lambda: now  # type: ignore[attr-defined]
    crashed = Handled()
    with processor(_event([1])["Records"], crashed, lambda_context=FakeLambdaContext(remaining_ms=30_000)):
        processor.process()
        claim = items_by_key(dynamodb, table)
        # the invocation "crashes" here: its with block never ends, nothing is written back
        feature._claims = None  # type: ignore[attr-defined]
    (item,) = claim.values()
    assert item["status"]["S"] == "INPROGRESS"
    # the invocation's deadline in epoch ms: 30 s from the context's making, less what has run since
    assert now * 1000 < int(item["in_progress_expiration"]["N"]) <= (now + 30) * 1000
    assert int(item["expiration"]["N"]) == int(now) + 3600

    other = BatchProcessor(EventType.SQS, idempotency=idempotency, raise_on_entire_batch_failure=False)
    other_feature = other.features[-1]
    other_feature.wall_clock = lambda: now + 1  # type: ignore[attr-defined]
    during = Handled()
    response = process_partial_response(_event([1]), during, other, FakeLambdaContext())
    assert _failed_ids(response) == ["m-1"] and not during.runs  # in progress elsewhere

    other_feature.wall_clock = lambda: now + 31  # type: ignore[attr-defined]
    after = Handled()
    response = process_partial_response(_event([1]), after, other, FakeLambdaContext())
    assert response == {"batchItemFailures": []} and dict(after.runs) == {"m-1": 1}


def test_in_progress_elsewhere_fails_with_a_reason_naming_the_record_not_the_key(
    idempotency: Idempotency, dynamodb: Any, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    key = idempotency.key_of("m-2")
    now = int(time.time())
    dynamodb.put_item(
        TableName=table,
        Item={
            "id": {"S": key},
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(now + 3600)},
            "in_progress_expiration": {"N": str((now + 600) * 1000)},
        },
    )
    handler = Handled()
    records = _event(range(4))["Records"]
    with (
        caplog.at_level(logging.INFO, logger="lambda_batch"),
        processor(records, handler, FakeLambdaContext()),
    ):
        results = processor.process()

    assert processor.response() == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert "m-2" not in handler.runs and len(handler.runs) == 3
    assert results[2][1].startswith("RecordInProgressError:record m-2 is in progress elsewhere")
    assert isinstance(processor.exceptions[0][1], RecordInProgressError)
    assert "m-2" in caplog.text and key not in caplog.text and key.split("#")[1] not in caplog.text


def test_fifo_a_completed_record_keeps_its_group_going_an_in_progress_one_halts_it(
    idempotency: Idempotency, dynamodb: Any, table: str
) -> None:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True, idempotency=idempotency)
    records = [sqs_record(n, queue="jobs.fifo", group="a" if n < 3 else "b") for n in range(6)]
    process_partial_response({"Records": [records[0], records[3]]}, Handled(), processor, FakeLambdaContext())
    now = int(time.time())
    dynamodb.put_item(
        TableName=table,
        Item={
            "id": {"S": idempotency.key_of("m-4")},
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(now + 3600)},
            "in_progress_expiration": {"N": str((now + 600) * 1000)},
        },
    )
    handler = Handled()

    response = process_partial_response({"Records": records}, handler, processor, FakeLambdaContext())

    # group a: m-0 completed before (skipped), m-1 and m-2 run; group b: m-3 skipped, m-4 in
    # progress elsewhere halts it, m-5 is held back unprocessed.
    assert dict(handler.runs) == {"m-1": 1, "m-2": 1}
    assert _failed_ids(response) == ["m-4", "m-5"]


def test_two_records_with_one_business_key_run_once(
    idempotency: Idempotency, table: str, boto3_session: Any, endpoint_url: str
) -> None:
    orders = Idempotency(
        table,
        key=lambda record: json.loads(record.body)["order"],
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    processor = BatchProcessor(EventType.SQS, idempotency=orders)
    bodies = [json.dumps({"order": "o-1"}), json.dumps({"order": "o-2"}), json.dumps({"order": "o-1"})]
    event = {"Records": [sqs_record(n, body=body) for n, body in enumerate(bodies)]}
    handler = Handled()

    response = process_partial_response(event, handler, processor, FakeLambdaContext())
    assert dict(handler.runs) == {"m-0": 1, "m-1": 1}
    assert _failed_ids(response) == ["m-2"]  # the same order as m-0: it comes back

    again = Handled()
    response = process_partial_response(
        {"Records": [event["Records"][2]]}, again, processor, FakeLambdaContext()
    )
    assert response == {"batchItemFailures": []} and not again.runs


def test_a_key_function_that_raises_fails_its_record_only(
    table: str, boto3_session: Any, endpoint_url: str
) -> None:
    orders = Idempotency(
        table,
        key=lambda record: json.loads(record.body)["order"],
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    processor = BatchProcessor(EventType.SQS, idempotency=orders)
    event = {"Records": [sqs_record(0, body='{"order": "o-1"}'), sqs_record(1, body="not json")]}
    handler = Handled()

    response = process_partial_response(event, handler, processor, FakeLambdaContext())

    assert _failed_ids(response) == ["m-1"] and dict(handler.runs) == {"m-0": 1}
    assert "its idempotency key was not made: JSONDecodeError" in processor.exceptions[0][1].args[0]


def test_unprocessed_keys_and_items_and_a_cancelled_transaction_are_retried(
    idempotency: Idempotency, boto3_session: Any, dynamodb: Any, table: str
) -> None:
    """The first BatchGetItem hands every key back, the first transaction is cancelled by a
    conflict on one key, the first BatchWriteItem hands every write back: all retried."""
    seen: Dict[str, int] = {}

    def before_call(params: Dict[str, Any], model: Any, **_: Any) -> Any:
        seen[model.name] = seen.get(model.name, 0) + 1
        if seen[model.name] > 1:
            return None
        params = json.loads(params["body"])  # the request as it would go on the wire
        if model.name == "BatchGetItem":
            ((name, request),) = params["RequestItems"].items()
            return _http(200), {"Responses": {name: []}, "UnprocessedKeys": {name: request}}
        if model.name == "TransactWriteItems":
            reasons = [{"Code": "None"} for _ in params["TransactItems"]]
            reasons[0] = {"Code": "TransactionConflict", "Message": "conflict"}
            error = {"Code": "TransactionCanceledException", "Message": "cancelled"}
            return _http(400), {"Error": error, "CancellationReasons": reasons}
        if model.name == "BatchWriteItem":
            return _http(200), {"UnprocessedItems": params["RequestItems"]}
        return None

    boto3_session.events.register("before-call.dynamodb", before_call)
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    handler = Handled()

    response = process_partial_response(_event(range(10)), handler, processor, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert set(handler.runs.values()) == {1} and len(handler.runs) == 10
    items = items_by_key(dynamodb, table)
    assert len(items) == 10 and {item["status"]["S"] for item in items.values()} == {"COMPLETED"}
    assert seen == {"BatchGetItem": 2, "TransactWriteItems": 2, "BatchWriteItem": 2}


def test_a_lost_claim_is_read_from_the_cancellation(
    idempotency: Idempotency, boto3_session: Any, dynamodb: Any, table: str
) -> None:
    """Between the read and the claim another delivery completes m-1 and claims m-2: the
    cancellation's items say so; m-1 succeeds with the stored result, m-2 comes back later."""
    now = int(time.time())
    other = {
        idempotency.key_of("m-1"): {"status": {"S": "COMPLETED"}, "data": {"S": '"elsewhere"'}},
        idempotency.key_of("m-2"): {
            "status": {"S": "INPROGRESS"},
            "in_progress_expiration": {"N": str((now + 600) * 1000)},
        },
    }

    def before_call(model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems" and other:
            for key, item in other.items():
                dynamodb.put_item(
                    TableName=table, Item={"id": {"S": key}, "expiration": {"N": str(now + 3600)}, **item}
                )
            other.clear()

    boto3_session.events.register("before-call.dynamodb", before_call)
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)
    handler = Handled()

    with processor(_event(range(4))["Records"], handler, lambda_context=FakeLambdaContext()):
        results = processor.process()

    assert dict(handler.runs) == {"m-0": 1, "m-3": 1}
    assert results[1][:2] == ("success", "elsewhere")
    assert processor.response() == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}


def _http(status: int) -> Any:
    from tests.faults import _http as http

    return http(status)


def test_store_results_false_and_unserializable_results_store_no_data(
    table: str, boto3_session: Any, endpoint_url: str, dynamodb: Any
) -> None:
    quiet = Idempotency(
        table,
        store_results=False,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    process_partial_response(
        _event([1]), Handled(), BatchProcessor(EventType.SQS, idempotency=quiet), FakeLambdaContext()
    )
    loud = Idempotency(
        table,
        key_prefix="other",
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
    )
    process_partial_response(
        _event([2]),
        lambda record: object(),
        BatchProcessor(EventType.SQS, idempotency=loud),
        FakeLambdaContext(),
    )
    process_partial_response(
        _event([3]),
        lambda record: "x" * 500_000,
        BatchProcessor(EventType.SQS, idempotency=loud),
        FakeLambdaContext(),
    )

    items = items_by_key(dynamodb, table)
    assert len(items) == 3
    assert all("data" not in item and item["status"]["S"] == "COMPLETED" for item in items.values())


def test_an_async_handler_never_runs_a_completed_or_in_progress_record(idempotency: Idempotency) -> None:
    processor = AsyncBatchProcessor(EventType.SQS, idempotency=idempotency)
    process_partial_response(
        _event([1]), Handled(), BatchProcessor(EventType.SQS, idempotency=idempotency), FakeLambdaContext()
    )
    runs: List[str] = []

    async def handler(record: Any) -> str:
        runs.append(record["messageId"])
        return "new"

    with processor(_event([1, 2])["Records"], handler, lambda_context=FakeLambdaContext()):
        results = processor.async_process()

    assert runs == ["m-2"]
    assert [result[0] for result in results] == ["success", "success"]
    assert results[0][1] == {"handled": "m-1"}


def test_partial_sqs_processor_takes_idempotency(
    idempotency: Idempotency, aws_client: Any, unique_name: Any
) -> None:
    processor = PartialSQSProcessor(idempotency=idempotency)
    handler = Handled(fail=lambda message_id: message_id == "m-1")
    with (
        pytest.raises(SQSBatchProcessingError),
        processor(_event([1])["Records"], handler, FakeLambdaContext()),
    ):
        processor.process()
    assert dict(handler.runs) == {"m-1": 1}


def test_bad_options_are_refused_when_made(table: str) -> None:
    with pytest.raises(TypeError, match="bogus"):
        Idempotency(table, bogus=1)
    with pytest.raises(ConfigurationError, match="expires_after_seconds"):
        Idempotency(table, expires_after_seconds=0)
    with pytest.raises(ConfigurationError, match="key"):
        Idempotency(table, key="messageId")
    with pytest.raises(ConfigurationError, match="not both"):
        Idempotency(table, function_name="f", key_prefix="p")
    with pytest.raises(ConfigurationError, match="idempotency must be an Idempotency"):
        BatchProcessor(EventType.SQS, idempotency=table)


@pytest.mark.parametrize(
    ("event_type", "make_record", "id_of"),
    [
        (EventType.KinesisDataStreams, kinesis_record, lambda record: record["eventID"]),
        (EventType.DynamoDBStreams, dynamodb_record, lambda record: record["eventID"]),
    ],
)
def test_stream_records_are_keyed_by_their_event_id_and_a_redelivery_runs_only_the_failed_one(
    idempotency: Idempotency, event_type: EventType, make_record: Any, id_of: Any
) -> None:
    records = [make_record(n) for n in range(5)]
    runs: List[str] = []
    failed: List[str] = []

    def handler(record: Any) -> None:
        runs.append(id_of(record))
        if id_of(record) == id_of(records[3]) and not failed:
            failed.append(id_of(record))
            raise RuntimeError("fails once")

    processor = BatchProcessor(event_type, idempotency=idempotency)
    first = process_partial_response({"Records": records}, handler, processor, FakeLambdaContext())
    assert len(first["batchItemFailures"]) == 1
    runs.clear()

    again = process_partial_response({"Records": records}, handler, processor, FakeLambdaContext())

    assert again == {"batchItemFailures": []}
    assert runs == [id_of(records[3])]


def test_threads_run_each_fresh_record_once(idempotency: Idempotency, wire: WireCalls) -> None:
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency, max_concurrency=8)
    handler = Handled()

    response = process_partial_response(_event(range(40)), handler, processor, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert set(handler.runs.values()) == {1} and len(handler.runs) == 40
    assert wire.count <= 4
