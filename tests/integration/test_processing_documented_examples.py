"""Every example of the documented SQS batch API, run as written with its import reading ``lambda_batch``.

The sources below are the documented examples; the only edits are the import line and
the document's evident typos, each marked ``# fixed:``. Names an example takes from its
surroundings (``do_something_with``, ``record_handler``, ``records``, ``config``) are
provided by the test. The examples make their clients the default way; the
``AWS_ENDPOINT_URL`` environment variable points those clients at the emulator, so the
deletes and reads below are real calls to a real SQS wire protocol.
"""

from __future__ import annotations

import random
import sys
import types
from typing import Any, Dict

import pytest

from lambda_batch import SQSBatchProcessingError
from tests.processing_events import bodies_back_after_timeout, make_queue, receive_sqs_event, send_bodies

pytestmark = pytest.mark.integration

DECORATOR = """
from lambda_batch import sqs_batch_processor

def record_handler(record):
    return do_something_with(record["body"])

@sqs_batch_processor(record_handler=record_handler)
def lambda_handler(event, context):
    return {"statusCode": 200}
"""

CONTEXT_MANAGER = """
from lambda_batch import PartialSQSProcessor

def record_handler(record):
    return_value = do_something_with(record["body"])
    return return_value

def lambda_handler(event, context):
    records = event["Records"]

    processor = PartialSQSProcessor()

    with processor(records, record_handler) as proc:
        result = proc.process()  # Returns a list of all results from record_handler

    return result
"""

APP = """
from lambda_batch import PartialSQSProcessor

def record_handler(record):
    return do_something_with(record["body"])

def lambda_handler(event, context):
    records = event["Records"]

    processor = PartialSQSProcessor()

    with processor(records, record_handler) as proc:
        result = proc.process()  # Returns a list of all results from record_handler

    return result
"""

CONFIG_DECORATOR = """
from lambda_batch import sqs_batch_processor
from botocore.config import Config

config = Config(region_name="us-east-1")

def record_handler(record):
    # This will be called for each individual message from a batch
    # It should raise an exception if the message was not processed successfully
    return_value = do_something_with(record["body"])
    return return_value

@sqs_batch_processor(record_handler=record_handler, config=config)
def lambda_handler(event, context):
    return {"statusCode": 200}
"""

CONFIG_CONTEXT_MANAGER = """
from lambda_batch import PartialSQSProcessor
from botocore.config import Config

config = Config(region_name="us-east-1")

def record_handler(record):
    # This will be called for each individual message from a batch
    # It should raise an exception if the message was not processed successfully
    return_value = do_something_with(record["body"])
    return return_value


def lambda_handler(event, context):
    records = event["Records"]

    processor = PartialSQSProcessor(config=config)

    with processor(records, record_handler):
        result = processor.process()

    return result
"""

SESSION_DECORATOR = """
from lambda_batch import sqs_batch_processor
from botocore.config import Config
import boto3  # fixed: the example uses boto3 without importing it

session = boto3.session.Session()

def record_handler(record):
    # This will be called for each individual message from a batch
    # It should raise an exception if the message was not processed successfully
    return_value = do_something_with(record["body"])
    return return_value

@sqs_batch_processor(record_handler=record_handler, boto3_session=session)
def lambda_handler(event, context):
    return {"statusCode": 200}
"""

SESSION_CONTEXT_MANAGER = """
from lambda_batch import PartialSQSProcessor
import boto3

session = boto3.session.Session()

def record_handler(record):
    # This will be called for each individual message from a batch
    # It should raise an exception if the message was not processed successfully
    return_value = do_something_with(record["body"])
    return return_value


def lambda_handler(event, context):
    records = event["Records"]

    processor = PartialSQSProcessor(boto3_session=session)

    with processor(records, record_handler):
        result = processor.process()

    return result
"""

SUPPRESS_DECORATOR = """
from lambda_batch import sqs_batch_processor

@sqs_batch_processor(record_handler=record_handler, config=config, suppress_exception=True)
def lambda_handler(event, context):
    return {"statusCode": 200}
"""

SUPPRESS_CONTEXT_MANAGER = """
from lambda_batch import PartialSQSProcessor

processor = PartialSQSProcessor(config=config, suppress_exception=True)

with processor(records, record_handler):
    result = processor.process()
"""

CUSTOM_PROCESSOR = """
from random import randint

from lambda_batch import BasePartialProcessor, batch_processor
import boto3
import os

table_name = os.getenv("TABLE_NAME", "table_not_found")

class MyPartialProcessor(BasePartialProcessor):
    \"\"\"
    Process a record and stores successful results at a Amazon DynamoDB Table

    Parameters
    ----------
    table_name: str
        DynamoDB table name to write results to
    \"\"\"

    def __init__(self, table_name: str):
        self.table_name = table_name

        super().__init__()

    def _prepare(self):
        # It's called once, *before* processing
        # Creates table resource and clean previous results
        self.ddb_table = boto3.resource("dynamodb").Table(self.table_name)
        self.success_messages.clear()

    def _clean(self):
        # It's called once, *after* closing processing all records (closing the context manager)
        # Here we're sending, at once, all successful messages to a ddb table
        with self.ddb_table.batch_writer() as batch:  # fixed: was `ddb_table`, an undefined name
            for result in self.success_messages:
                batch.put_item(Item=result)

    def _process_record(self, record):
        # It handles how your record is processed
        # Here we're keeping the status of each run
        # where self.handler is the record_handler function passed as an argument
        try:
            result = self.handler(record) # record_handler passed to decorator/context manager
            return self.success_handler(record, result)
        except Exception as exc:
            return self.failure_handler(record, exc)

    def success_handler(self, record, result):  # fixed: the signature lacked `result`
        entry = ("success", result, record)
        message = {"age": result}
        self.success_messages.append(message)
        return entry


def record_handler(record):
    return randint(0, 100)

@batch_processor(record_handler=record_handler, processor=MyPartialProcessor(table_name))
def lambda_handler(event, context):
    return {"statusCode": 200}
"""

SENTRY = """
from typing import Tuple

from lambda_batch import PartialSQSProcessor

from sentry_sdk import capture_exception

import logging  # fixed: the example logs through an undefined `logger`
logger = logging.getLogger(__name__)


class SQSProcessor(PartialSQSProcessor):
    # fixed: the annotation named an undefined `Event`
    def failure_handler(self, record: dict, exception: Tuple) -> Tuple:  # type: ignore
        capture_exception()  # send exception to Sentry
        logger.exception("got exception while processing SQS message")
        return super().failure_handler(record, exception)  # type: ignore
"""


def do_something_with(body: str) -> str:
    if body.startswith("poison"):
        raise ValueError("poison message")
    return body[::-1]


@pytest.fixture()
def emulated_aws(monkeypatch, endpoint_url):
    """Point every default boto3 client at the emulator, as a deployed function points at AWS."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return endpoint_url


@pytest.fixture()
def queue_with_poison(aws_client, unique_name, emulated_aws):
    """A queue holding two good messages and a poison one; returns (sqs, queue, event)."""
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("docs"))
    send_bodies(sqs, queue["url"], ["good-1", "poison-1", "good-2"])
    return sqs, queue, receive_sqs_event(sqs, queue, 3)


def run_example(source: str, **provided: Any) -> Dict[str, Any]:
    namespace: Dict[str, Any] = {"__name__": "documented_example", "do_something_with": do_something_with}
    namespace.update(provided)
    exec(compile(source, "<documented example>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize(
    "source", [DECORATOR, CONFIG_DECORATOR, SESSION_DECORATOR], ids=["plain", "config", "session"]
)
def test_decorator_examples_delete_successes_and_raise(source, queue_with_poison):
    sqs, queue, event = queue_with_poison
    example = run_example(source)
    with pytest.raises(SQSBatchProcessingError) as raised:
        example["lambda_handler"](event, None)
    assert [info[0] for info in raised.value.child_exceptions] == [ValueError]
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["poison-1"]


@pytest.mark.parametrize(
    "source", [DECORATOR, CONFIG_DECORATOR, SESSION_DECORATOR], ids=["plain", "config", "session"]
)
def test_decorator_examples_return_the_handler_result_when_all_succeed(
    source, aws_client, unique_name, emulated_aws
):
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("docs-ok"))
    send_bodies(sqs, queue["url"], ["good-1", "good-2"])
    example = run_example(source)
    assert example["lambda_handler"](receive_sqs_event(sqs, queue, 2), None) == {"statusCode": 200}


@pytest.mark.parametrize(
    "source",
    [CONTEXT_MANAGER, APP, CONFIG_CONTEXT_MANAGER, SESSION_CONTEXT_MANAGER],
    ids=["context-manager", "app", "config", "session"],
)
def test_context_manager_examples(source, queue_with_poison):
    sqs, queue, event = queue_with_poison
    example = run_example(source)
    with pytest.raises(SQSBatchProcessingError):
        example["lambda_handler"](event, None)
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["poison-1"]

    # All good: the results come back, one tuple per record.
    sqs.purge_queue(QueueUrl=queue["url"])
    send_bodies(sqs, queue["url"], ["good-3"])
    fresh = receive_sqs_event(sqs, queue, 1)
    assert [entry[:2] for entry in example["lambda_handler"](fresh, None)] == [("success", "3-doog")]


def test_suppress_exception_decorator_example(queue_with_poison):
    from botocore.config import Config

    sqs, queue, event = queue_with_poison
    record_handler = run_example(DECORATOR)["record_handler"]
    example = run_example(
        SUPPRESS_DECORATOR, record_handler=record_handler, config=Config(region_name="us-east-1")
    )
    assert example["lambda_handler"](event, None) == {"statusCode": 200}
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["poison-1"]


def test_suppress_exception_context_manager_example(queue_with_poison):
    from botocore.config import Config

    sqs, queue, event = queue_with_poison
    record_handler = run_example(DECORATOR)["record_handler"]
    example = run_example(
        SUPPRESS_CONTEXT_MANAGER,
        record_handler=record_handler,
        config=Config(region_name="us-east-1"),
        records=event["Records"],
    )
    assert sorted(entry[0] for entry in example["result"]) == ["fail", "success", "success"]
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["poison-1"]


def test_custom_processor_example_writes_successes_to_dynamodb(
    aws_client, unique_name, emulated_aws, monkeypatch
):
    sqs = aws_client("sqs")
    dynamodb = aws_client("dynamodb")
    table = unique_name("ages")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "age", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "age", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TABLE_NAME", table)
    queue = make_queue(sqs, unique_name("custom"))
    send_bodies(sqs, queue["url"], ["a", "b", "c"])
    event = receive_sqs_event(sqs, queue, 3)

    random.seed(20240601)
    expected = {random.randint(0, 100) for _ in range(3)}
    random.seed(20240601)
    example = run_example(CUSTOM_PROCESSOR)
    assert example["lambda_handler"](event, None) == {"statusCode": 200}
    items = dynamodb.scan(TableName=table)["Items"]
    assert {int(item["age"]["N"]) for item in items} == expected

    # Warm reuse: the next invocation starts from a clean processor.
    random.seed(7)
    second = {random.randint(0, 100) for _ in range(3)}
    random.seed(7)
    example["lambda_handler"](event, None)
    items = dynamodb.scan(TableName=table)["Items"]
    assert {int(item["age"]["N"]) for item in items} == expected | second


def test_sentry_failure_handler_override_example(queue_with_poison, monkeypatch, caplog):
    sqs, queue, event = queue_with_poison
    captured = []
    sentry_sdk = types.ModuleType("sentry_sdk")
    sentry_sdk.capture_exception = lambda *args: captured.append(sys.exc_info()[0])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentry_sdk", sentry_sdk)

    example = run_example(SENTRY)
    processor = example["SQSProcessor"]()
    record_handler = run_example(DECORATOR)["record_handler"]
    with pytest.raises(SQSBatchProcessingError) as raised, processor(event["Records"], record_handler):
        results = processor.process()
    assert captured == [ValueError]
    assert [r[0] for r in results].count("fail") == 1
    assert len(raised.value.child_exceptions) == 1
    assert "got exception while processing SQS message" in caplog.text
    assert bodies_back_after_timeout(sqs, queue["url"], expected=1) == ["poison-1"]
