"""Every Powertools batch example (SQS, Kinesis, DynamoDB Streams) in examples/powertools/, run as users do.

Each example is a file whose only change from code written for Powertools is the import of
the batch names (``from lambda_batch import ...``). Each test runs the example's
``lambda_handler`` on an event built from real reads of the emulator (messages received
from a moto queue, records read back from a moto stream or a table's stream) and checks
what a user would notice: the ``batchItemFailures`` naming exactly the records that
failed, what reached DynamoDB, what was logged. The same file is also run with its
import pointed back at Powertools, and both must answer the same.
"""

from __future__ import annotations

import json
import re
import sys
import time
import types
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import lambda_batch
from tests.processing_events import FakeLambdaContext, make_queue, receive_sqs_event, sqs_record
from tests.stream_events import dynamodb_stream_event, kinesis_event

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "powertools"

#: Where Powertools keeps each name the examples import from lambda_batch.
POWERTOOLS_MODULES = {
    "SuccessResponse": "aws_lambda_powertools.utilities.batch.base",
    "PartialItemFailureResponse": "aws_lambda_powertools.utilities.batch.types",
}
POWERTOOLS_BATCH = "aws_lambda_powertools.utilities.batch"
_IMPORT = re.compile(r"^from lambda_batch import (\([^)]*\)|[^\n]*)$", re.M)


def as_powertools(source: str) -> str:
    """The example with its ``from lambda_batch import ...`` pointed back at Powertools."""

    def replace(match: re.Match) -> str:
        names = [n.strip() for n in match.group(1).strip("()").split(",") if n.strip()]
        modules: Dict[str, List[str]] = {}
        for name in names:
            modules.setdefault(POWERTOOLS_MODULES.get(name, POWERTOOLS_BATCH), []).append(name)
        return "\n".join(f"from {module} import {', '.join(found)}" for module, found in modules.items())

    changed, count = _IMPORT.subn(replace, source)
    assert count == 1, "an example imports from lambda_batch exactly once"
    return changed


def load(name: str, library: str = "lambda_batch") -> types.ModuleType:
    """Import examples/powertools/<name>.py as a fresh module (its processor is new)."""
    path = EXAMPLES / f"{name}.py"
    source = path.read_text(encoding="utf-8")
    if library == "powertools":
        source = as_powertools(source)
    else:
        assert "aws_lambda_powertools.utilities.batch" not in source
    module = types.ModuleType(f"example_{name}_{library}_{uuid.uuid4().hex[:6]}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # pydantic resolves a model's annotations through it
    exec(compile(source, str(path), "exec"), module.__dict__)  # the example files of this repository
    return module


def needs(*names: str) -> pytest.MarkDecorator:
    """xfail (not strict) while lambda_batch lacks one of ``names``."""
    missing = []
    for name in names:
        try:
            getattr(lambda_batch, name)
        except (AttributeError, ImportError):
            missing.append(name)
    return pytest.mark.xfail(bool(missing), reason=f"needs {', '.join(missing)}", strict=False)


class LambdaContext(FakeLambdaContext):
    """What Powertools' Logger and Metrics read from the context, and the time left."""

    function_name = "orders-consumer"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-consumer"
    aws_request_id = "6f8a1c52-5f42-4a38-9d2c-1b0f7e1c7a11"


def failures(response: Dict[str, Any]) -> List[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def run_both(name: str, event: Dict[str, Any]) -> Dict[str, Any]:
    """The example's response with lambda_batch, checked equal to its response with Powertools."""
    ours = load(name).lambda_handler(event, LambdaContext())
    theirs = load(name, "powertools").lambda_handler(event, LambdaContext())
    assert ours == theirs, f"{name}: lambda_batch answered {ours}, Powertools {theirs}"
    return ours


def logged(caplog: Any) -> List[Any]:
    """What the examples' loggers logged (Powertools' Logger puts keyword fields on the record)."""
    return [record for record in caplog.records if record.name != "lambda_batch.processing"]


@pytest.fixture()
def emulated_aws(monkeypatch, endpoint_url):
    """Point every default boto3 client at the emulator, as a deployed function points at AWS."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(variable, "testing")  # the emulator on loopback takes any
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return endpoint_url


@pytest.fixture()
def sqs_event(aws_client, unique_name) -> Callable[..., Dict[str, Any]]:
    """``sqs_event(bodies, fifo=False, groups=None)``: send, receive, and return Lambda's event."""
    sqs = aws_client("sqs")

    def make(bodies: List[str], fifo: bool = False, groups: List[str] | None = None) -> Dict[str, Any]:
        queue = make_queue(sqs, unique_name("examples"), visibility_timeout=30, fifo=fifo)
        for index, body in enumerate(bodies):
            extra = {"MessageGroupId": groups[index] if groups else "orders"} if fifo else {}
            sqs.send_message(QueueUrl=queue["url"], MessageBody=body, **extra)
        return receive_sqs_event(sqs, queue, len(bodies))

    return make


def ids_where(event: Dict[str, Any], predicate: Callable[[Dict[str, Any]], bool]) -> List[str]:
    return [record["messageId"] for record in event["Records"] if predicate(record)]


# -- SQS ---------------------------------------------------------------------------------

ORDERS = [
    json.dumps({"order_id": "o-1"}),
    "not json",
    json.dumps({"order_id": "o-3"}),
    json.dumps({"sku": 4}),
]


def test_sqs_partial_response_returns_the_messages_that_failed(sqs_event, caplog):
    caplog.set_level("INFO")
    event = sqs_event(ORDERS)
    response = run_both("sqs_partial_response", event)
    bad = ids_where(event, lambda r: r["body"] in ("not json", '{"sku": 4}'))
    assert sorted(failures(response)) == sorted(bad)
    messages = [record.msg for record in logged(caplog)]
    assert {"order_id": "o-1", "message_id": ids_where(event, lambda r: "o-1" in r["body"])[0]} in messages


@pytest.mark.parametrize("name", ["sqs_context_manager", "sqs_disable_tracing", "sqs_decorator"])
def test_sqs_handlers_that_parse_the_body(name, sqs_event):
    event = sqs_event([json.dumps({"order_id": "o-1"}), "{broken", ""])
    response = run_both(name, event)
    assert failures(response) == ids_where(event, lambda r: r["body"] == "{broken")


def test_sqs_error_handling_fails_only_the_empty_order(sqs_event):
    event = sqs_event(["order-1", "   ", "order-3"])
    response = run_both("sqs_error_handling", event)
    assert failures(response) == ids_where(event, lambda r: r["body"] == "   ")


def test_sqs_entire_batch_failure_returns_every_message_instead_of_raising(sqs_event):
    event = sqs_event(["a", "b", "c"])
    response = run_both("sqs_entire_batch_failure", event)
    assert failures(response) == [record["messageId"] for record in event["Records"]]
    with pytest.raises(lambda_batch.BatchProcessingError):  # the default processor raises instead
        load("sqs_partial_response").lambda_handler(event, LambdaContext())


def test_sqs_results_access_logs_each_outcome(sqs_event, caplog):
    caplog.set_level("INFO")
    event = sqs_event([json.dumps({"order_id": "o-1"}), "{broken"])
    response = load("sqs_results_access").lambda_handler(event, LambdaContext())
    broken = ids_where(event, lambda r: r["body"] == "{broken")
    assert failures(response) == broken
    outcomes = {record.message_id: record for record in logged(caplog) if hasattr(record, "message_id")}
    assert outcomes[broken[0]].msg == "fail"
    assert outcomes[broken[0]].cause.startswith("JSONDecodeError")
    ok = ids_where(event, lambda r: r["body"] != "{broken")[0]
    assert outcomes[ok].msg == "success"


@pytest.mark.parametrize("name", ["sqs_lambda_context", "sqs_lambda_context_decorator"])
def test_sqs_handler_declaring_lambda_context_receives_it(name, sqs_event, caplog):
    caplog.set_level("INFO")
    event = sqs_event(["a", "b"])
    assert run_both(name, event) == {"batchItemFailures": []}
    times = [record.msg["time_left_ms"] for record in logged(caplog) if isinstance(record.msg, dict)]
    assert len(times) == 4 and all(0 < t <= 60_000 for t in times)  # two records, two libraries


def test_sqs_context_manager_passes_lambda_context_to_the_handler(sqs_event):
    event = sqs_event(["a", "b"])
    results = load("sqs_lambda_context_manager").lambda_handler(event, LambdaContext(remaining_ms=30_000))
    assert [status for status, _, _ in results] == ["success", "success"]
    assert all(10_000 < time_left <= 30_000 for _, time_left, _ in results)
    assert [record["messageId"] for _, _, record in results] == [r["messageId"] for r in event["Records"]]


def test_sqs_pydantic_model_fails_the_records_that_do_not_fit(sqs_event):
    event = sqs_event(
        [json.dumps({"item": {"laptop": "amd"}}), json.dumps({"item": "not a dict"}), json.dumps({"nope": 1})]
    )
    response = run_both("sqs_pydantic", event)
    assert sorted(failures(response)) == sorted(ids_where(event, lambda r: "laptop" not in r["body"]))


@needs("ExceptionInfo", "FailureResponse", "SuccessResponse")
def test_sqs_processor_subclass_counts_outcomes_as_metrics(sqs_event, capsys):
    event = sqs_event([json.dumps({"order_id": "o-1"}), "{broken", json.dumps({"order_id": "o-3"})])
    response = load("sqs_processor_metrics").lambda_handler(event, LambdaContext())
    assert failures(response) == ids_where(event, lambda r: r["body"] == "{broken")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "_aws" in line]  # the embedded metric format, printed
    counts = {
        name: len(line[name]) if isinstance(line[name], list) else 1
        for line in metrics
        for name in ("OrdersProcessed", "OrdersFailed")
        if name in line
    }
    assert counts == {"OrdersProcessed": 2, "OrdersFailed": 1}


def test_sqs_failures_reach_sentry_from_the_failure_handler(sqs_event):
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    class Captured(Transport):
        """Keeps the events instead of sending them."""

        def __init__(self, options=None):
            super().__init__(options)
            self.events: List[Dict[str, Any]] = []

        def capture_envelope(self, envelope):
            self.events.extend(item.payload.json for item in envelope.items if item.type == "event")

    transport = Captured()
    sentry_sdk.init(dsn="https://key@sentry.invalid/1", transport=transport, default_integrations=False)
    try:
        event = sqs_event(["3", "three", "7", "-"])
        response = run_both("sqs_sentry_error_tracking", event)
        sentry_sdk.flush()
    finally:
        sentry_sdk.init()  # no DSN: reporting off again
    bad = ids_where(event, lambda r: not r["body"].isdigit())
    assert failures(response) == bad
    reported = [entry["exception"]["values"][-1]["type"] for entry in transport.events]
    assert reported == ["ValueError"] * 4  # two failures, each reported once by each library


@pytest.mark.parametrize("mode", ["sequential", "async", "threads"])
def test_failure_handler_runs_while_the_exception_is_handled(mode):
    """What the Sentry example relies on: ``capture_exception()`` with no argument reads ``sys.exc_info()``.

    Powertools calls ``failure_handler`` inside its ``except`` block, in its async processor too.
    """
    seen = []
    base = lambda_batch.AsyncBatchProcessor if mode == "async" else lambda_batch.BatchProcessor

    class Reporting(base):
        def failure_handler(self, record, exception):
            seen.append(sys.exc_info()[0])
            return super().failure_handler(record, exception)

    async def async_handler(record):
        raise ValueError("refused")

    def handler(record):
        raise ValueError("refused")

    options = {"max_concurrency": 2} if mode == "threads" else {}
    processor = Reporting(lambda_batch.EventType.SQS, raise_on_entire_batch_failure=False, **options)
    records = [sqs_record(1), sqs_record(2)]
    if mode == "async":
        lambda_batch.async_process_partial_response({"Records": records}, async_handler, processor)
    else:
        lambda_batch.process_partial_response({"Records": records}, handler, processor)
    assert seen == [ValueError, ValueError]


# -- SQS FIFO ----------------------------------------------------------------------------


@needs("SqsFifoPartialProcessor")
@pytest.mark.parametrize("name", ["sqs_fifo", "sqs_fifo_context_manager", "sqs_fifo_decorator"])
def test_sqs_fifo_returns_the_failure_and_everything_after_it(name, sqs_event):
    event = sqs_event([json.dumps({"step": 1}), "{broken", json.dumps({"step": 3})], fifo=True)
    response = run_both(name, event)
    ids = [record["messageId"] for record in event["Records"]]
    first_bad = ids.index(ids_where(event, lambda r: r["body"] == "{broken")[0])
    assert failures(response) == ids[first_bad:]


@needs("SqsFifoPartialProcessor")
def test_sqs_fifo_skip_group_on_error_holds_back_only_the_failed_group(sqs_event):
    bodies = [
        json.dumps({"a": 1}),
        json.dumps({"b": 1}),
        "{broken-a",
        json.dumps({"b": 2}),
        json.dumps({"a": 3}),
    ]
    event = sqs_event(bodies, fifo=True, groups=["A", "B", "A", "B", "A"])
    response = run_both("sqs_fifo_skip_group_on_error", event)
    seen_bad = False
    expected = []
    for record in event["Records"]:
        group = record["attributes"]["MessageGroupId"]
        seen_bad = seen_bad or record["body"] == "{broken-a"
        if group == "A" and seen_bad:
            expected.append(record["messageId"])
    assert failures(response) == expected
    assert len(expected) == 2


# -- SQS, async --------------------------------------------------------------------------


@needs("AsyncBatchProcessor", "async_process_partial_response")
def test_sqs_async_handler_writes_each_order_and_returns_the_failures(
    sqs_event, aws_client, unique_name, emulated_aws, monkeypatch
):
    dynamodb = aws_client("dynamodb")
    table = unique_name("orders")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("ORDERS_TABLE", table)
    bodies = [json.dumps({"order_id": f"o-{n}"}) for n in range(1, 6)] + [json.dumps({"sku": 9})]
    event = sqs_event(bodies)
    response = run_both("sqs_async", event)
    assert failures(response) == ids_where(event, lambda r: "sku" in r["body"])
    stored = dynamodb.scan(TableName=table)["Items"]
    by_order = {item["pk"]["S"]: item["message_id"]["S"] for item in stored}
    assert by_order == {
        json.loads(r["body"])["order_id"]: r["messageId"] for r in event["Records"] if "order_id" in r["body"]
    }


@needs("AsyncBatchProcessor", "async_process_partial_response")
@pytest.mark.parametrize("library", ["lambda_batch", "powertools"])
def test_sqs_async_handler_overlaps_the_writes_of_a_batch(
    library, sqs_event, aws_client, unique_name, emulated_aws, monkeypatch
):
    """The documented point of AsyncBatchProcessor: while one record awaits its I/O, the others run."""
    dynamodb = aws_client("dynamodb")
    table = unique_name("orders")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("ORDERS_TABLE", table)
    event = sqs_event([json.dumps({"order_id": f"o-{n}"}) for n in range(6)])
    example = load("sqs_async", library)
    in_flight, most = [0], [0]

    def slow_write(**_):  # each PutItem takes 0.3 s on the wire
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        time.sleep(0.3)
        in_flight[0] -= 1

    example.dynamodb.meta.events.register("before-send.dynamodb.PutItem", slow_write)
    assert example.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert most[0] > 1, "the writes ran one after another"  # counted: no wall-clock margin


@needs("AsyncBatchProcessor", "async_batch_processor")
def test_sqs_async_decorator_returns_the_empty_message(sqs_event):
    event = sqs_event(["first", "", "third"])
    response = run_both("sqs_async_decorator", event)
    assert failures(response) == ids_where(event, lambda r: r["body"] == "")


# -- custom processor --------------------------------------------------------------------


@needs("PartialItemFailureResponse")
def test_custom_processor_stores_results_in_dynamodb(
    sqs_event, aws_client, unique_name, emulated_aws, monkeypatch
):
    dynamodb = aws_client("dynamodb")
    table = unique_name("results")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TABLE_NAME", table)
    event = sqs_event(["abc", "defgh"])
    event["Records"].append({**event["Records"][0], "messageId": "no-body", "body": None})
    # Not compared with Powertools: its process_partial_response (3.37) reads processor.event_type,
    # which a BasePartialProcessor of the user's own does not have, so its own example fails there.
    response = load("custom_processor_dynamodb").lambda_handler(event, LambdaContext())
    assert failures(response) == ["no-body"]
    stored = {item["pk"]["S"]: int(item["result"]["N"]) for item in dynamodb.scan(TableName=table)["Items"]}
    assert stored == {record["messageId"]: len(record["body"]) for record in event["Records"][:2]}


# -- Kinesis -----------------------------------------------------------------------------


@pytest.fixture()
def stream_of(aws_client, unique_name) -> Callable[[List[bytes]], Dict[str, Any]]:
    kinesis = aws_client("kinesis")
    return lambda payloads: kinesis_event(kinesis, unique_name("readings"), payloads)


@pytest.mark.parametrize("name", ["kinesis_partial_response", "kinesis_context_manager", "kinesis_decorator"])
def test_kinesis_examples_return_the_records_that_failed(name, stream_of, caplog):
    caplog.set_level("INFO")
    event = stream_of([b'{"celsius": 21.5}', b"\xff\xfe not utf-8", b'{"celsius": 22}', b"[1, 2"])
    response = run_both(name, event)
    sequences = [record["kinesis"]["sequenceNumber"] for record in event["Records"]]
    assert failures(response) == [sequences[1], sequences[3]]
    readings = [record.msg for record in logged(caplog) if isinstance(record.msg, dict)]
    assert {"celsius": 21.5} in readings or {"sensor": "sensor-1", "reading": {"celsius": 21.5}} in readings


@pytest.mark.parametrize("name", ["kinesis_context_manager", "kinesis_decorator"])
def test_the_kinesis_examples_line_that_logs_the_record_shows_no_record_data(
    name, aws_client, unique_name, caplog
):
    # Powertools' own example logs `record.kinesis.data_as_text` (the method, not its result):
    # the line shows the record object's repr, which names its position and never its data.
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    caplog.set_level("INFO")
    kinesis = aws_client("kinesis")
    event = kinesis_event(
        kinesis, unique_name("readings"), [b'{"celsius": 21.5}'], partition_key="owner@example.com"
    )
    data = event["Records"][0]["kinesis"]["data"]
    sequence = event["Records"][0]["kinesis"]["sequenceNumber"]
    assert failures(load(name).lambda_handler(event, LambdaContext())) == []
    formatter = LambdaPowertoolsFormatter()  # the line as the example's Logger writes it
    lines = [formatter.format(record) for record in logged(caplog)]
    (line,) = [line for line in lines if "data_as_text" in line]
    assert sequence in line
    assert data not in line and "owner@example.com" not in line and "celsius" not in line


def test_kinesis_pydantic_model_decodes_and_validates_the_data(stream_of):
    event = stream_of([b'{"item": {"laptop": "amd"}}', b'{"item": 5}', b'{"item": {"keyboard": "classic"}}'])
    response = run_both("kinesis_pydantic", event)
    assert failures(response) == [event["Records"][1]["kinesis"]["sequenceNumber"]]


# -- DynamoDB Streams --------------------------------------------------------------------


@pytest.fixture()
def table_changes(aws_client, unique_name) -> Callable[..., Dict[str, Any]]:
    dynamodb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")

    def make(items: List[Dict[str, Any]]) -> Dict[str, Any]:
        def write(table: str) -> None:
            for item in items:
                dynamodb.put_item(TableName=table, Item=item)

        return dynamodb_stream_event(dynamodb, streams, unique_name("orders"), write, len(items))

    return make


ORDER_ITEMS = [
    {"pk": {"S": "o-1"}, "Message": {"S": json.dumps({"item": {"laptop": "amd"}})}, "total": {"N": "999.90"}},
    {"pk": {"S": "o-2"}, "Message": {"S": "failure"}},
    {"pk": {"S": "o-3"}, "SomethingElse": {"S": "no message here"}},
]


@pytest.mark.parametrize(
    "name", ["dynamodb_partial_response", "dynamodb_context_manager", "dynamodb_decorator"]
)
def test_dynamodb_examples_read_new_images_as_python_values(name, table_changes, caplog):
    caplog.set_level("INFO")
    event = table_changes(ORDER_ITEMS)
    response = run_both(name, event)
    assert failures(response) == [event["Records"][1]["dynamodb"]["SequenceNumber"]]
    assert {"item": {"laptop": "amd"}} in [record.msg for record in logged(caplog)]


def test_dynamodb_pydantic_model_fails_the_change_that_does_not_fit(table_changes):
    event = table_changes(ORDER_ITEMS[:2])
    response = run_both("dynamodb_pydantic", event)
    assert failures(response) == [event["Records"][1]["dynamodb"]["SequenceNumber"]]


# -- the documented unit test ------------------------------------------------------------


def test_the_documented_unit_test_pattern_holds(sqs_event):
    """Powertools documents a unit test of the app: one success, one failure, and the processor's lists."""
    event = sqs_event([json.dumps({"order_id": "o-1"}), "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg=="])
    example = load("sqs_partial_response")
    ok, bad = sorted(event["Records"], key=lambda r: r["body"] != json.dumps({"order_id": "o-1"}))
    assert example.lambda_handler(event, LambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": bad["messageId"]}]
    }
    assert len(example.processor.fail_messages) == 1
    assert example.processor.success_messages[0] == ok


def test_every_example_file_is_run_by_a_test():
    source = Path(__file__).read_text(encoding="utf-8")
    for path in EXAMPLES.glob("*.py"):
        assert f'"{path.stem}"' in source, f"{path.name} is not run by any test"
