"""The sample functions' own rules: the consumer's record rule and the producer's request."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"sample_{path.parent.name}_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rules = load(FUNCTIONS / "consumer" / "record_rules.py")
request = load(FUNCTIONS / "producer" / "request.py")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Hello from SQS!", "body is not JSON"),
        ("[1, 2]", "body is JSON but not an object"),
        ('{"id": "x", "poison": true}', "marked poison"),
        (None, "body is missing"),
    ],
)
def test_rejected_records_name_the_message_and_reason_not_the_body(body, reason) -> None:
    with pytest.raises(rules.RecordRejectedError) as caught:
        rules.handle_record({"messageId": "m-7", "body": body})
    assert str(caught.value) == f"message m-7: {reason}"


def test_accepted_record() -> None:
    assert rules.handle_record({"messageId": "m-1", "body": '{"id": "j", "poison": false}'}) == {
        "message_id": "m-1",
        "id": "j",
    }


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 400), rate=st.floats(0, 1), groups=st.integers(1, 100))
def test_items_are_unique_and_poison_is_exactly_the_rate(count, rate, groups) -> None:
    parsed = request.parse_request(
        {"count": count, "poison_rate": rate, "message_groups": groups, "run_id": "r"}, {"sqs"}
    )
    items = parsed.items()
    assert len({i["id"] for i in items}) == count
    assert [i["seq"] for i in items] == list(range(count))
    assert sum(1 for i in items if i.get("poison")) == math.floor(count * rate) == len(parsed.poison_ids())
    assert {parsed.message_group(i) for i in range(count)} == {f"r-g{g}" for g in range(min(groups, count))}
    json.dumps(items)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "JSON object"),
        ({"count": 0}, "count"),
        ({"count": True}, "count"),
        ({"targets": ["sqs", "s3"]}, "unknown target"),
        ({"targets": ["kinesis"]}, "EnableKinesis=true"),
        ({"queue": "lifo"}, "queue"),
        ({"poison_rate": 2}, "poison_rate"),
        ({"message_groups": 0}, "message_groups"),
        ({"run_id": "a b"}, "run_id"),
        ({"cuont": 3}, "unknown field"),
    ],
)
def test_invalid_requests_are_refused_with_the_field_named(event, message) -> None:
    with pytest.raises(request.InvalidRequestError, match=message):
        request.parse_request(event, {"sqs", "dynamodb", "cloudwatch"})


def test_default_targets_are_the_deployed_ones() -> None:
    assert request.parse_request({}, {"sqs", "dynamodb", "cloudwatch"}).targets == (
        "sqs",
        "dynamodb",
        "cloudwatch",
    )
    assert request.parse_request({}, {"sqs", "kinesis"}).targets == ("sqs", "kinesis")


def test_a_slow_record_takes_its_work_seconds_capped() -> None:
    import time

    started = time.monotonic()
    rules.handle_record({"messageId": "m-1", "body": '{"id": "x", "work_seconds": 0.3}'})
    # It slept its 0.3 s; far from the 10 s cap (the rest is room for a busy machine).
    assert 0.3 <= time.monotonic() - started < 5.0
    assert rules.MAX_WORK_SECONDS == 10.0


def test_slow_items_are_the_first_ones_not_poison_and_bad_values_are_refused() -> None:
    parsed = request.parse_request(
        {"count": 4, "targets": ["sqs"], "poison_rate": 0.5, "slow_count": 2, "work_seconds": 5}, {"sqs"}
    )
    items = parsed.items()
    assert [item.get("work_seconds") for item in items] == [5.0, None, None, None]  # item 1 is poison
    for bad in ({"slow_count": 5}, {"slow_count": -1}, {"work_seconds": 11}, {"work_seconds": True}):
        with pytest.raises(request.InvalidRequestError, match=next(iter(bad))):
            request.parse_request({"count": 4, "targets": ["sqs"], **bad}, {"sqs"})


def test_tenants_are_the_items_groups_in_blocks_in_the_order_given() -> None:
    parsed = request.parse_request(
        {"count": 5, "targets": ["sqs"], "run_id": "r", "tenants": {"noisy": 3, "quiet": 2}}, {"sqs"}
    )
    assert [item.get("tenant") for item in parsed.items()] == ["noisy"] * 3 + ["quiet"] * 2
    plain = request.parse_request({"count": 2, "targets": ["sqs"]}, {"sqs"})
    assert all("tenant" not in item for item in plain.items())


@pytest.mark.parametrize(
    ("tenants", "extra", "message"),
    [
        ({"a": 1, "b": 1}, {"queue": "fifo"}, "standard queue"),
        ({"a": 2}, {}, "sum to count"),
        ({"a": 0, "b": 3}, {}, "positive integer"),
        ({"a b": 3}, {}, "tenant names"),
        ([], {}, "non-empty object"),
    ],
)
def test_bad_tenants_are_refused_with_the_field_named(tenants, extra, message) -> None:
    with pytest.raises(request.InvalidRequestError, match=message):
        request.parse_request({"count": 3, "targets": ["sqs"], "tenants": tenants, **extra}, {"sqs"})


# ----------------------------------------------------------------------------- the stream consumer


class _Context:
    function_name = "StreamConsumerFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:StreamConsumerFunction"
    aws_request_id = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def _kinesis_record(sequence: str, payload: bytes) -> dict:
    import base64

    return {
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "k",
            "sequenceNumber": sequence,
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": 1.0,
        },
    }


@pytest.fixture(scope="module")
def stream_consumer() -> ModuleType:
    return load(FUNCTIONS / "stream_consumer" / "app.py")


def test_stream_consumer_reports_the_poison_record_only(stream_consumer: ModuleType, capsys) -> None:
    event = {
        "Records": [
            _kinesis_record("1", b'{"id": "a"}'),
            _kinesis_record("2", b'{"id": "b", "poison": true, "secret": "do-not-log"}'),
            _kinesis_record("3", b"not json at all"),
        ]
    }
    response = stream_consumer.lambda_handler(event, _Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    logged = capsys.readouterr()
    assert "do-not-log" not in logged.out + logged.err  # ids and reasons, never the data


@pytest.mark.parametrize(
    ("sample", "event_type"),
    [
        ("kinesis-kpl-aggregated.json", "KinesisDataStreams"),
        ("kafka-msk.json", "Kafka"),
        ("kafka-self-managed.json", "Kafka"),
        ("pipes-sqs.json", "SQS"),
        ("pipes-kinesis.json", "KinesisDataStreams"),
        ("pipes-dynamodb.json", "DynamoDBStreams"),
        ("pipes-msk.json", "Kafka"),
    ],
)
def test_stream_consumer_takes_every_stream_sample(
    stream_consumer: ModuleType, sample: str, event_type: str
) -> None:
    event = json.loads((FUNCTIONS.parent / "events" / sample).read_text())
    assert stream_consumer.event_type_of(event).name == event_type
    assert stream_consumer.lambda_handler(event, _Context()) == {"batchItemFailures": []}
