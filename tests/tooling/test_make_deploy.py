"""`make deploy` and the reference-stack page's `sam deploy` / `sam delete`, for real: on a fresh clone of
the repository, the real SAM CLI against the embedded emulator (`python -m emulator serve`, reached
through AWS_ENDPOINT_URL), and the created stack read back; without credentials, one plain line.

The clone reuses the repository's virtual environment (a symbolic link, its install stamp kept valid):
installing the same pinned packages again would add time, not coverage.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guide" / "reference-stack.md"
STACK = "lambda-batch"


def page_commands() -> Dict[str, str]:
    """The page's deploy block: its `make deploy`, `sam deploy` and `sam delete` lines, as written."""
    block = re.search(r"```bash\n(make validate.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert block, "the reference-stack page lost its deploy block"
    lines = [re.split(r"\s+# ", line)[0].strip() for line in block.group(1).splitlines()]
    found = {}
    for key in ("make deploy", ".venv/bin/sam deploy", ".venv/bin/sam delete"):
        matching = [line for line in lines if line == key or line.startswith(key + " ")]
        assert len(matching) == 1, (key, lines)
        found[key] = matching[0]
    return found


def newcomer_env(**extra: str) -> Dict[str, str]:
    """No AWS settings of the caller's, no profile, no instance metadata; nothing of an outer make."""
    values = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE", "MFLAGS"))}
    values.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
    )
    values.pop("SAM_BUILD_DIR", None)
    values.update(extra)
    return values


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`git clone` of the repository (its committed HEAD), with the repository's .venv linked in."""
    target = tmp_path_factory.mktemp("fresh") / "lambda-batch"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    (target / ".venv").symlink_to(ROOT / ".venv")
    # make compares the install stamp with these two files: the clone's are the same content,
    # only newer; as old as the stamp, the venv is reused instead of installed again.
    stamp = (ROOT / ".venv" / ".installed-stamp").stat().st_mtime
    for name in ("requirements-dev.txt", "pyproject.toml"):
        os.utime(target / name, (stamp - 1, stamp - 1))
    return target


@pytest.fixture(scope="module")
def emulator_endpoint() -> Iterator[str]:
    """`python -m emulator serve`: an empty embedded emulator in a process of its own; its endpoint."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve"],
        cwd=ROOT,
        env=newcomer_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        endpoint = process.stdout.readline().strip()  # the first line, once the port is bound
        assert re.fullmatch(r"http://localhost:\d+", endpoint), (endpoint, process.stderr)
        yield endpoint
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(120)  # a clean stop, however slow a busy machine makes it
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        assert process.returncode == 0, "Ctrl-C stops the emulator cleanly"


def run(command: str, cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def client(endpoint: str, service: str) -> Any:
    import boto3.session

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return session.client(service, endpoint_url=endpoint)


def stack_resources(endpoint: str) -> Dict[str, Dict[str, str]]:
    """Logical id -> {type, physical id} of the stack lambda-batch, which must be CREATE_COMPLETE."""
    cloudformation = client(endpoint, "cloudformation")
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    summaries = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {
        s["LogicalResourceId"]: {"type": s["ResourceType"], "id": s["PhysicalResourceId"]} for s in summaries
    }


def test_make_deploy_on_a_fresh_clone_creates_the_stack(clone: Path, emulator_endpoint: str) -> None:
    """The page's `make deploy`, then its `sam delete` and its `sam deploy` with overrides (a new
    stack: the emulator creates and deletes stacks; it does not update one in place)."""
    commands = page_commands()
    env = newcomer_env(
        AWS_ENDPOINT_URL=emulator_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
    )
    started = time.monotonic()
    deployed = run(commands["make deploy"], clone, env)
    took = time.monotonic() - started
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    assert f"Successfully created/updated stack - {STACK} in us-east-1" in deployed.stdout
    print(f"make deploy on a fresh clone: {took:.1f} s")

    resources = stack_resources(emulator_endpoint)
    types = {logical_id: r["type"] for logical_id, r in resources.items()}
    for queue in ("WorkQueue", "DeadLetterQueue", "WorkFifoQueue", "FifoDeadLetterQueue"):
        assert types[queue] == "AWS::SQS::Queue", queue
    assert types["ConsumerFunction"] == types["ProducerFunction"] == "AWS::Lambda::Function"
    assert types["ConsumerFunctionWorkQueue"] == "AWS::Lambda::EventSourceMapping"
    layer_ids = [i for i, kind in types.items() if kind == "AWS::Lambda::LayerVersion"]
    assert len(layer_ids) == 1 and layer_ids[0].startswith("LambdaBatchLayer")
    # samconfig.toml [default]: EnableKinesis=false, so no stream and no stream consumer.
    assert "EventStream" not in types and "StreamConsumerFunction" not in types

    # samconfig.toml's parameters reached the stack: the work queue's DLQ after 3 receives.
    sqs = client(emulator_endpoint, "sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=resources["WorkQueue"]["id"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 3 and redrive["deadLetterTargetArn"].endswith(
        resources["DeadLetterQueue"]["id"].rsplit("/", 1)[1]
    )
    # The functions run the uploaded code with the stack's own layer version attached.
    lambda_client = client(emulator_endpoint, "lambda")
    configuration = lambda_client.get_function_configuration(FunctionName=resources["ConsumerFunction"]["id"])
    layer_arns = [layer["Arn"] for layer in configuration.get("Layers", [])]
    outputs = client(emulator_endpoint, "cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    layer_output = {o["OutputKey"]: o["OutputValue"] for o in outputs["Outputs"]}["LambdaBatchLayerArn"]
    assert layer_arns == [layer_output] and re.fullmatch(
        r"arn:aws:lambda:us-east-1:\d{12}:layer:.+:1", layer_output
    )
    # --resolve-s3: SAM CLI's managed stack and its bucket, holding the uploaded artifacts.
    managed = stack_resources_of(emulator_endpoint, "aws-sam-cli-managed-default")
    keys = [
        o["Key"]
        for o in client(emulator_endpoint, "s3").list_objects_v2(Bucket=managed["SamCliSourceBucket"])[
            "Contents"
        ]
    ]
    assert len([k for k in keys if k.startswith("lambda-batch/")]) >= 3  # two functions and the layer

    # The page's teardown, then its second deploy: Kinesis on, 5 receives.
    deleted = run(commands[".venv/bin/sam delete"], clone, env)
    assert deleted.returncode == 0 and "Deleted successfully" in deleted.stdout, deleted.stderr[-3000:]
    # `sam deploy` alone, from the clone's root after the build make deploy made.
    again = run(commands[".venv/bin/sam deploy"], clone, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    resources = stack_resources(emulator_endpoint)
    assert resources["EventStream"]["type"] == "AWS::Kinesis::Stream"
    assert resources["StreamConsumerFunction"]["type"] == "AWS::Lambda::Function"
    assert resources["StreamConsumerFunctionEventStream"]["type"] == "AWS::Lambda::EventSourceMapping"
    attributes = sqs.get_queue_attributes(QueueUrl=resources["WorkQueue"]["id"], AttributeNames=["All"])
    assert json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 5


def stack_resources_of(endpoint: str, stack_name: str) -> Dict[str, str]:
    summaries = client(endpoint, "cloudformation").list_stack_resources(StackName=stack_name)
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries["StackResourceSummaries"]}


def test_make_deploy_without_credentials_says_so_plainly(tmp_path: Path) -> None:
    """No credentials: one plain line before anything is built (no build folder, no traceback)."""
    build_dir = tmp_path / "build"
    completed = run(
        f"{page_commands()['make deploy']} SAM_BUILD_DIR={build_dir}", ROOT, newcomer_env(HOME=str(tmp_path))
    )
    assert completed.returncode != 0
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    errors = [line for line in completed.stderr.splitlines() if not line.startswith("make: ***")]
    assert errors == [
        "error: AWS credentials are missing for AWS: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (see `aws configure`)"
    ]
    assert not build_dir.exists()  # refused before building
