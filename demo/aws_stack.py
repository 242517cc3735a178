"""The stack the demo runs on: built and deployed to the emulator, or found where ``sam deploy`` put it.

Example::

    stack = prepare_stack(options, endpoint, on_emulator=True, times=times, run_id="demo00001")
    stack.queue_url, stack.dlq_url, stack.settings.queue("WorkQueue").max_receive_count
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from demo.pipeline import ROOT, DemoError, DemoOptions, PhaseTimes
from devtools.aws_session import is_loopback


class DemoStack:
    """The resources the demo needs, however they were created."""

    def __init__(self, queue_url: str, dlq_url: str, info: Any, settings: Any, build_dir: Path) -> None:
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.info = info
        self.settings = settings
        self.build_dir = build_dir


def session(endpoint: str, region: str) -> Any:
    """A boto3 session for the endpoint: the caller's credentials, fake ones on loopback, else DemoError."""
    from devtools.aws_session import MissingCredentialsError, session_for_endpoint

    try:
        return session_for_endpoint(endpoint, region)
    except MissingCredentialsError as exc:
        raise DemoError(str(exc)) from exc


def work_queue_id(options: DemoOptions) -> str:
    """The logical id of the queue the run uses."""
    return "WorkFifoQueue" if options.fifo else "WorkQueue"


def prepare_stack(
    options: DemoOptions, endpoint: str, on_emulator: bool, times: PhaseTimes, run_id: str
) -> DemoStack:
    """Build (unless ``skip_build``), then deploy to the emulator or find the stack at ``endpoint``."""
    from emulator.build import sam_build
    from emulator.stack import StackError, deploy_stack

    queue_id = work_queue_id(options)
    build_dir = Path(options.build_dir or ROOT / ".aws-sam" / "build")
    started = time.monotonic()
    if not options.skip_build:
        try:
            sam_build(ROOT / "template.yaml", build_dir)
        except StackError as exc:
            raise DemoError(str(exc)) from exc
    elif not (build_dir / "template.yaml").exists():
        raise DemoError(f"--skip-build: {build_dir} holds no `sam build` output")
    times.build = time.monotonic() - started

    started = time.monotonic()
    if on_emulator:
        try:
            # moto keeps its state per process, so two runs in one process (the tests) would
            # meet the same stack: each run on the emulator deploys its own.
            stack_name = re.sub(r"[^A-Za-z0-9-]", "-", f"{options.stack_name}-{run_id}")[:120]
            info = deploy_stack(endpoint, build_dir=build_dir, stack_name=stack_name, region=options.region)
        except StackError as exc:
            raise DemoError(f"deploying template.yaml to the emulator failed: {exc}") from exc
        stack = _with_dlq(info, info.settings(), queue_id, build_dir, " in template.yaml")
    else:
        stack = existing_stack(options, endpoint, queue_id, build_dir)
        refuse_held_messages(stack, queue_id, endpoint)
    times.deploy = time.monotonic() - started
    return stack


def held_messages(sqs: Any, queue_url: str) -> int:
    """Messages the queue holds: visible, in flight and delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def refuse_held_messages(stack: DemoStack, queue_id: str, endpoint: str) -> None:
    """:class:`DemoError` when the work queue or its DLQ already holds messages, as the consumer refuses.

    The demo accounts for what it sends: a message left by an earlier run (a producer invocation,
    say) would be consumed or found in the DLQ without having been sent, and the figures would
    not add up. Nothing has been sent when this refuses.
    """
    sqs = stack.info.client("sqs")
    held = {queue_id: held_messages(sqs, stack.queue_url), "its DLQ": held_messages(sqs, stack.dlq_url)}
    if any(held.values()):
        counts = ", ".join(f"{name} {count}" for name, count in held.items() if count)
        how = (
            f"`make purge-emulator ENDPOINT_URL={endpoint}`"
            if is_loopback(endpoint)
            else "`aws sqs purge-queue --queue-url URL` on each"
        )
        raise DemoError(
            f"the stack's queues already hold messages ({counts}: an earlier producer run or invocation?); "
            f"the demo counts only what it sends, so empty them first: {how}"
        )


def existing_stack(options: DemoOptions, endpoint: str, queue_id: str, build_dir: Path) -> DemoStack:
    """A stack deployed beforehand (``sam deploy``) at ``endpoint``: real AWS or LocalStack."""
    from botocore.exceptions import ClientError

    from emulator.settings import read_settings
    from emulator.stack import listed_resources
    from emulator.stack_info import StackInfo

    boto3_session = session(endpoint, options.region)
    cloudformation = boto3_session.client("cloudformation", endpoint_url=endpoint, region_name=options.region)
    try:
        described = cloudformation.describe_stacks(StackName=options.stack_name)["Stacks"][0]
    except ClientError as exc:
        raise DemoError(
            f"no stack {options.stack_name!r} at {endpoint}: deploy it first (sam deploy), "
            f"or name it with --stack-name ({exc})"
        ) from exc
    except Exception as exc:  # connection refused, bad URL...
        raise DemoError(f"cannot reach {endpoint}: {exc}") from exc
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
    resources, types = listed_resources(cloudformation, options.stack_name)
    settings = read_settings(ROOT / "template.yaml", parameters, options.region)
    info = StackInfo(
        stack_name=options.stack_name,
        region=options.region,
        endpoint_url=endpoint,
        account_id=described["StackId"].split(":")[4],
        parameters=parameters,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources=resources,
        resource_types=types,
        translated=settings.translated,
        build_dir=build_dir,
        boto3_session=boto3_session,
    )
    return _with_dlq(info, settings, queue_id, build_dir, "")


def _with_dlq(info: Any, settings: Any, queue_id: str, build_dir: Path, where: str) -> DemoStack:
    """The stack's work queue and its DLQ; :class:`DemoError` when the queue has no redrive."""
    queue = settings.queue(queue_id)
    if queue.dead_letter_queue is None:
        raise DemoError(f"{queue_id} has no RedrivePolicy{where}: the demo needs its DLQ")
    return DemoStack(
        info.queue_url(queue_id), info.queue_url(queue.dead_letter_queue), info, settings, build_dir
    )
