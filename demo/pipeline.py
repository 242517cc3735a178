"""The whole system end to end: build, deploy, produce, consume, retry, dead-letter, account.

:func:`run_demo` does, in order:

1. starts a moto server on loopback (unless an endpoint URL is given);
2. runs ``sam build`` and creates the stack's resources from ``template.yaml`` on the
   emulator (``emulator.stack.deploy_stack``), or, with an endpoint, uses the stack
   already deployed there (``sam deploy``), read from its CloudFormation outputs;
3. reads the queue, DLQ, ``maxReceiveCount``, batch size, batching window and the
   functions' timeouts from the template;
4. starts the counting proxy (one loopback port for the producer, one for the consumer,
   one for the event source) so every API call is counted and every message followed;
5. invokes the built producer (``local_lambda.invoker.LocalFunction``) with the sample
   event ``events/producer-*.json`` in waves, while the built consumer is driven by the
   SQS event source mapping driver (``local_lambda.event_source``): waves keep the queue
   shallow, because moto's SQS costs time in proportion to the queue's depth;
6. keeps polling until the work queue is empty (the poison messages go to the DLQ by the
   queue's own redrive after ``maxReceiveCount`` receives), then reads the DLQ in full and
   closes the ledger: sent, processed, retried, in the DLQ, still in the queue, lost.

Example::

    from demo.pipeline import DemoOptions, run_demo

    result = run_demo(DemoOptions(messages=200, poison_rate=0.05))
    assert result.counts.lost == 0
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from demo.ledger import Ledger, LedgerCounts, item_of

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger("lambda_batch.demo")

ROLES = ("producer", "consumer", "event-source", "demo")


class DemoError(RuntimeError):
    """The demo could not run (bad option, missing stack, failed build); the message says why."""


@dataclass
class DemoOptions:
    """Everything ``python -m demo`` can be told (see ``python -m demo --help``)."""

    messages: int = 500
    poison_rate: float = 0.05
    fifo: bool = False
    endpoint_url: Optional[str] = None
    region: str = "us-east-1"
    stack_name: str = "lambda-batch"
    #: Messages per producer invocation; the next wave goes out once fewer than this many are on the queue.
    wave_size: int = 50
    #: The work queue's visibility timeout for the run (``None``: 2 s, so that retries take seconds).
    #: On a stack deployed beforehand (``endpoint_url``) the queue's own value is restored afterwards.
    visibility_timeout: Optional[int] = None
    message_groups: int = 10
    targets: Optional[List[str]] = None
    build_dir: Optional[Path] = None
    skip_build: bool = False
    max_seconds: float = 900.0
    count_calls: bool = True
    run_id: Optional[str] = None
    seed: int = 0
    #: Messages padded past SQS's 1 MiB: the producer sends them through the stack's payload
    #: bucket (S3 pointers), the consumer reads them back; the ledger follows them like the rest.
    large_messages: int = 3

    def check(self) -> None:
        """Raise :class:`DemoError` for an option out of range."""
        if self.messages < 1:
            raise DemoError("--messages must be at least 1")
        if not 0 <= self.poison_rate <= 1:
            raise DemoError("--poison-rate must be between 0 and 1")
        if not 1 <= self.wave_size <= 5000:
            raise DemoError("--wave-size must be 1 to 5000 (the producer's limit per invocation)")
        if self.visibility_timeout is not None and not 0 < self.visibility_timeout <= 43200:
            raise DemoError("--visibility-timeout must be 1 to 43200 seconds")
        if not 1 <= self.message_groups <= 100:
            raise DemoError("--message-groups must be 1 to 100")
        if not 0 <= self.large_messages <= self.messages:
            raise DemoError("--large-messages must be 0 to --messages")


@dataclass
class PhaseTimes:
    """Wall-clock seconds of each phase."""

    emulator_start: float = 0.0
    build: float = 0.0
    deploy: float = 0.0
    produce: float = 0.0
    consume: float = 0.0
    receive: float = 0.0
    delete: float = 0.0
    consumer_invoke: float = 0.0
    drain_dlq: float = 0.0
    total: float = 0.0


@dataclass
class CallCounts:
    """API calls of one role, and what one call per message would have cost."""

    calls: int
    one_per_message: int
    by_operation: Dict[str, int] = field(default_factory=dict)
    #: Seconds the endpoint took to answer these calls (seen on the wire; 0 when not counted there).
    endpoint_seconds: float = 0.0


@dataclass
class DemoResult:
    """What :func:`run_demo` returns: the accounting, the calls, the times, the settings used."""

    counts: LedgerCounts
    producer_calls: CallCounts
    consumer_calls: CallCounts
    event_source_calls: CallCounts
    times: PhaseTimes
    settings: Dict[str, Any]
    invocations: Dict[str, int]
    counted_on_wire: bool
    #: ``--messages``: what the run was asked to send.
    messages_asked: int = 0
    #: True when ``--max-seconds`` ran out before the queue was empty.
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing left, and the DLQ holds exactly the poison messages."""
        c = self.counts
        return (
            not self.timed_out
            and c.requested == self.messages_asked
            and c.lost == 0
            and c.in_queue == 0
            and c.good_in_dlq == 0
            and c.poison_processed == 0
            and c.poison_in_dlq == c.poison_sent
            and c.sent + c.returned_unsent == c.requested
            and c.large_processed + c.large_in_dlq == c.large_sent
        )

    def as_dict(self) -> Dict[str, Any]:
        """A JSON-ready view (``--json``)."""
        from dataclasses import asdict

        data = asdict(self)
        data["ok"] = self.ok
        return data


Progress = Callable[[str, Dict[str, Any]], None]


def _quiet_emulator_logs() -> None:
    # The moto server logs one line per request through werkzeug: far too much for a demo.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _producer_event(options: DemoOptions, wave: int, count: int, run_id: str) -> Dict[str, Any]:
    """The sample producer event (``events/producer-<queue>.json``) with this wave's count and poison rate."""
    sample = ROOT / "events" / ("producer-fifo.json" if options.fifo else "producer-standard.json")
    try:
        event: Dict[str, Any] = json.loads(sample.read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot read the sample event {sample}: {exc}") from exc
    event.update(count=count, poison_rate=options.poison_rate, run_id=f"{run_id}-w{wave:03d}")
    # The first waves carry the large messages (every wave but the last has wave_size items).
    large = min(count, max(0, options.large_messages - wave * options.wave_size))
    if large:
        event["large_count"] = large
    event["queue"] = "fifo" if options.fifo else "standard"
    if options.fifo:
        event["message_groups"] = options.message_groups
    if options.targets is not None:
        event["targets"] = list(options.targets)
    return event


class _Stack:
    """The resources the demo needs, however they were created."""

    def __init__(self, queue_url: str, dlq_url: str, info: Any, settings: Any, build_dir: Path) -> None:
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.info = info
        self.settings = settings
        self.build_dir = build_dir


def _prepare_stack(
    options: DemoOptions, endpoint: str, on_emulator: bool, times: PhaseTimes, run_id: str
) -> _Stack:
    from emulator.stack import StackError, deploy_stack, read_settings, sam_build

    queue_id = "WorkFifoQueue" if options.fifo else "WorkQueue"
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
        settings = info.settings()
        queue = settings.queue(queue_id)
        if queue.dead_letter_queue is None:
            raise DemoError(f"{queue_id} has no RedrivePolicy in template.yaml: the demo needs its DLQ")
        stack = _Stack(
            info.queue_url(queue_id), info.queue_url(queue.dead_letter_queue), info, settings, build_dir
        )
    else:
        stack = _existing_stack(options, endpoint, queue_id, build_dir, read_settings)
    times.deploy = time.monotonic() - started
    return stack


def _existing_stack(
    options: DemoOptions, endpoint: str, queue_id: str, build_dir: Path, read_settings: Any
) -> _Stack:
    """A stack deployed beforehand (``sam deploy``) at ``endpoint``: real AWS or LocalStack."""
    from botocore.exceptions import ClientError

    from emulator.stack import StackInfo

    session = _session(endpoint, options.region)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint, region_name=options.region)
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
    resources: Dict[str, str] = {}
    types: Dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=options.stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
            types[summary["LogicalResourceId"]] = summary["ResourceType"]
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
        boto3_session=session,
    )
    queue = settings.queue(queue_id)
    if queue.dead_letter_queue is None:
        raise DemoError(f"{queue_id} has no RedrivePolicy: the demo needs its DLQ")
    return _Stack(
        info.queue_url(queue_id), info.queue_url(queue.dead_letter_queue), info, settings, build_dir
    )


def _session(endpoint: str, region: str) -> Any:
    """A boto3 session for the endpoint: the caller's credentials, fake ones on loopback, else DemoError."""
    from emulator.server import MissingCredentialsError, session_for_endpoint

    try:
        return session_for_endpoint(endpoint, region)
    except MissingCredentialsError as exc:
        raise DemoError(str(exc)) from exc


def _restore_visibility(sqs: Any, url: str, original: str, report: Progress) -> None:
    """Put a kept stack's queue back to its own visibility timeout; say so either way."""
    try:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": original})
    except Exception as exc:
        report("restore", {"queue_url": url, "visibility_timeout": original, "error": str(exc)})
        return
    report("restore", {"queue_url": url, "visibility_timeout": original, "error": None})


def _queue_depth(sqs: Any, url: str) -> int:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def _read_dlq(sqs: Any, url: str, prefix: str, resolve: Any = None) -> Dict[str, Any]:
    """Message id -> body of every message of this run on the DLQ: received, counted, deleted.

    Deleting is what lets a FIFO DLQ hand out the later messages of a message group (it holds
    a group back while one of its messages is in flight). Messages of other runs are left on
    the queue (received with a short visibility timeout, never deleted).
    """
    found: Dict[str, Any] = {}
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        ours = []
        for message in messages:
            item_id, _ = item_of(message.get("Body"), resolve)  # a large message: read through S3
            if item_id is not None and item_id.startswith(prefix):
                found[message["MessageId"]] = message.get("Body")
                ours.append(message)
        if ours:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ours)],
            )
    return found


def _one_per_message(totals: Dict[Tuple[str, str], Any]) -> CallCounts:
    calls = sum(c.calls for c in totals.values())
    items = sum(c.items for c in totals.values())
    by_operation = {f"{service}:{operation}": c.calls for (service, operation), c in sorted(totals.items())}
    seconds = sum(c.seconds for c in totals.values())
    return CallCounts(calls=calls, one_per_message=items, by_operation=by_operation, endpoint_seconds=seconds)


def _calls_from_invocations(api_calls: List[Dict[str, Any]], items: int) -> CallCounts:
    by_operation: Dict[str, int] = {}
    for call in api_calls:
        key = f"{call.get('service')}:{call.get('operation')}"
        by_operation[key] = by_operation.get(key, 0) + 1
    return CallCounts(calls=len(api_calls), one_per_message=items, by_operation=by_operation)


def run_demo(options: DemoOptions, progress: Optional[Progress] = None) -> DemoResult:
    """Run the pipeline (see the module's documentation) and return its :class:`DemoResult`."""
    options.check()
    _quiet_emulator_logs()
    report = progress or (lambda stage, data: None)
    times = PhaseTimes()
    run_started = time.monotonic()
    run_id = options.run_id or f"demo{int(time.time()) % 100000:05d}"

    from emulator import start_moto_server
    from emulator.call_counter import CallCounter
    from local_lambda.event_source import SQSEventSourceMapping
    from local_lambda.invoker import LocalFunction

    server = None
    counter: Optional[CallCounter] = None
    producer: Optional[LocalFunction] = None
    consumer: Optional[LocalFunction] = None
    #: (sqs client, queue URL, the queue's own VisibilityTimeout) to put back after a run on a kept stack.
    restore: Optional[Tuple[Any, str, str]] = None
    try:
        if options.endpoint_url is None:
            started = time.monotonic()
            server = start_moto_server()
            endpoint = server.endpoint_url
            times.emulator_start = time.monotonic() - started
            report("emulator", {"endpoint": endpoint})
        else:
            endpoint = options.endpoint_url
            _session(endpoint, options.region)  # no credentials: say so before building anything
        on_emulator = server is not None

        stack = _prepare_stack(options, endpoint, on_emulator, times, run_id)
        report(
            "build",
            {
                "build_dir": str(stack.build_dir),
                "built": not options.skip_build,
                "deployed": on_emulator,
                "stack_name": stack.info.stack_name,
            },
        )
        queue_id = "WorkFifoQueue" if options.fifo else "WorkQueue"
        queue_settings = stack.settings.queue(queue_id)
        source = stack.settings.event_source_for_queue(queue_id)
        consumer_settings = stack.settings.function(source.function)

        session = _session(endpoint, options.region)
        payloads = session.client("s3", endpoint_url=endpoint, region_name=options.region)

        def read_payload(pointer: str) -> Optional[str]:
            """A large message's payload, read from S3 through its pointer (uncounted: the demo's own)."""
            try:
                location = json.loads(pointer)[1]
                obj = payloads.get_object(Bucket=location["s3BucketName"], Key=location["s3Key"])
                return str(obj["Body"].read().decode("utf-8"))
            except Exception:  # gone already (handled, then deleted by the consumer)
                return None

        ledger = Ledger(stack.queue_url, stack.dlq_url, resolve=read_payload)
        count_on_wire = options.count_calls and endpoint.startswith("http://")
        if count_on_wire:
            counter = CallCounter(endpoint, ROLES, observers=[ledger.observe]).start()

        def endpoint_for(role: str) -> str:
            return counter.endpoint_url(role) if counter is not None else endpoint

        demo_sqs = session.client("sqs", endpoint_url=endpoint_for("demo"), region_name=options.region)
        if not count_on_wire:
            _observe_driver_session(session, ledger)

        # The template's visibility timeout (150 s) would make each retry wait minutes: the run
        # shortens it, and on a kept stack puts the queue's own value back at the end.
        visibility = options.visibility_timeout if options.visibility_timeout is not None else 2
        original = demo_sqs.get_queue_attributes(
            QueueUrl=stack.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
        if str(visibility) != original:
            if not on_emulator:
                restore = (demo_sqs, stack.queue_url, original)
            demo_sqs.set_queue_attributes(
                QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": str(visibility)}
            )
        settings = {
            "endpoint": endpoint,
            "queue": queue_id,
            "queue_url": stack.queue_url,
            "dlq_url": stack.dlq_url,
            "fifo": options.fifo,
            "batch_size": source.batch_size,
            "maximum_batching_window": source.maximum_batching_window,
            "function_response_types": list(source.function_response_types),
            "max_receive_count": queue_settings.max_receive_count,
            "visibility_timeout": visibility,
            "queue_visibility_timeout": int(original),
            "visibility_restored_after": restore is not None,
            "template_visibility_timeout": queue_settings.visibility_timeout,
            "consumer_timeout": consumer_settings.timeout,
            "wave_size": options.wave_size,
            "run_id": run_id,
        }
        report("stack", settings)

        producer = LocalFunction(
            ROOT / "template.yaml",
            "ProducerFunction",
            stack.build_dir,
            stack=stack.info,
            endpoint_url=endpoint_for("producer"),
        )
        consumer = LocalFunction(
            ROOT / "template.yaml",
            source.function,
            stack.build_dir,
            stack=stack.info,
            endpoint_url=endpoint_for("consumer"),
        )
        producer_api_calls: List[Dict[str, Any]] = []
        consumer_api_calls: List[Dict[str, Any]] = []
        invocations = {"producer": 0, "consumer": 0, "consumer_errors": 0}

        def consumer_handler(event: Dict[str, Any], context: Any) -> Any:
            started = time.monotonic()
            result = consumer.invoke(event, timeout=context.get_remaining_time_in_millis() / 1000.0)
            times.consumer_invoke += time.monotonic() - started
            invocations["consumer"] += 1
            consumer_api_calls.extend(result.api_calls)
            if not result.ok:
                invocations["consumer_errors"] += 1
                raise FunctionError(result.error or {})
            return result.return_value

        mapping = SQSEventSourceMapping(
            consumer_handler,
            stack.queue_url,
            sqs_client=session.client(
                "sqs", endpoint_url=endpoint_for("event-source"), region_name=options.region
            ),
            batch_size=source.batch_size,
            maximum_batching_window=source.maximum_batching_window,
            function_timeout=consumer_settings.timeout,
            report_batch_item_failures="ReportBatchItemFailures" in source.function_response_types,
            function_name=consumer.environment.get("AWS_LAMBDA_FUNCTION_NAME", source.function),
            memory_size=consumer_settings.memory_size,
            poll_wait_seconds=1,
        )

        waves = math.ceil(options.messages / options.wave_size)
        produced = 0
        wave = 0
        consume_started = time.monotonic()
        deadline = consume_started + options.max_seconds
        last_report = 0.0
        depth = 0
        timed_out = False
        while True:
            if produced < options.messages:
                # The queue's own count (visible + in flight): moto's SQS slows with depth, so the
                # next wave goes out only once the queue is shallow again.
                depth = _queue_depth(demo_sqs, stack.queue_url)
            if produced < options.messages and depth < options.wave_size:
                count = min(options.wave_size, options.messages - produced)
                event = _producer_event(options, wave, count, run_id)
                started = time.monotonic()
                result = producer.invoke(event)
                times.produce += time.monotonic() - started
                invocations["producer"] += 1
                producer_api_calls.extend(result.api_calls)
                if not result.ok:
                    raise DemoError(f"the producer failed on wave {wave}: {result.error}")
                value = result.return_value or {}
                unsent = len(value.get("unprocessed", {}).get("sqs", []))
                ledger.add_request(count, unsent)
                produced += count
                wave += 1
                report(
                    "wave", {"wave": wave, "waves": waves, "sent": value.get("sent", {}), "unsent": unsent}
                )
            outcome = mapping.poll_once(wait_seconds=1)
            now = time.monotonic()
            if outcome is None or now - last_report > 1.0:
                depth = _queue_depth(demo_sqs, stack.queue_url)
                if now - last_report > 1.0:
                    last_report = now
                    report(
                        "progress",
                        {
                            **ledger.progress(),
                            "queue": depth,
                            "failed_batches": invocations["consumer_errors"],
                            "elapsed": now - run_started,
                        },
                    )
            if produced >= options.messages and outcome is None and depth == 0:
                break
            if now > deadline:
                report("timeout", {"max_seconds": options.max_seconds})
                timed_out = True
                break
        times.consume = time.monotonic() - consume_started - times.produce
        times.receive = mapping.stats.receive_seconds
        times.delete = mapping.stats.delete_seconds

        started = time.monotonic()
        dlq_items = _read_dlq(demo_sqs, stack.dlq_url, f"{run_id}-", read_payload)
        times.drain_dlq = time.monotonic() - started
        in_queue = _queue_depth(demo_sqs, stack.queue_url)
        counts = ledger.summary(set(dlq_items), in_queue, dlq_items, wire=count_on_wire)

        if counter is not None:
            producer_calls = _one_per_message(counter.totals("producer"))
            consumer_calls = _one_per_message(counter.totals("consumer"))
            source_calls = _one_per_message(counter.totals("event-source"))
        else:
            producer_calls = _calls_from_invocations(producer_api_calls, counts.sent)
            consumer_calls = _calls_from_invocations(consumer_api_calls, counts.processed)
            stats = mapping.stats
            source_calls = CallCounts(
                calls=stats.receive_calls + stats.delete_calls,
                one_per_message=stats.messages_delivered + stats.deleted,
                by_operation={
                    "sqs:ReceiveMessage": stats.receive_calls,
                    "sqs:DeleteMessageBatch": stats.delete_calls,
                },
            )
        times.total = time.monotonic() - run_started
        return DemoResult(
            counts=counts,
            producer_calls=producer_calls,
            consumer_calls=consumer_calls,
            event_source_calls=source_calls,
            times=times,
            settings=settings,
            invocations={**invocations, "event_source_batches": mapping.stats.invocations},
            counted_on_wire=count_on_wire,
            messages_asked=options.messages,
            timed_out=timed_out,
        )
    finally:
        if restore is not None:
            _restore_visibility(*restore, report)
        for function in (producer, consumer):
            if function is not None:
                function.close()
        if counter is not None:
            counter.stop()
        if server is not None:
            server.stop()


class FunctionError(RuntimeError):
    """The consumer function failed (Lambda's error object: errorType, errorMessage)."""

    def __init__(self, error: Dict[str, Any]) -> None:
        super().__init__(f"{error.get('errorType', 'Error')}: {str(error.get('errorMessage', ''))[:300]}")
        self.error = error


def _observe_driver_session(session: Any, ledger: Ledger) -> None:
    """Without the proxy (HTTPS endpoints), feed the ledger from the event source's own calls."""
    from emulator.call_counter import CallRecord

    def before_parameter_build(params: Any, context: Any, **kwargs: Any) -> None:
        context["demo_params"] = dict(params)

    def after_call(http_response: Any, parsed: Any, model: Any, context: Any = None, **kwargs: Any) -> None:
        params = (context or {}).get("demo_params")
        if params is None:
            return
        status = int(getattr(http_response, "status_code", 200))
        ledger.observe(CallRecord("event-source", "sqs", model.name, status, 0, 0.0, params, parsed))

    session.events.register("before-parameter-build.sqs.*", before_parameter_build)
    session.events.register("after-call.sqs.*", after_call)
