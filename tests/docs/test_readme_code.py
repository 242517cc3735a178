"""The documentation's own code blocks, run for real against the moto server, with the outcome stated.

Every ```python block of README.md, examples/README.md and the site's pages (docs/**/*.md, where
the documentation lives; the README is the short front page) is read from the document itself,
so the document and this test cannot drift. The HTML comment just before a block names what the
block needs and what its prose promises (a scenario marks at most one block of a document):

    <!-- readme-test: sqs-delete -->     the documented delete-and-raise SQS API
    <!-- readme-test: native-sqs -->     Lambda's native partial batch response (SQS)
    <!-- readme-test: sqs-options -->    retry_delay, extend_visibility and metrics_namespace (SQS)
    <!-- readme-test: metrics -->        metrics_namespace alone: one EMF document per batch
    <!-- readme-test: dispatchers -->    SQSBatchDispatcher("jobs") and DynamoBatchDispatcher("users")
    <!-- readme-test: sqs-dispatcher --> SQSBatchDispatcher("jobs") alone
    <!-- readme-test: kinesis-aggregate -->  KinesisBatchDispatcher("clicks", aggregate=True)
    <!-- readme-test: kafka -->          EventType.Kafka on events/kafka-msk.json
    <!-- readme-test: large-payloads --> SQSBatchDispatcher(large_payload_bucket=...) and the processor
    <!-- readme-test: idempotency -->    idempotency=Idempotency("idempotency") on a BatchProcessor
    <!-- readme-test: fragment -->       not runnable by design: only compiled (keep these rare)

A new scenario is a ``scenario_<name>`` function below, listed in ``SCENARIOS``.

A block without a marker is run as it is (an import line, say) and must not define a Lambda
handler: a handler needs a scenario below that asserts its outcome. Names the README's prose
leaves to the reader (``do_something_with``, ``jobs``, ``users``, ``context``) are provided by the
scenario. The blocks make their clients the default way: ``AWS_ENDPOINT_URL`` and fake
credentials point those at the moto server, so deletes, sends and writes are real calls, read
back from the server. Faults come from botocore event hooks (tests/faults.py) on the layer's own
default session, never from a mock of boto3.

The bodies carry a secret, and the handlers fail with exceptions that quote it (``int(body)``),
so each scenario also checks the README's "Logs" promise end to end: log lines, error texts and
what the block prints name the record and the reason, never the body.

The YAML snippets are parsed (CloudFormation tags allowed) and checked against template.yaml.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

from lambda_batch import SQSBatchProcessingError
from tests.faults import OK, FaultInjector, drain_queue
from tests.processing_events import (
    FakeLambdaContext,
    bodies_back_after_timeout,
    make_queue,
    receive_all,
    receive_sqs_event,
    send_bodies,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", ROOT / "examples" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SECRET = "SECRET-4111-1111"
#: The dispatchers block names its queue and table ("jobs", "users"); a region of their own keeps
#: them apart from anything else on the session's moto server.
DISPATCH_REGION = "eu-west-3"

# ----------------------------------------------------------------------------- reading the documents

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"^\s*<!--\s*readme-test:\s*(?P<name>[\w-]+)\s*-->\s*$")


@dataclass
class Block:
    path: str
    line: int
    lang: str
    source: str
    marker: Optional[str]

    @property
    def scenario(self) -> str:
        return self.marker or "plain"

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}:{self.scenario}"


def blocks_of(path: Path) -> List[Block]:
    """The fenced blocks of ``path``, dedented, each with the ``readme-test`` marker just before it."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent = len(match.group("indent"))
        lines = match.group("body").splitlines()
        source = "\n".join(line[indent:] if line[:indent].strip() == "" else line for line in lines)
        before = [line for line in text[: match.start()].splitlines() if line.strip()]
        marker = MARKER.match(before[-1]) if before else None
        found.append(
            Block(
                path=str(path.relative_to(ROOT)),
                line=text.count("\n", 0, match.start()) + 1,
                lang=match.group("lang"),
                source=source + "\n",
                marker=marker.group("name") if marker else None,
            )
        )
    return found


#: A block that only includes a file (the documentation site's ``--8<-- "examples/..."``): the
#: file is run by the examples' tests, and tests/docs/test_site.py checks the include.
SNIPPET_INCLUDE = re.compile(r'^\s*--8<-- "[^"]+"\s*$')


def all_blocks(lang: str) -> List[Block]:
    return [
        block
        for path in DOCUMENTS
        if path.exists()
        for block in blocks_of(path)
        if block.lang == lang and not SNIPPET_INCLUDE.match(block.source)
    ]


PYTHON_BLOCKS = all_blocks("python")

# ----------------------------------------------------------------------------- what the blocks run on


def do_something_with(body: str) -> int:
    """The README's placeholder: fails as real code does, with an exception that quotes the body."""
    return int(body)  # ValueError: invalid literal for int() with base 10: 'SECRET-...'


def run(block: Block, **provided: Any) -> Dict[str, Any]:
    """Execute ``block`` as a module of its own, the names its prose leaves to the reader provided."""
    namespace: Dict[str, Any] = {"__name__": f"readme_block_{block.line}", **provided}
    exec(compile(block.source, f"{block.path}:{block.line}", "exec"), namespace)
    return namespace


@dataclass
class Emulated:
    """What a scenario needs: clients of the moto server for setting up and reading back (not
    hooked), the session the layer's default clients come from (for fault hooks), and every text
    a user could read (logs, errors, what the block printed), checked for bodies at the end."""

    aws_client: Callable[..., Any]
    layer_session: Any
    unique_name: Callable[[str], str]
    capsys: Any
    caplog: Any
    monkeypatch: Any
    texts: List[str] = field(default_factory=list)

    def printed(self) -> str:
        out = self.capsys.readouterr().out
        self.texts.append(out)
        return out

    def assert_no_body_shown(self) -> None:
        """The README's "Logs" promise: log lines and errors never carry message bodies."""
        self.printed()
        for text in [self.caplog.text, *self.texts]:
            assert SECRET not in text, f"a message body reached what a user reads: {text!r}"


@pytest.fixture()
def emulated(monkeypatch, endpoint_url, aws_client, unique_name, capsys, caplog) -> Emulated:
    """Point every default boto3 client at the moto server, as a deployed function points at AWS,
    and give the layer's shared clients a fresh session of their own (where fault hooks go)."""
    import boto3

    import lambda_batch.core.clients as layer_clients

    for name, value in {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    session = boto3.session.Session()
    monkeypatch.setattr(layer_clients, "_shared_session", session)
    monkeypatch.setattr(layer_clients, "_shared_clients", {})
    caplog.set_level(logging.DEBUG, logger="lambda_batch")
    return Emulated(aws_client, session, unique_name, capsys, caplog, monkeypatch)


# ----------------------------------------------------------------------------- scenarios


def scenario_plain(block: Block, env: Emulated) -> None:
    """Run as it is (imports, say); a Lambda handler needs a scenario that asserts its outcome."""
    namespace = run(block)
    assert "lambda_handler" not in namespace, (
        f"{block.id} defines a Lambda handler: mark it with a <!-- readme-test: ... --> scenario"
    )


def scenario_fragment(block: Block, env: Emulated) -> None:
    """Not runnable by design: it must still be valid Python."""
    compile(block.source, block.id, "exec")


def _queue_with(env: Emulated, prefix: str, bodies: List[str]) -> Any:
    sqs = env.aws_client("sqs")
    queue = make_queue(sqs, env.unique_name(prefix))
    send_bodies(sqs, queue["url"], bodies)
    return sqs, queue, receive_sqs_event(sqs, queue, len(bodies))


def _id_of(event: Dict[str, Any], body: str) -> str:
    return next(record["messageId"] for record in event["Records"] if record["body"] == body)


def scenario_sqs_delete(block: Block, env: Emulated) -> None:
    """The successes are deleted and SQSBatchProcessingError raised, naming the failed record and
    its exception type; a batch that fully succeeds makes no call (Lambda deletes it); a batch that
    fully fails deletes nothing."""
    handler = run(block, do_something_with=do_something_with)["lambda_handler"]

    sqs, mixed, event = _queue_with(env, "readme-delete", ["41", SECRET, "43"])
    with pytest.raises(SQSBatchProcessingError) as raised:
        handler(event, FakeLambdaContext())
    error = str(raised.value)
    env.texts.append(error)
    assert [info[0] for info in raised.value.child_exceptions] == [ValueError]
    assert _id_of(event, SECRET) in error and "ValueError" in error

    _, good, good_event = _queue_with(env, "readme-all-good", ["7", "8"])
    assert handler(good_event, FakeLambdaContext()) == {"statusCode": 200}

    _, bad, bad_event = _queue_with(env, "readme-all-bad", [SECRET + "-a", SECRET + "-b"])
    with pytest.raises(SQSBatchProcessingError) as raised:
        handler(bad_event, FakeLambdaContext())
    env.texts.append(str(raised.value))

    assert bodies_back_after_timeout(sqs, mixed["url"], expected=1) == [SECRET]  # the successes deleted
    assert bodies_back_after_timeout(sqs, good["url"], wait=0, expected=2) == ["7", "8"]  # no call made
    assert bodies_back_after_timeout(sqs, bad["url"], wait=0, expected=2) == [SECRET + "-a", SECRET + "-b"]


def scenario_native_sqs(block: Block, env: Emulated) -> None:
    """batchItemFailures lists the failed record, the invocation ends normally, and the function's
    code deletes nothing (the event source mapping does)."""
    handler = run(block, do_something_with=do_something_with)["lambda_handler"]
    sqs, queue, event = _queue_with(env, "readme-native", ["41", SECRET, "43"])
    response = handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": _id_of(event, SECRET)}]}
    assert bodies_back_after_timeout(sqs, queue["url"], expected=3) == sorted(["41", "43", SECRET])

    _, _, good_event = _queue_with(env, "readme-native-ok", ["7"])
    assert handler(good_event, FakeLambdaContext()) == {"batchItemFailures": []}


def scenario_sqs_options(block: Block, env: Emulated) -> None:
    """retry_delay: the failed message comes back within its delay (2 s at most, jitter), not the
    queue's 30 s; extend_visibility reads the queue's timeout; one EMF document per batch."""
    handler = run(block, do_something_with=do_something_with)["lambda_handler"]
    sqs = env.aws_client("sqs")
    queue = make_queue(sqs, env.unique_name("readme-options"), visibility_timeout=30)
    send_bodies(sqs, queue["url"], ["41", SECRET])
    event = receive_sqs_event(sqs, queue, 2)
    response = handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": _id_of(event, SECRET)}]}
    documents = [json.loads(line) for line in env.printed().splitlines() if '"_aws"' in line]
    assert len(documents) == 1 and documents[0]["Queue"] == "orders"
    assert (documents[0]["RecordsSucceeded"], documents[0]["RecordsFailed"]) == (1, 1)
    assert documents[0]["VisibilityCalls"] == 1
    time.sleep(2.2)
    assert [m["Body"] for m in receive_all(sqs, queue["url"], 1, attempts=3)] == [SECRET]


def scenario_metrics(block: Block, env: Emulated) -> None:
    """One EMF document per batch on stdout, in the block's namespace and dimensions, counting the
    batch's successes and failures; the failed record is reported, nothing else is called."""
    handler = run(block, do_something_with=do_something_with)["lambda_handler"]
    _, _, event = _queue_with(env, "readme-metrics", ["41", SECRET, "43"])
    response = handler(event, FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": _id_of(event, SECRET)}]}
    documents = [json.loads(line) for line in env.printed().splitlines() if '"_aws"' in line]
    assert len(documents) == 1
    [directive] = documents[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Orders" and directive["Dimensions"] == [["Queue"]]
    assert documents[0]["Queue"] == "orders"
    assert (documents[0]["RecordsSucceeded"], documents[0]["RecordsFailed"]) == (2, 1)
    assert (documents[0]["RecordsSkipped"], documents[0]["DeleteCalls"], documents[0]["VisibilityCalls"]) == (
        0,
        0,
        0,
    )
    assert documents[0]["BatchDuration"] >= 0


def _fresh_jobs_and_users(env: Emulated) -> Any:
    """The queue "jobs" and the table "users" (key ``user_id``) the block names, empty."""
    sqs = env.aws_client("sqs", region_name=DISPATCH_REGION)
    dynamodb = env.aws_client("dynamodb", region_name=DISPATCH_REGION)
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    drain_queue(sqs, url)
    if "users" in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName="users")
    dynamodb.create_table(
        TableName="users",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return sqs, url, dynamodb


def scenario_dispatchers(block: Block, env: Emulated) -> None:
    """Every job and user arrives but the ones the service refuses; those come back as the very
    objects submitted, each with its record id and reason printed."""
    env.monkeypatch.setenv("AWS_DEFAULT_REGION", DISPATCH_REGION)
    sqs, url, dynamodb = _fresh_jobs_and_users(env)
    jobs = [{"job": n, "note": SECRET if n == 3 else "ok"} for n in range(25)]
    users = [{"user_id": f"u-{n}", "name": SECRET if n == 7 else f"user {n}"} for n in range(40)]
    refused = FaultInjector(  # SQS refuses job 3 for good: its entry fails, not retryable
        env.layer_session, "sqs", lambda call, n: OK, fail_entries=_secret_entry(False)
    )
    unwritten = FaultInjector(  # DynamoDB hands user 7 back on every call: retried, then returned
        env.layer_session, "dynamodb", lambda call, n: OK, fail_entries=_secret_entry(True)
    )

    namespace = run(block, jobs=jobs, users=users, context=FakeLambdaContext(60_000))
    printed = env.printed().splitlines()

    assert len(namespace["failed"]) == 1 and namespace["failed"][0] is jobs[3]
    assert len(namespace["failed_users"]) == 1 and namespace["failed_users"][0] is users[7]
    job_line, user_line = printed  # one line per item not sent, naming it and why
    assert "InvalidParameterValue" in job_line
    assert namespace["sqs"].unprocessed_details[0].record_id in job_line
    assert namespace["table"].unprocessed_details[0].record_id in user_line
    arrived = [json.loads(message["Body"]) for message in drain_queue(sqs, url)]
    assert sorted(job["job"] for job in arrived) == [n for n in range(25) if n != 3]
    stored = dynamodb.scan(TableName="users")["Items"]
    assert sorted(item["user_id"]["S"] for item in stored) == sorted(f"u-{n}" for n in range(40) if n != 7)
    assert refused.call_count >= 1 and unwritten.call_count >= 1


def scenario_sqs_dispatcher(block: Block, env: Emulated) -> None:
    """Every job arrives but the one SQS refuses, which comes back as the very object submitted."""
    env.monkeypatch.setenv("AWS_DEFAULT_REGION", DISPATCH_REGION)
    sqs, url, _ = _fresh_jobs_and_users(env)
    jobs = [{"job": n, "note": SECRET if n == 3 else "ok"} for n in range(25)]
    refused = FaultInjector(  # SQS refuses job 3 for good: its entry fails, not retryable
        env.layer_session, "sqs", lambda call, n: OK, fail_entries=_secret_entry(False)
    )
    namespace = run(block, jobs=jobs)
    assert len(namespace["failed"]) == 1 and namespace["failed"][0] is jobs[3]
    assert namespace["sqs"].unprocessed_details[0].code == "InvalidParameterValue"
    arrived = [json.loads(message["Body"]) for message in drain_queue(sqs, url)]
    assert sorted(job["job"] for job in arrived) == [n for n in range(25) if n != 3]
    assert refused.call_count >= 1


def scenario_kinesis_aggregate(block: Block, env: Emulated) -> None:
    """The user records go as a few aggregated Kinesis records (never two shards in one), and the
    layer's processors hand every user record back, in order per partition key."""
    from lambda_batch import BatchProcessor, EventType, process_partial_response

    env.monkeypatch.setenv("AWS_DEFAULT_REGION", DISPATCH_REGION)
    kinesis = env.aws_client("kinesis", region_name=DISPATCH_REGION)
    if "clicks" in kinesis.list_streams()["StreamNames"]:
        kinesis.delete_stream(StreamName="clicks")
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="clicks", WaiterConfig={"Delay": 0.1})

    namespace = run(block)
    assert namespace["failed"] == []
    event = _kinesis_event_of(kinesis, "clicks")
    assert 1 <= len(event["Records"]) <= 2  # 1,000 small records: one aggregate per shard at most

    received: List[Any] = []

    def handler(record: Any) -> None:
        received.append((record.kinesis.partition_key, record.kinesis.data_as_json()["n"]))

    response = process_partial_response(event, handler, BatchProcessor(EventType.KinesisDataStreams))
    assert response == {"batchItemFailures": []}
    assert sorted(n for _, n in received) == list(range(1000))
    for key in {key for key, _ in received}:
        numbers = [n for k, n in received if k == key]
        assert numbers == sorted(numbers) and all(f"user-{n % 10}" == key for n in numbers), key


def _kinesis_event_of(kinesis: Any, stream: str) -> Dict[str, Any]:
    """Lambda's Kinesis event of every record on ``stream``, read back with GetRecords."""
    import base64

    arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=10000)["Records"]:
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": record["SequenceNumber"],
                        "data": base64.b64encode(record["Data"]).decode("ascii"),
                        "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard['ShardId']}:{record['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                    "awsRegion": DISPATCH_REGION,
                    "eventSourceARN": arn,
                }
            )
    return {"Records": records}


def scenario_kafka(block: Block, env: Emulated) -> None:
    """events/kafka-msk.json: each failed record goes back as its topic-partition and offset, and
    the records of a partition are handled in offset order (under max_concurrency too)."""
    import base64

    event = json.loads((ROOT / "events" / "kafka-msk.json").read_text())
    handled: List[Any] = []

    def do_something_with(value: Any, partition: int, offset: int) -> None:
        handled.append((partition, offset))
        if value["fail"]:
            raise ValueError(f"order {value['order']} refused")

    handler = run(block, do_something_with=do_something_with)["lambda_handler"]
    response = handler(event, FakeLambdaContext())
    records = [record for batch in event["records"].values() for record in batch]
    failed = [r for r in records if json.loads(base64.b64decode(r["value"]))["fail"]]
    assert failed, "the sample event has failing records"
    expected = [{"partition": f"{r['topic']}-{r['partition']}", "offset": r["offset"]} for r in failed]

    def key(item: Dict[str, Any]) -> Any:
        return (item["partition"], item["offset"])

    assert sorted((f["itemIdentifier"] for f in response["batchItemFailures"]), key=key) == sorted(
        expected, key=key
    )
    assert sorted(handled) == sorted((r["partition"], r["offset"]) for r in records)
    for partition in {p for p, _ in handled}:
        offsets = [o for p, o in handled if p == partition]
        assert offsets == sorted(offsets), f"partition {partition} out of order"


def scenario_large_payloads(block: Block, env: Emulated) -> None:
    """A payload over the queue's limit goes through S3 and reaches the handler whole; with
    delete_large_payloads=True the object of a record that succeeded is deleted, never that of a
    failed one."""
    env.monkeypatch.setenv("AWS_DEFAULT_REGION", DISPATCH_REGION)
    s3 = env.aws_client("s3", region_name=DISPATCH_REGION)
    if "my-payloads" in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
        for item in s3.list_objects_v2(Bucket="my-payloads").get("Contents", []):
            s3.delete_object(Bucket="my-payloads", Key=item["Key"])
    else:
        s3.create_bucket(
            Bucket="my-payloads", CreateBucketConfiguration={"LocationConstraint": DISPATCH_REGION}
        )
    sqs = env.aws_client("sqs", region_name=DISPATCH_REGION)
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    drain_queue(sqs, url)

    report = {"rows": [f"row {n:06d} " + "x" * 90 for n in range(52_000)]}  # 5.2 MB of JSON
    received: List[Any] = []

    def do_something_with(body: str) -> int:
        data = json.loads(body)
        if "poison" in data:
            raise ValueError(f"refused: {body[:60]}")  # quotes the payload, as exceptions do
        received.append(data)
        return len(body)

    namespace = run(block, report=report, do_something_with=do_something_with)
    assert namespace["not_sent"] == []
    poison = {"poison": SECRET, "pad": "y" * 2_000_000}  # offloaded too; its handler call fails
    namespace["sqs"].submit_payload(poison)
    assert namespace["sqs"].flush_payloads() == []
    assert len(s3.list_objects_v2(Bucket="my-payloads").get("Contents", [])) == 2

    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = receive_sqs_event(sqs, {"url": url, "arn": arn}, 2)
    response = namespace["lambda_handler"](event, FakeLambdaContext())

    assert received == [report]  # the payload itself, read from S3
    [failure] = response["batchItemFailures"]
    failed_record = next(r for r in event["Records"] if r["messageId"] == failure["itemIdentifier"])
    pointer = json.loads(failed_record["body"])[1]
    left = [item["Key"] for item in s3.list_objects_v2(Bucket="my-payloads").get("Contents", [])]
    assert left == [pointer["s3Key"]]  # the success's object deleted, the failure's kept
    stored = s3.get_object(Bucket="my-payloads", Key=left[0])["Body"].read()
    assert json.loads(stored) == poison
    drain_queue(sqs, url)


def scenario_idempotency(block: Block, env: Emulated) -> None:
    """The failed record is reported; delivered again, the batch runs the failed record alone (the
    others completed); the table holds one COMPLETED item per succeeded record."""
    dynamodb = env.aws_client("dynamodb")
    if "idempotency" in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName="idempotency")
    dynamodb.create_table(
        TableName="idempotency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    bodies: List[str] = []

    def counted(body: str) -> int:
        bodies.append(body)
        return do_something_with(body)

    handler = run(block, do_something_with=counted)["lambda_handler"]
    _, _, event = _queue_with(env, "readme-idempotency", ["41", SECRET, "43"])
    failed = {"batchItemFailures": [{"itemIdentifier": _id_of(event, SECRET)}]}
    assert handler(event, FakeLambdaContext()) == failed
    assert sorted(bodies) == sorted(["41", "43", SECRET])
    bodies.clear()
    assert handler(event, FakeLambdaContext()) == failed
    assert bodies == [SECRET]
    items = dynamodb.scan(TableName="idempotency")["Items"]
    assert sorted(item["data"]["S"] for item in items) == ["41", "43"]


def _secret_entry(retryable: bool) -> Callable[[Dict[str, Any]], Optional[bool]]:
    return lambda entry: retryable if SECRET in json.dumps(entry, default=str) else None


SCENARIOS: Dict[str, Callable[..., None]] = {
    "plain": scenario_plain,
    "fragment": scenario_fragment,
    "sqs-delete": scenario_sqs_delete,
    "native-sqs": scenario_native_sqs,
    "sqs-options": scenario_sqs_options,
    "metrics": scenario_metrics,
    "dispatchers": scenario_dispatchers,
    "sqs-dispatcher": scenario_sqs_dispatcher,
    "kinesis-aggregate": scenario_kinesis_aggregate,
    "kafka": scenario_kafka,
    "large-payloads": scenario_large_payloads,
    "idempotency": scenario_idempotency,
}

# ----------------------------------------------------------------------------- the tests


def test_the_readme_has_python_blocks_each_with_a_known_scenario_and_few_fragments():
    assert len(PYTHON_BLOCKS) >= 3, "the documents' python blocks were not found"
    unknown = [block.id for block in PYTHON_BLOCKS if block.scenario not in SCENARIOS]
    assert not unknown, f"markers naming no scenario of this test: {unknown}"
    fragments = [block for block in PYTHON_BLOCKS if block.scenario == "fragment"]
    assert len(fragments) * 4 <= len(PYTHON_BLOCKS), "keep fragments rare: make the block runnable"
    for name in SCENARIOS:
        if name not in ("plain", "fragment"):
            paths = [block.path for block in PYTHON_BLOCKS if block.scenario == name]
            assert len(paths) == len(set(paths)), f"{name} marks two blocks of one document"


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[block.id for block in PYTHON_BLOCKS])
def test_readme_python_block_runs_with_the_outcome_its_prose_states(block, emulated):
    SCENARIOS[block.scenario](block, emulated)
    emulated.assert_no_body_shown()


# The migration sections: "Code written for these libraries runs with its import changed."
BEFORE = re.compile(r"^# before: (?P<line>from (?P<module>[\w.]+) import (?P<names>.+))$", re.MULTILINE)


def _names(text: str) -> List[str]:
    return sorted(name.strip() for name in text.split(","))


@pytest.mark.parametrize(
    "block",
    [block for block in PYTHON_BLOCKS if BEFORE.search(block.source)],
    ids=lambda block: block.id,
)
def test_migration_blocks_change_only_the_import(block):
    before = BEFORE.search(block.source)
    assert before is not None
    after = re.search(r"^from lambda_batch import (?P<names>.+)$", block.source, re.MULTILINE)
    assert after is not None, f"{block.id}: no `from lambda_batch import ...` line"
    assert _names(before.group("names")) == _names(after.group("names")), "only the module may change"
    namespace = run(block)
    assert all(name in namespace for name in _names(after.group("names")))
    # Where the peer library is installed and still has those names (Powertools v3 does; v1's
    # PartialSQSProcessor is gone from it), the "before" line imports as written.
    try:
        peer = __import__(before.group("module"), fromlist=["_"])
    except ImportError:
        return
    if all(hasattr(peer, name) for name in _names(before.group("names"))):
        exec(before.group("line"), {})


# ----------------------------------------------------------------------------- the "Logs" section


def _stream_events(aws_client: Callable[..., Any], unique_name: Callable[[str], str]) -> Dict[str, Any]:
    """Real SQS, Kinesis and DynamoDB Streams events, each of a good record ("41") and a bad one (SECRET)."""
    from tests.stream_events import dynamodb_stream_event, kinesis_event

    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("readme-logs"))
    send_bodies(sqs, queue["url"], ["41", SECRET])
    dynamodb = aws_client("dynamodb")

    def write(table: str) -> None:
        for pk, value in (("a", "41"), ("b", SECRET)):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, "value": {"S": value}})

    return {
        "SQS": receive_sqs_event(sqs, queue, 2),
        "KinesisDataStreams": kinesis_event(
            aws_client("kinesis"), unique_name("readme-logs"), [b"41", SECRET.encode()]
        ),
        "DynamoDBStreams": dynamodb_stream_event(
            dynamodb, aws_client("dynamodbstreams"), unique_name("readme-logs"), write, expected=2
        ),
    }


HANDLERS: Dict[str, Callable[[Any], int]] = {  # each fails with a ValueError that quotes the secret
    "SQS": lambda record: int(record.body),
    "KinesisDataStreams": lambda record: int(record.kinesis.data_as_text()),
    "DynamoDBStreams": lambda record: int(record.dynamodb.new_image["value"]),
}


def test_logs_and_errors_name_the_record_and_reason_never_the_body(aws_client, unique_name, caplog):
    """README, "Logs": log lines and errors name the record (message id, sequence number) and the
    reason; never message bodies, nor exception messages that may quote them. Every logger, at
    DEBUG, for the three event sources, through a `logger=` of the user's as Powertools takes it."""
    from lambda_batch import BatchProcessingError, BatchProcessor, EventType, process_partial_response

    caplog.set_level(logging.DEBUG)
    user_logger = logging.getLogger("readme.user")
    for source, event in _stream_events(aws_client, unique_name).items():
        processor = BatchProcessor(getattr(EventType, source), logger=user_logger)
        caplog.clear()
        response = process_partial_response(event, HANDLERS[source], processor, FakeLambdaContext())
        failures = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
        assert len(failures) == 1, (source, response)
        warnings = [
            r for r in caplog.records if r.levelno == logging.WARNING and failures[0] in r.getMessage()
        ]
        assert len(warnings) == 1, f"{source}: one WARNING naming the failed record"
        assert "ValueError" in warnings[0].getMessage()
        assert SECRET not in caplog.text, source

        bad_only = {"Records": event["Records"][1:]}  # every record fails: the error is raised
        with pytest.raises(BatchProcessingError) as raised:
            process_partial_response(bad_only, HANDLERS[source], processor, FakeLambdaContext())
        assert failures[0] in str(raised.value) and "ValueError" in str(raised.value)
        for text in (str(raised.value), caplog.text):
            assert SECRET not in text, source


# ----------------------------------------------------------------------------- YAML snippets


def _cfn_yaml(text: str) -> Any:
    """Parse CloudFormation YAML: ``!Ref``, ``!Sub``, ``!ImportValue``... become ``{"!Tag": value}``."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {f"!{suffix}": value}

    Loader.add_multi_constructor("!", tagged)
    return yaml.load(text, Loader=Loader)


YAML_BLOCKS = [block for block in all_blocks("yaml") if block.scenario != "fragment"]


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[block.id for block in YAML_BLOCKS])
def test_readme_yaml_snippet_parses(block):
    assert isinstance(_cfn_yaml(block.source), dict)


def test_readme_layer_snippets_match_the_template():
    """The SAM snippet's runtime is one the layer is built for, its layer ARN is a layer version
    ARN of the name `make publish-layer` publishes, and the export the other snippet imports is
    the reference stack's."""
    template = _cfn_yaml((ROOT / "template.yaml").read_text())
    layer = template["Resources"]["LambdaBatchLayer"]["Properties"]
    makefile = (ROOT / "Makefile").read_text()
    layer_name = re.search(r"^LAYER_NAME \?= (\S+)$", makefile, re.MULTILINE).group(1)
    stack_name = re.search(r'^stack_name = "([^"]+)"', (ROOT / "samconfig.toml").read_text(), re.MULTILINE)
    snippets = [_cfn_yaml(block.source) for block in YAML_BLOCKS]

    functions = [
        s
        for s in snippets
        if any(isinstance(v, dict) and v.get("Type") == "AWS::Serverless::Function" for v in s.values())
    ]
    assert functions, "the SAM function snippet was not found"
    for snippet in functions:
        for resource in snippet.values():
            properties = resource["Properties"]
            assert properties["Runtime"] in layer["CompatibleRuntimes"]
            for arn in properties["Layers"]:
                assert re.fullmatch(rf"arn:aws:lambda:[a-z0-9-]+:\d{{12}}:layer:{layer_name}:\d+", arn), arn

    imports = [s for s in snippets if "Layers" in s and isinstance(s["Layers"][0], dict)]
    assert imports, "the !ImportValue snippet was not found"
    export = template["Outputs"]["LambdaBatchLayerArn"]["Export"]["Name"]["!Sub"]
    assert stack_name is not None
    for snippet in imports:
        assert snippet["Layers"] == [
            {"!ImportValue": export.replace("${AWS::StackName}", stack_name.group(1))}
        ]


def test_every_fenced_block_of_a_runnable_language_is_checked():
    """A new ```json or ```yml block would otherwise go unchecked: add it here when one appears."""
    checked = {"python", "yaml", "bash", ""}  # bash: tests/demo/test_readme_commands.py; "": samples
    readmes = [ROOT / "README.md", ROOT / "examples" / "README.md"]  # docs/: tests/docs/test_site.py
    languages = {block.lang for path in readmes if path.exists() for block in blocks_of(path)}
    assert languages <= checked, f"blocks of {sorted(languages - checked)} are not checked by any test"


def test_a_marker_names_the_block_right_after_it():
    """A marker separated from its block by prose would silently mark nothing."""
    for path in DOCUMENTS:
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if MARKER.match(line):
                following = next((text for text in lines[number + 1 :] if text.strip()), "")
                assert following.lstrip().startswith("```"), (
                    f"{path.name}:{number + 1}: marker before no block"
                )
