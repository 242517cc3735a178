"""The boto3-batch-utils examples (examples/boto3_batch_utils/) against the moto server.

Each file is run as it is, with default clients pointed at the moto server through
``AWS_ENDPOINT_URL``; the resources it names are made first, and what arrived is read back.
"""

from __future__ import annotations

import json
import logging
import runpy
from decimal import Decimal
from pathlib import Path

import pytest

from tests.faults import drain_queue, read_stream
from tests.processing_events import lambda_sqs_record

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "boto3_batch_utils"
PAYLOAD = {"myId": "abc123", "something": "in", "my": "message"}


@pytest.fixture()
def run_example(monkeypatch, endpoint_url):
    """``run_example("name")``: run examples/boto3_batch_utils/name.py; return its globals."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(name: str):
        path = EXAMPLES / f"{name}.py"
        source = path.read_text()
        assert "from lambda_batch import" in source and "boto3" not in source.replace("boto3-batch-utils", "")
        return runpy.run_path(str(path), run_name="__main__")

    return run


def test_every_example_is_tested():
    tested = {name[len("test_") :] for name in globals() if name.startswith("test_")}
    files = {path.stem for path in EXAMPLES.glob("*.py")}
    assert files <= tested, files - tested


@pytest.fixture()
def queue(aws_client):
    sqs = aws_client("sqs")
    made = []

    def make(name, **attributes):
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        made.append(url)
        return url

    yield sqs, make
    for url in made:
        sqs.delete_queue(QueueUrl=url)


def bodies(messages):
    return [json.loads(m["Body"]) for m in messages]


def test_quick_start(run_example, queue):
    sqs, make = queue
    url = make("MySqsQueue")
    assert run_example("quick_start")["unprocessed_items"] == []
    assert bodies(drain_queue(sqs, url)) == [{"test": "message"}]


def test_sqs_standard_basic(run_example, queue):
    sqs, make = queue
    url = make("aQueueWithAName")
    assert run_example("sqs_standard_basic")["unprocessed_records"] == []
    assert bodies(drain_queue(sqs, url)) == [PAYLOAD]


def test_sqs_string_payloads(run_example, queue):
    """A producer of str payloads and a consumer that json.loads each body, unchanged."""
    sqs, make = queue
    url = make("aQueueWithAName")
    example = run_example("sqs_string_payloads")
    assert example["unprocessed_records"] == []
    messages = drain_queue(sqs, url, attributes=True)
    lines = ["order 1 shipped", "commande n°2 expédiée"]
    # the bytes boto3-batch-utils sends (json.dumps: quoted, non-ASCII escaped), so FIFO content
    # deduplication sees the same body from an old and a new producer
    assert sorted(m["Body"] for m in messages) == sorted(json.dumps(line) for line in lines)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = {"Records": [lambda_sqs_record(message, arn) for message in messages]}
    assert sorted(example["lambda_handler"](event, None)) == sorted(lines)


def test_sqs_standard_message_id(run_example, queue):
    """Both are sent: lambda-batch does not drop a message whose message_id repeats."""
    sqs, make = queue
    url = make("aQueueWithAName")
    assert run_example("sqs_standard_message_id")["unprocessed_records"] == []
    assert bodies(drain_queue(sqs, url)) == [PAYLOAD, PAYLOAD]


def test_sqs_standard_delay(run_example, queue):
    sqs, make = queue
    url = make("aQueueWithAName")
    assert run_example("sqs_standard_delay")["unprocessed_records"] == []
    assert drain_queue(sqs, url) == []  # invisible for 45 s
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def _fifo(queue):
    sqs, make = queue
    return sqs, make("aQueueWithAName.fifo", FifoQueue="true")


def test_sqs_fifo_basic(run_example, queue):
    sqs, url = _fifo(queue)
    assert run_example("sqs_fifo_basic")["unprocessed_records"] == []
    (message,) = drain_queue(sqs, url, attributes=True)
    assert json.loads(message["Body"]) == PAYLOAD
    assert message["Attributes"]["MessageGroupId"] == "unset"


def test_sqs_fifo_deduplication(run_example, queue):
    sqs, url = _fifo(queue)
    assert run_example("sqs_fifo_deduplication")["unprocessed_records"] == []
    assert bodies(drain_queue(sqs, url)) == [PAYLOAD, PAYLOAD]  # two deduplication ids


def test_sqs_fifo_message_id(run_example, queue):
    """Two submits of one payload are two messages: each gets a deduplication id of its own."""
    sqs, url = _fifo(queue)
    assert run_example("sqs_fifo_message_id")["unprocessed_records"] == []
    assert bodies(drain_queue(sqs, url)) == [PAYLOAD, PAYLOAD]


def test_sqs_fifo_message_group(run_example, queue):
    sqs, url = _fifo(queue)
    assert run_example("sqs_fifo_message_group")["unprocessed_records"] == []
    (message,) = drain_queue(sqs, url, attributes=True)
    assert message["Attributes"]["MessageGroupId"] == "mg1A"


@pytest.fixture()
def stream(aws_client):
    kinesis = aws_client("kinesis")
    kinesis.create_stream(StreamName="MyExampleStreamName", ShardCount=2)
    yield kinesis
    kinesis.delete_stream(StreamName="MyExampleStreamName")


def test_kinesis_basic(run_example, stream):
    assert run_example("kinesis_basic")["unprocessed_records"] == []
    records = read_stream(stream, "MyExampleStreamName")
    assert sorted((json.loads(r["Data"]) for r in records), key=len) == [
        {"something": "in", "my": "message"},
        {"tells": "me", "this": "is", "easy": True},
    ]
    assert len({r["PartitionKey"] for r in records}) == 2  # random keys


def test_kinesis_partition_key_identifier(run_example, stream):
    assert run_example("kinesis_partition_key_identifier")["unprocessed_records"] == []
    (record,) = read_stream(stream, "MyExampleStreamName")
    assert record["PartitionKey"] == "a4f315f8ef6b40d9bfdc3837fa6c0d64"
    assert json.loads(record["Data"])["legs"] == {"count": 4, "material": "wood"}


def _metrics(cloudwatch):
    return sorted(
        (m["MetricName"], sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
        for m in cloudwatch.list_metrics(Namespace="TestService")["Metrics"]
    )


@pytest.fixture()
def cloudwatch(aws_client, monkeypatch):
    import moto

    if tuple(int(part) for part in moto.__version__.split(".")[:2]) < (5, 2):
        monkeypatch.setenv("AWS_DISABLE_REQUEST_COMPRESSION", "true")
    return aws_client("cloudwatch")


def test_cloudwatch_metrics(run_example, cloudwatch):
    client = cloudwatch
    assert run_example("cloudwatch_metrics")["unprocessed_records"] == []
    assert ("DoingACountMetric", []) in _metrics(client)
    stats = client.get_metric_statistics(
        Namespace="TestService",
        MetricName="DoingACountMetric",
        StartTime="2000-01-01T00:00:00Z",
        EndTime="2100-01-01T00:00:00Z",
        Period=3600,
        Statistics=["Sum"],
        Unit="Count",
    )["Datapoints"]
    assert sum(point["Sum"] for point in stats) >= 555


def test_cloudwatch_dimensions(run_example, cloudwatch):
    client = cloudwatch
    assert run_example("cloudwatch_dimensions")["unprocessed_records"] == []
    metrics = _metrics(client)
    assert ("DoingACountMetric", [("dimA", "12345")]) in metrics
    assert ("DoingASecondsMetric", [("timeA", "11"), ("timeB", "4")]) in metrics


@pytest.fixture()
def table(aws_client):
    dynamodb = aws_client("dynamodb")
    made = []

    def make(name, *keys):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": k, "KeyType": role}
                for (k, _), role in zip(keys, ("HASH", "RANGE"), strict=False)
            ],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": t} for k, t in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        made.append(name)
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize

        def items():
            scanned = dynamodb.scan(TableName=name)["Items"]
            return [{k: deserialize(v) for k, v in item.items()} for item in scanned]

        return items

    yield make
    for name in made:
        dynamodb.delete_table(TableName=name)


def test_dynamodb_basic(run_example, table):
    items = table("MyExampleDynamoTable", ("id", "S"))
    assert run_example("dynamodb_basic")["unprocessed_records"] == []
    assert items() == [{"id": "abc123", "something": "in", "my": "message"}]


def test_dynamodb_partition_key_location(run_example, table):
    items = table("MyExampleTableByMyId", ("myId", "S"))
    assert run_example("dynamodb_partition_key_location")["unprocessed_records"] == []
    assert items() == [{"myId": "abc123", "id": "abc123", "something": "in", "my": "message"}]


def test_dynamodb_partition_key_data_type(run_example, table):
    items = table("MyNumericKeyTable", ("myId", "N"))
    assert run_example("dynamodb_partition_key_data_type")["unprocessed_records"] == []
    assert items() == [{"myId": Decimal(42), "order": "42", "item": "teapot"}]


def test_dynamodb_sort_key(run_example, table):
    items = table("MySortedTable", ("myId", "S"), ("createdDatetime", "S"))
    assert run_example("dynamodb_sort_key")["unprocessed_records"] == []
    assert sorted(item["status"] for item in items()) == ["new", "paid"]


def test_logging_level(run_example):
    logger = logging.getLogger("lambda_batch")
    level = logger.level
    try:
        run_example("logging_level")
        assert logger.level == logging.WARNING
    finally:
        logger.setLevel(level)
