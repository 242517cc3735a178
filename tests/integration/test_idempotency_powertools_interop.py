"""One table, two libraries: Powertools for AWS Lambda's idempotency utility (the real one, 3.x) and
idempotency= read each other's items on moto, with the same key settings.

Powertools keys ``@idempotent_function`` items ``<AWS_LAMBDA_FUNCTION_NAME>.<module>.<qualname>#<md5>``
of the JMESPath result; ``Idempotency(function_name=<that function>)`` with the default key (the
record's ``messageId``) or ``key=`` gives the same keys.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from lambda_batch import (
    BatchProcessor,
    EventType,
    Idempotency,
    RecordInProgressError,
    process_partial_response,
)
from tests.idempotency_support import items_by_key, make_table
from tests.processing_events import FakeLambdaContext, sqs_record

pytestmark = [pytest.mark.integration]

RUNS: List[str] = []


@pytest.fixture(autouse=True)
def function_name(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-consumer")
    RUNS.clear()
    return "orders-consumer"


@pytest.fixture()
def dynamodb(aws_client: Any) -> Any:
    return aws_client("dynamodb")


@pytest.fixture()
def table(dynamodb: Any, unique_name: Any) -> str:
    return make_table(dynamodb, unique_name("idempotency"))


def _powertools_handler(table: str, dynamodb: Any, jmespath: str = "messageId", context: Any = None) -> Any:
    """``record_handler`` as Powertools' batch documentation decorates it."""
    config = IdempotencyConfig(event_key_jmespath=jmespath)
    if context is not None:
        config.register_lambda_context(context)
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)

    @idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence)
    def record_handler(record: Any) -> Dict[str, Any]:
        RUNS.append(record["messageId"])
        return {"order": record["messageId"], "total": 3}

    return record_handler


def _layer(table: str, boto3_session: Any, endpoint_url: str, **options: Any) -> Idempotency:
    return Idempotency(
        table, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **options
    )


def test_a_record_completed_by_powertools_is_completed_for_the_layer(
    table: str, dynamodb: Any, boto3_session: Any, endpoint_url: str
) -> None:
    powertools = _powertools_handler(table, dynamodb)
    assert powertools(record=sqs_record(1)) == {"order": "m-1", "total": 3}
    assert RUNS == ["m-1"]
    RUNS.clear()
    idempotency = _layer(table, boto3_session, endpoint_url, function_name=powertools.__wrapped__)
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)

    with processor([sqs_record(1), sqs_record(2)], lambda record: RUNS.append(record["messageId"]), None):
        results = processor.process()

    assert RUNS == ["m-2"]
    assert results[0][:2] == ("success", {"order": "m-1", "total": 3})
    assert len(items_by_key(dynamodb, table)) == 2


def test_a_record_completed_by_the_layer_is_completed_for_powertools(
    table: str, dynamodb: Any, boto3_session: Any, endpoint_url: str
) -> None:
    powertools = _powertools_handler(table, dynamodb)
    idempotency = _layer(table, boto3_session, endpoint_url, function_name=powertools.__wrapped__)
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)

    def handler(record: Any) -> Dict[str, Any]:
        return {"order": record["messageId"], "total": 7}

    process_partial_response({"Records": [sqs_record(1)]}, handler, processor, FakeLambdaContext())

    assert powertools(record=sqs_record(1)) == {"order": "m-1", "total": 7}  # the stored result
    assert RUNS == []


def test_business_keys_match_powertools_jmespath(
    table: str, dynamodb: Any, boto3_session: Any, endpoint_url: str
) -> None:
    powertools = _powertools_handler(table, dynamodb, jmespath="powertools_json(body).order_id")
    powertools(record=sqs_record(1, body=json.dumps({"order_id": "o-9"})))
    RUNS.clear()
    idempotency = _layer(
        table,
        boto3_session,
        endpoint_url,
        function_name=powertools.__wrapped__,
        key=lambda record: record.json_body["order_id"],
    )
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency)

    response = process_partial_response(
        {"Records": [sqs_record(5, body=json.dumps({"order_id": "o-9"}))]},
        lambda record: RUNS.append(record["messageId"]),
        processor,
        FakeLambdaContext(),
    )

    assert response == {"batchItemFailures": []} and RUNS == []


def test_claims_in_progress_hold_off_the_other_library(
    table: str, dynamodb: Any, boto3_session: Any, endpoint_url: str
) -> None:
    """Powertools inside a layer claim sees it in progress; the layer meets Powertools' claim alike."""
    powertools = _powertools_handler(table, dynamodb, context=FakeLambdaContext())
    idempotency = _layer(table, boto3_session, endpoint_url, function_name=powertools.__wrapped__)
    processor = BatchProcessor(EventType.SQS, idempotency=idempotency, raise_on_entire_batch_failure=False)
    seen: List[str] = []

    def handler(record: Any) -> None:
        with pytest.raises(IdempotencyAlreadyInProgressError):
            powertools(record=dict(record))  # the layer's claim of this record holds
        seen.append(record["messageId"])

    process_partial_response({"Records": [sqs_record(1)]}, handler, processor, FakeLambdaContext())
    assert seen == ["m-1"] and RUNS == []

    def claim_then_ask(record: Any) -> None:  # Powertools' own claim, left in progress
        raise AssertionError("not to be called")

    in_progress = _powertools_handler(table, dynamodb, context=FakeLambdaContext())
    key = idempotency.key_of("m-2")
    original = in_progress.__wrapped__
    assert f"{original.__module__}.{original.__qualname__}" in key
    persistence = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)
    persistence.configure(
        IdempotencyConfig(event_key_jmespath="messageId"), f"{original.__module__}.{original.__qualname__}"
    )
    persistence.save_inprogress(data=sqs_record(2), remaining_time_in_millis=60_000)

    response = process_partial_response(
        {"Records": [sqs_record(2)]}, claim_then_ask, processor, FakeLambdaContext()
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert isinstance(processor.exceptions[0][1], RecordInProgressError)
