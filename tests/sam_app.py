"""The SAM application's fixtures: one `sam build` per test run (shared by the pytest-xdist workers)
and one deployed stack per worker, for tests/template, tests/tooling and tests/demo (registered once,
in tests/conftest.py, so that all use the same ones)."""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from emulator import MotoServer
from emulator.stack import StackInfo, deploy_stack, sam_build
from local_lambda.invoker import LocalFunction

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"


def load_event(name: str) -> Dict[str, Any]:
    """The sample event ``events/<name>``."""
    return json.loads((EVENTS / name).read_text())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created), held for the block: one worker at a time."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """`sam build` of template.yaml (no container), outside the repository, once per test run: under
    pytest-xdist the first worker builds into the run's shared temporary folder and the others wait
    for it and reuse it (the build is only read)."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    target = shared / "sam-build"
    done = shared / "sam-build.done"
    with _locked(shared / "sam-build.lock"):
        if not done.exists():
            sam_build(TEMPLATE, target)
            done.touch()
    return target


@pytest.fixture(scope="session")
def stack(moto_server: MotoServer, build_dir: Path) -> StackInfo:
    """The reference stack deployed to the moto server, with the Kinesis stream enabled."""
    return deploy_stack(
        moto_server.endpoint_url,
        build_dir=build_dir,
        stack_name="lambda-batch-test",
        parameter_overrides={"EnableKinesis": "true", "MaxReceiveCount": "2", "FifoMaxReceiveCount": "4"},
    )


@pytest.fixture(scope="session")
def consumer(stack: StackInfo, build_dir: Path) -> Iterator[LocalFunction]:
    """ConsumerFunction, built, run locally against the stack (kept warm)."""
    with LocalFunction(TEMPLATE, "ConsumerFunction", build_dir, stack=stack) as function:
        yield function


@pytest.fixture(scope="session")
def producer(stack: StackInfo, build_dir: Path) -> Iterator[LocalFunction]:
    """ProducerFunction, built, run locally against the stack (kept warm)."""
    with LocalFunction(TEMPLATE, "ProducerFunction", build_dir, stack=stack) as function:
        yield function


def drain(sqs: Any, queue_url: str) -> List[Dict[str, Any]]:
    """Receive and delete every visible message of the queue; return them."""
    messages: Dict[str, Dict[str, Any]] = {}
    for _ in range(50):
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            messages[message["MessageId"]] = message
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return list(messages.values())


@pytest.fixture()
def sqs(stack: StackInfo) -> Any:
    """An SQS client of the emulator; the stack's work queues are emptied before each test."""
    client = stack.client("sqs")
    for queue in ("WorkQueue", "WorkFifoQueue"):
        drain(client, stack.queue_url(queue))
    return client
