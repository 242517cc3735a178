"""Powertools for AWS Lambda 3.37's Kafka batch tests, with only their import changed.

Each test below is one case of aws-powertools/powertools-lambda-python at tag v3.37.0,
tests/functional/batch/required_dependencies/test_utilities_batch_kafka.py, named after it
(``TestKafkaBatchProcessing.test_kafka_batch_processor_success_only`` becomes
``test_kafka_batch_processor_success_only``), written again here with the same events, handler
and assertions. Each runs twice: on lambda_batch, and on the installed Powertools (the peer, a
dev dependency), so a case that Powertools itself no longer passes is seen as such.
"""

from __future__ import annotations

import base64
import importlib
import json
from types import SimpleNamespace
from typing import Any, Callable, Dict, List

import pytest

UPSTREAM = (
    "aws-powertools/powertools-lambda-python@v3.37.0:"
    "tests/functional/batch/required_dependencies/test_utilities_batch_kafka.py"
)


def _library(name: str) -> SimpleNamespace:
    """The names the upstream tests import, from lambda_batch or from Powertools."""
    if name == "lambda_batch":
        module = importlib.import_module("lambda_batch")
        errors = module
    else:
        module = importlib.import_module("aws_lambda_powertools.utilities.batch")
        errors = importlib.import_module("aws_lambda_powertools.utilities.batch.exceptions")
    return SimpleNamespace(
        AsyncBatchProcessor=module.AsyncBatchProcessor,
        BatchProcessor=module.BatchProcessor,
        EventType=module.EventType,
        async_process_partial_response=module.async_process_partial_response,
        process_partial_response=module.process_partial_response,
        BatchProcessingError=errors.BatchProcessingError,
        UnexpectedBatchTypeError=errors.UnexpectedBatchTypeError,
    )


@pytest.fixture(params=["lambda_batch", "powertools"])
def lib(request: Any) -> SimpleNamespace:
    return _library(request.param)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def kafka_record(body: str, topic: str = "mytopic", partition: int = 0, offset: int = 0) -> Dict[str, Any]:
    """One record as the upstream factory makes it."""
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": 1545084650987,
        "timestampType": "CREATE_TIME",
        "key": _b64("recordKey"),
        "value": _b64(body),
        "headers": [{"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}],
    }


def kafka_event(records_by_partition: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    return {
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/MyCluster/abc123",
        "bootstrapServers": "b-1.cluster.kafka.us-east-1.amazonaws.com:9092",
        "records": records_by_partition,
    }


def handler(record: Any) -> str:
    """Fails a record whose value contains 'fail' (the upstream ``kafka_record_handler``)."""
    body: str = record.decoded_value.decode("utf-8")
    if "fail" in body:
        raise Exception("Failed to process record.")
    return body


async def async_handler(record: Any) -> str:
    return handler(record)


def run(
    lib: SimpleNamespace, event: Dict[str, Any], record_handler: Callable[..., Any] = handler, **options: Any
):
    processor = lib.BatchProcessor(event_type=lib.EventType.Kafka, **options)
    return lib.process_partial_response(event=event, record_handler=record_handler, processor=processor)


# -- TestKafkaBatchProcessing ----------------------------------------------------------------------


def test_kafka_batch_processor_success_only(lib):
    event = kafka_event({"mytopic-0": [kafka_record("success", offset=0), kafka_record("success", offset=1)]})
    assert run(lib, event)["batchItemFailures"] == []


def test_kafka_batch_processor_failure_only(lib):
    event = kafka_event({"mytopic-0": [kafka_record("fail", offset=0), kafka_record("fail", offset=1)]})
    with pytest.raises(lib.BatchProcessingError):
        run(lib, event)


def test_kafka_batch_processor_partial_failure(lib):
    event = kafka_event({"mytopic-0": [kafka_record("success", offset=0), kafka_record("fail", offset=1)]})
    result = run(lib, event)
    assert result["batchItemFailures"] == [{"itemIdentifier": {"partition": "mytopic-0", "offset": 1}}]


def test_kafka_batch_processor_multiple_failures(lib):
    records = [
        kafka_record("success", offset=0),
        kafka_record("fail", offset=1),
        kafka_record("fail", offset=2),
    ]
    result = run(lib, kafka_event({"mytopic-0": records}))
    assert len(result["batchItemFailures"]) == 2
    offsets = [f["itemIdentifier"]["offset"] for f in result["batchItemFailures"]]
    assert 1 in offsets and 2 in offsets


def test_kafka_batch_processor_multi_topic_partition(lib):
    event = kafka_event(
        {
            "topic1-0": [
                kafka_record("success", topic="topic1", partition=0, offset=0),
                kafka_record("fail", topic="topic1", partition=0, offset=1),
            ],
            "topic2-1": [
                kafka_record("success", topic="topic2", partition=1, offset=0),
                kafka_record("fail", topic="topic2", partition=1, offset=1),
            ],
        }
    )
    result = run(lib, event)
    assert len(result["batchItemFailures"]) == 2
    partitions = [f["itemIdentifier"]["partition"] for f in result["batchItemFailures"]]
    assert "topic1-0" in partitions and "topic2-1" in partitions


def test_kafka_batch_processor_with_json_body(lib):
    body = json.dumps({"message": "hello", "status": "success"})
    event = kafka_event({"mytopic-0": [kafka_record(body, offset=0)]})
    assert run(lib, event, lambda record: record.json_value["message"])["batchItemFailures"] == []


def test_kafka_batch_processor_disable_raise_on_entire_batch_failure(lib):
    event = kafka_event({"mytopic-0": [kafka_record("fail", offset=0), kafka_record("fail", offset=1)]})
    result = run(lib, event, raise_on_entire_batch_failure=False)
    assert len(result["batchItemFailures"]) == 2


def test_kafka_batch_processor_invalid_event_structure(lib):
    calls: List[Any] = []
    with pytest.raises(lib.UnexpectedBatchTypeError) as raised:
        run(lib, {"eventSource": "aws:kafka", "records": {}}, calls.append)
    assert "Invalid Kafka event structure" in str(raised.value)
    assert calls == []


def test_kafka_batch_processor_missing_records_key(lib):
    calls: List[Any] = []
    with pytest.raises(lib.UnexpectedBatchTypeError) as raised:
        run(lib, {"eventSource": "aws:kafka"}, calls.append)
    assert calls == []
    assert "'Records'" not in str(raised.value)  # a Kafka event's key is 'records'


# -- TestAsyncKafkaBatchProcessing -----------------------------------------------------------------


def run_async(lib: SimpleNamespace, event: Dict[str, Any]) -> Any:
    processor = lib.AsyncBatchProcessor(event_type=lib.EventType.Kafka)
    return lib.async_process_partial_response(event=event, record_handler=async_handler, processor=processor)


def test_async_kafka_batch_processor_success_only(lib):
    event = kafka_event({"mytopic-0": [kafka_record("success", offset=0), kafka_record("success", offset=1)]})
    assert run_async(lib, event)["batchItemFailures"] == []


def test_async_kafka_batch_processor_partial_failure(lib):
    event = kafka_event({"mytopic-0": [kafka_record("success", offset=0), kafka_record("fail", offset=1)]})
    result = run_async(lib, event)
    assert result["batchItemFailures"] == [{"itemIdentifier": {"partition": "mytopic-0", "offset": 1}}]


def test_async_kafka_batch_processor_failure_only(lib):
    event = kafka_event({"mytopic-0": [kafka_record("fail", offset=0), kafka_record("fail", offset=1)]})
    with pytest.raises(lib.BatchProcessingError):
        run_async(lib, event)


# -- TestKafkaContextManager -----------------------------------------------------------------------


def test_kafka_batch_processor_context_manager(lib):
    event = kafka_event({"mytopic-0": [kafka_record("success", offset=0), kafka_record("fail", offset=1)]})
    processor = lib.BatchProcessor(event_type=lib.EventType.Kafka)
    records = [record for partition in event["records"].values() for record in partition]
    with processor(records, handler):
        processor.process()
    result = processor.response()
    assert len(result["batchItemFailures"]) == 1
    assert result["batchItemFailures"][0]["itemIdentifier"]["offset"] == 1


# -- TestKafkaRecordDataClass ----------------------------------------------------------------------


def test_kafka_record_properties_accessible(lib):
    record = kafka_record("test message", topic="test-topic", partition=5, offset=100)
    captured: List[Any] = []

    def capture(record: Any) -> str:
        captured.append(record)
        return "processed"

    run(lib, kafka_event({"test-topic-5": [record]}), capture)
    (seen,) = captured
    assert (seen.topic, seen.partition, seen.offset) == ("test-topic", 5, 100)
    assert (seen.timestamp, seen.timestamp_type) == (1545084650987, "CREATE_TIME")


def test_every_upstream_case_is_here():
    upstream = {
        "test_kafka_batch_processor_success_only",
        "test_kafka_batch_processor_failure_only",
        "test_kafka_batch_processor_partial_failure",
        "test_kafka_batch_processor_multiple_failures",
        "test_kafka_batch_processor_multi_topic_partition",
        "test_kafka_batch_processor_with_json_body",
        "test_kafka_batch_processor_disable_raise_on_entire_batch_failure",
        "test_kafka_batch_processor_invalid_event_structure",
        "test_kafka_batch_processor_missing_records_key",
        "test_async_kafka_batch_processor_success_only",
        "test_async_kafka_batch_processor_partial_failure",
        "test_async_kafka_batch_processor_failure_only",
        "test_kafka_batch_processor_context_manager",
        "test_kafka_record_properties_accessible",
    }
    assert upstream <= set(globals()), upstream - set(globals())
