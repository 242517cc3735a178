"""Batch metrics: one CloudWatch EMF document per batch on stdout, whose counts match the batch.

Each document is checked against the EMF specification's structure
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
and beside the real Powertools ``Metrics`` in the same handler.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import (
    AsyncBatchProcessor,
    BatchProcessor,
    ConfigurationError,
    EventType,
    SqsFifoPartialProcessor,
    async_process_partial_response,
    process_partial_response,
)
from lambda_batch.processing.features.metrics import BatchMetrics
from tests.processing_events import FakeLambdaContext, dynamodb_record, kinesis_record, sqs_record

ROOT = Path(__file__).resolve().parents[2]

#: The units CloudWatch accepts (MetricDatum StandardUnit).
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def validate_emf(document: Dict[str, Any]) -> Dict[str, Any]:
    """Check ``document`` against the EMF spec's structure; returns it."""
    assert isinstance(document, dict)
    metadata = document["_aws"]
    assert isinstance(metadata, dict)
    timestamp = metadata["Timestamp"]
    assert isinstance(timestamp, int) and abs(timestamp - time.time() * 1000) < 60_000  # ms since the epoch
    directives = metadata["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert set(directive) == {"Namespace", "Dimensions", "Metrics"}
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
        assert isinstance(directive["Dimensions"], list)
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for key in dimension_set:  # target members: strings on the root node
                assert isinstance(document[key], str)
        metrics = directive["Metrics"]
        assert isinstance(metrics, list) and 1 <= len(metrics) <= 100
        for metric in metrics:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            assert isinstance(metric["Name"], str) and metric["Unit"] in UNITS
            value = document[metric["Name"]]  # target member: a number (or up to 100) on the root node
            values = value if isinstance(value, list) else [value]
            assert 1 <= len(values) <= 100
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return document


def emf_documents(text: str, namespace: str) -> List[Dict[str, Any]]:
    """The EMF documents of ``namespace`` in ``text`` (one JSON object per line)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace:
                found.append(validate_emf(document))
    return found


def failing_on(bad):
    def handler(record):
        if record["messageId"] in bad:
            raise ValueError("bad")

    return handler


def test_off_by_default_nothing_printed(capsys):
    processor = BatchProcessor(EventType.SQS)
    process_partial_response({"Records": [sqs_record(n) for n in range(3)]}, failing_on({"m-1"}), processor)
    assert capsys.readouterr().out == ""


def test_one_document_per_batch_with_the_batch_counts_and_dimensions(capsys):
    processor = BatchProcessor(
        EventType.SQS, metrics_namespace="Orders", metrics_dimensions={"Queue": "jobs"}
    )
    records = [sqs_record(n) for n in range(5)]
    response = process_partial_response({"Records": records}, failing_on({"m-1", "m-3"}), processor)
    assert len(response["batchItemFailures"]) == 2
    [document] = emf_documents(capsys.readouterr().out, "Orders")
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Queue"]]
    assert document["Queue"] == "jobs"
    assert {k: document[k] for k in ("RecordsSucceeded", "RecordsFailed", "RecordsSkipped")} == {
        "RecordsSucceeded": 3,
        "RecordsFailed": 2,
        "RecordsSkipped": 0,
    }
    assert document["DeleteCalls"] == 0 and document["VisibilityCalls"] == 0  # native: Lambda deletes
    units = {m["Name"]: m["Unit"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["BatchDuration"] == "Milliseconds" and units["RecordsFailed"] == "Count"
    assert 0 <= document["BatchDuration"] < 1000


def test_a_batch_that_raises_still_writes_its_document(capsys):
    processor = BatchProcessor(EventType.SQS, metrics_namespace="Orders")
    with pytest.raises(Exception, match="All records failed"):
        process_partial_response({"Records": [sqs_record(0)]}, failing_on({"m-0"}), processor)
    [document] = emf_documents(capsys.readouterr().out, "Orders")
    assert (document["RecordsSucceeded"], document["RecordsFailed"]) == (0, 1)


def test_held_back_records_count_as_skipped_fifo_and_deadline(capsys):
    records = [sqs_record(n, queue="jobs.fifo", group="g") for n in range(4)]
    process_partial_response(
        {"Records": records}, failing_on({"m-1"}), SqsFifoPartialProcessor(metrics_namespace="Fifo")
    )
    [document] = emf_documents(capsys.readouterr().out, "Fifo")
    assert (document["RecordsSucceeded"], document["RecordsFailed"], document["RecordsSkipped"]) == (1, 1, 2)

    processor = BatchProcessor(EventType.SQS, metrics_namespace="Deadline", deadline_margin=1.0)
    slow = lambda record: time.sleep(0.3)  # noqa: E731
    process_partial_response(
        {"Records": [sqs_record(n) for n in range(6)]}, slow, processor, FakeLambdaContext(1_500)
    )
    [document] = emf_documents(capsys.readouterr().out, "Deadline")
    assert document["RecordsSucceeded"] + document["RecordsSkipped"] == 6
    assert document["RecordsSkipped"] >= 3 and document["RecordsFailed"] == 0


@pytest.mark.parametrize(
    ("event_type", "records", "id_of"),
    [
        (
            EventType.KinesisDataStreams,
            [kinesis_record(n) for n in range(4)],
            lambda r: r["kinesis"]["sequenceNumber"],
        ),
        (
            EventType.DynamoDBStreams,
            [dynamodb_record(n) for n in range(4)],
            lambda r: r["dynamodb"]["SequenceNumber"],
        ),
    ],
    ids=["kinesis", "dynamodb"],
)
def test_streams_have_the_same_document_without_sqs_calls(capsys, event_type, records, id_of):
    bad = id_of(records[2])

    def handler(record):
        if id_of(record) == bad:
            raise ValueError("bad")

    process_partial_response({"Records": records}, handler, BatchProcessor(event_type, metrics_namespace="S"))
    [document] = emf_documents(capsys.readouterr().out, "S")
    assert (document["RecordsSucceeded"], document["RecordsFailed"], document["RecordsSkipped"]) == (3, 1, 0)
    assert "DeleteCalls" not in document and "VisibilityCalls" not in document


def test_kafka_batches_have_their_document(capsys):
    event = json.loads((ROOT / "events" / "kafka-msk.json").read_text())
    total = sum(len(records) for records in event["records"].values())
    process_partial_response(
        event, lambda record: None, BatchProcessor(EventType.Kafka, metrics_namespace="K")
    )
    [document] = emf_documents(capsys.readouterr().out, "K")
    assert (document["RecordsSucceeded"], document["RecordsFailed"]) == (total, 0)


@settings(max_examples=40)
@given(
    outcomes=st.lists(st.sampled_from(["ok", "fail", "slow"]), min_size=1, max_size=25),
    concurrency=st.integers(min_value=1, max_value=6),
    use_async=st.booleans(),
)
def test_counts_match_the_batch_at_any_concurrency(outcomes, concurrency, use_async):
    import io

    records = [sqs_record(n) for n in range(len(outcomes))]
    stream = io.StringIO()
    if use_async:

        async def handler(record):
            outcome = outcomes[int(record["messageId"][2:])]
            await asyncio.sleep(0.001 if outcome == "slow" else 0)
            if outcome == "fail":
                raise ValueError("bad")

        processor = AsyncBatchProcessor(
            EventType.SQS,
            max_concurrency=concurrency,
            raise_on_entire_batch_failure=False,
            metrics_namespace="P",
        )
    else:

        def handler(record):
            outcome = outcomes[int(record["messageId"][2:])]
            if outcome == "slow":
                time.sleep(0.001)
            if outcome == "fail":
                raise ValueError("bad")

        processor = BatchProcessor(
            EventType.SQS,
            max_concurrency=concurrency,
            raise_on_entire_batch_failure=False,
            metrics_namespace="P",
        )
    processor._metrics.stream = stream
    run = async_process_partial_response if use_async else process_partial_response
    response = run({"Records": records}, handler, processor)
    [document] = emf_documents(stream.getvalue(), "P")
    failed = outcomes.count("fail")
    assert len(response["batchItemFailures"]) == failed
    assert document["RecordsFailed"] == failed
    assert document["RecordsSucceeded"] == len(outcomes) - failed
    assert document["RecordsSkipped"] == 0


def test_beside_powertools_metrics_both_documents_parse_on_their_own(capsys, monkeypatch):
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = Metrics(namespace="App", service="orders")
    processor = BatchProcessor(EventType.SQS, metrics_namespace="LambdaBatch")

    def record_handler(record):
        metrics.add_metric(name="OrderHandled", unit=MetricUnit.Count, value=1)
        if record["messageId"] == "m-1":
            raise ValueError("bad")

    @metrics.log_metrics
    def lambda_handler(event, context):
        return process_partial_response(event, record_handler, processor, context)

    response = lambda_handler({"Records": [sqs_record(n) for n in range(3)]}, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert all(json.loads(line) for line in lines)  # every line a JSON document of its own
    [ours] = emf_documents(out, "LambdaBatch")
    [theirs] = emf_documents(out, "App")
    assert theirs["OrderHandled"] in (3, [1, 1, 1], [1.0, 1.0, 1.0])
    assert (ours["RecordsSucceeded"], ours["RecordsFailed"]) == (2, 1)
    assert not set(ours) & {"OrderHandled", "service"} and not set(theirs) & {
        "RecordsFailed",
        "BatchDuration",
    }


@pytest.mark.parametrize(
    "options",
    [
        {"metrics_namespace": ""},
        {"metrics_namespace": 5},
        {"metrics_dimensions": {"A": "b"}},  # no namespace
        {"metrics_namespace": "N", "metrics_dimensions": {"A": 1}},
        {"metrics_namespace": "N", "metrics_dimensions": {"RecordsFailed": "x"}},
        {"metrics_namespace": "N", "metrics_dimensions": {f"d{n}": "v" for n in range(31)}},
        {"metrics_namespace": "N", "metrics_dimensions": ["A"]},
    ],
)
def test_bad_metrics_options_are_refused_when_built(options):
    with pytest.raises(ConfigurationError):
        BatchProcessor(EventType.SQS, **options)


def test_documents_are_whole_lines_written_at_once():
    import io

    stream = io.StringIO()
    metrics = BatchMetrics("N", {"Queue": "jobs"}, stream=stream)
    metrics.emit({"RecordsSucceeded": 1})
    assert stream.getvalue().count("\n") == 1
    assert validate_emf(json.loads(stream.getvalue()))["Queue"] == "jobs"


#: Each CloudWatch naming rule broken once (core/limits.py CLOUDWATCH_NAME_RULES), with words of
#: the error that must name the rule.
NAME_RULE_BREAKS = [
    ({"metrics_namespace": "AWS/Lambda"}, "reserved for AWS"),
    ({"metrics_namespace": "Orders\u00e9"}, "non-ASCII"),
    ({"metrics_namespace": "Ord\ters"}, "control character"),
    ({"metrics_namespace": "Ord\x7fers"}, "control character"),
    ({"metrics_namespace": ":Orders"}, "starts with ':'"),
    ({"metrics_namespace": "   "}, "whitespace"),
    ({"metrics_namespace": ""}, "0 characters, not 1 to 255"),
    ({"metrics_namespace": "N" * 256}, "256 characters, not 1 to 255"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Qu\u00e9ue": "jobs"}}, "non-ASCII"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue\n": "jobs"}}, "control character"),
    ({"metrics_namespace": "N", "metrics_dimensions": {":Queue": "jobs"}}, "starts with ':'"),
    ({"metrics_namespace": "N", "metrics_dimensions": {" ": "jobs"}}, "whitespace"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"": "jobs"}}, "0 characters, not 1 to 255"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Q" * 256: "jobs"}}, "256 characters, not 1 to 255"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": "\u00e9"}}, "non-ASCII"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": "jo\x00bs"}}, "control character"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": " \t "}}, "control character"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": "   "}}, "whitespace"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": ""}}, "0 characters, not 1 to 1024"),
    ({"metrics_namespace": "N", "metrics_dimensions": {"Queue": "v" * 1025}}, "1025 characters, not 1 to"),
    (
        {"metrics_namespace": "N", "metrics_dimensions": {f"d{n}": "v" for n in range(31)}},
        "31 dimensions, over CloudWatch's limit of 30",
    ),
]


@pytest.mark.parametrize(("options", "rule"), NAME_RULE_BREAKS, ids=[words for _, words in NAME_RULE_BREAKS])
def test_names_cloudwatch_refuses_are_refused_when_built_naming_the_rule(options, rule):
    with pytest.raises(ConfigurationError) as raised:
        BatchProcessor(EventType.SQS, **options)
    assert rule in str(raised.value)
    assert isinstance(raised.value, ValueError)
    option = "metrics_dimensions" if "metrics_dimensions" in options else "metrics_namespace"
    assert option in str(raised.value)


def test_names_at_cloudwatchs_limits_still_emit(capsys):
    namespace = "N" * 254 + ":"  # a colon is fine past the first character, "AWS" without the slash too
    dimensions = {f"Dim {n} (a-z/_.#:)": f"value {n}" for n in range(29)}
    dimensions["D" * 255] = "~" * 1024
    processor = BatchProcessor(EventType.SQS, metrics_namespace=namespace, metrics_dimensions=dimensions)
    process_partial_response({"Records": [sqs_record(n) for n in range(2)]}, failing_on({"m-1"}), processor)
    [document] = emf_documents(capsys.readouterr().out, namespace)
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [list(dimensions)]
    assert all(document[name] == value for name, value in dimensions.items())
    assert (document["RecordsSucceeded"], document["RecordsFailed"]) == (1, 1)
    BatchProcessor(EventType.SQS, metrics_namespace="AWSOrders")  # only "AWS/" is reserved
