"""The phases of a demo run, in order: each a method of `DemoRun` (`run_demo` runs them).

1. `DemoRun.start_endpoint`: a moto server on loopback, or the endpoint given;
2. `DemoRun.prepare_stack`: `sam build`, then the stack deployed or found;
3. `DemoRun.open_ledger`: the ledger, fed by the counting proxy (or the driver's own calls);
4. `DemoRun.shorten_visibility`: the queue's visibility timeout for the run; the settings reported;
5. `DemoRun.start_functions`: the built producer and consumer, each in its own process (and a
   second consumer process: the second poller of the batches handed to two at once);
6. `DemoRun.start_event_source`: the SQS event source mapping driver in front of the consumer,
   which hands some messages twice (`demo.duplicates`);
7. `DemoRun.produce_and_consume`: producer waves while the driver polls, until the queue is empty;
8. `DemoRun.account`: the DLQ read in full, the ledger closed, the consumer's effects read back
   (`demo.effects`), the calls counted;

and `DemoRun.close` puts back what the run changed and stops what it started, whatever happened.

Example:
    ```python
    result = DemoRun(DemoOptions(messages=100)).run()
    ```
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from demo.aws_stack import DemoStack, prepare_stack, session, work_queue_id
from demo.call_counts import (
    counted_by_the_tools,
    counted_on_the_wire,
    observe_driver_session,
    split_effect_calls,
)
from demo.consumer_metrics import batch_metric_documents
from demo.effects import read_effects
from demo.ledger import Ledger
from demo.pipeline import (
    ROLES,
    ROOT,
    DemoError,
    DemoOptions,
    DemoResult,
    PhaseTimes,
    Progress,
)
from demo.producer_events import check_producer_request, producer_event
from demo.queues import payload_reader, queue_depth, read_dlq, restore_visibility

if TYPE_CHECKING:
    from demo.duplicates import DuplicatingEventSource
    from emulator.call_counter import CallCounter
    from emulator.server import MotoServer
    from local_lambda.invoker import LocalFunction


class DemoRun:
    """One run of the demo: its options, what it started, and what it has counted so far."""

    def __init__(self, options: DemoOptions, progress: Optional[Progress] = None) -> None:
        options.check()
        check_producer_request(options)  # before anything is built or started
        # The moto server logs one line per request through werkzeug: far too much for a demo.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.options = options
        self.report: Progress = progress or (lambda stage, data: None)
        self.times = PhaseTimes()
        self.run_started = time.monotonic()
        self.run_id = options.run_id or f"demo{int(time.time()) % 100000:05d}"
        self.server: Optional[MotoServer] = None
        self.endpoint = ""
        self.counter: Optional[CallCounter] = None
        self.producer: Optional[LocalFunction] = None
        self.consumer: Optional[LocalFunction] = None
        #: The consumer's second execution environment: the second poller of a batch handed to two.
        self.second_consumer: Optional[LocalFunction] = None
        self.mapping: Optional[DuplicatingEventSource] = None
        #: (sqs client, queue URL, the queue's own VisibilityTimeout) to put back after a run on a kept stack.
        self.restore: Optional[Tuple[Any, str, str]] = None
        self.settings: Dict[str, Any] = {}
        #: Failed messages the run last said it waits for (a line each time the number changes).
        self.waiting_for = 0
        self.retry_delay = consumer_retry_delay()
        self.producer_api_calls: List[Dict[str, Any]] = []
        self.consumer_api_calls: List[Dict[str, Any]] = []
        self.invocations = {"producer": 0, "consumer": 0, "consumer_errors": 0, "second_poller": 0}
        #: The consumer's per-batch EMF documents, summed (see :func:`batch_metric_documents`).
        self.batch_metrics: Dict[str, float] = {}
        self.batch_documents = 0
        #: The two pollers of a batch handed to both count their invocations at the same time.
        self.counting = threading.Lock()
        self.timed_out = False

    def run(self) -> DemoResult:
        """Every phase in order; :meth:`close` at the end, whatever happened."""
        try:
            self.start_endpoint()
            self.prepare_stack()
            self.open_ledger()
            self.shorten_visibility()
            self.start_functions()
            self.start_event_source()
            self.produce_and_consume()
            return self.account()
        finally:
            self.close()

    # ------------------------------------------------------------------ phases

    def start_endpoint(self) -> None:
        """A moto server on loopback, unless an endpoint was given (whose credentials are checked now)."""
        from emulator import start_moto_server

        if self.options.endpoint_url is None:
            started = time.monotonic()
            self.server = start_moto_server()
            self.endpoint = self.server.endpoint_url
            self.times.emulator_start = time.monotonic() - started
            self.report("emulator", {"endpoint": self.endpoint})
        else:
            self.endpoint = self.options.endpoint_url
            session(self.endpoint, self.options.region)  # no credentials: say so before building anything

    def prepare_stack(self) -> None:
        """``sam build``, then the stack deployed to the emulator or found at the endpoint; its settings."""
        on_emulator = self.server is not None
        self.stack: DemoStack = prepare_stack(
            self.options, self.endpoint, on_emulator, self.times, self.run_id
        )
        self.report(
            "build",
            {
                "build_dir": str(self.stack.build_dir),
                "built": not self.options.skip_build,
                "deployed": on_emulator,
                "stack_name": self.stack.info.stack_name,
            },
        )
        self.queue_id = work_queue_id(self.options)
        self.queue_settings = self.stack.settings.queue(self.queue_id)
        self.source = self.stack.settings.event_source_for_queue(self.queue_id)
        self.consumer_settings = self.stack.settings.function(self.source.function)

    def open_ledger(self) -> None:
        """The ledger, fed by the counting proxy on the wire (or, over HTTPS, by the driver's own calls)."""
        from emulator.call_counter import CallCounter

        self.session = session(self.endpoint, self.options.region)
        s3 = self.session.client("s3", endpoint_url=self.endpoint, region_name=self.options.region)
        self.read_payload = payload_reader(s3)
        self.ledger = Ledger(self.stack.queue_url, self.stack.dlq_url, resolve=self.read_payload)
        self.count_on_wire = self.options.count_calls and self.endpoint.startswith("http://")
        if self.count_on_wire:
            self.counter = CallCounter(self.endpoint, ROLES, observers=[self.ledger.observe]).start()
        self.demo_sqs = self.client("sqs", "demo")
        if not self.count_on_wire:
            observe_driver_session(self.session, self.ledger)

    def shorten_visibility(self) -> None:
        """The template's visibility timeout (150 s) would make each retry wait minutes: the run
        shortens it, and on a kept stack puts the queue's own value back at the end."""
        options, stack = self.options, self.stack
        visibility = options.visibility_timeout if options.visibility_timeout is not None else 2
        original = self.demo_sqs.get_queue_attributes(
            QueueUrl=stack.queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
        if str(visibility) != original:
            if self.server is None:
                self.restore = (self.demo_sqs, stack.queue_url, original)
            self.demo_sqs.set_queue_attributes(
                QueueUrl=stack.queue_url, Attributes={"VisibilityTimeout": str(visibility)}
            )
        self.settings = {
            "endpoint": self.endpoint,
            "queue": self.queue_id,
            "queue_url": stack.queue_url,
            "dlq_url": stack.dlq_url,
            "fifo": options.fifo,
            "batch_size": self.source.batch_size,
            "maximum_batching_window": self.source.maximum_batching_window,
            "function_response_types": list(self.source.function_response_types),
            "max_receive_count": self.queue_settings.max_receive_count,
            "visibility_timeout": visibility,
            "queue_visibility_timeout": int(original),
            "visibility_restored_after": self.restore is not None,
            "template_visibility_timeout": self.queue_settings.visibility_timeout,
            "consumer_timeout": self.consumer_settings.timeout,
            "wave_size": options.wave_size,
            "run_id": self.run_id,
        }
        self.report("stack", self.settings)

    def start_functions(self) -> None:
        """The built producer and consumer, each run as Lambda would, through its own proxy port."""
        from local_lambda.invoker import LocalFunction

        template = ROOT / "template.yaml"
        stack = self.stack
        self.producer = LocalFunction(
            template,
            "ProducerFunction",
            stack.build_dir,
            stack=stack.info,
            endpoint_url=self.endpoint_for("producer"),
        )
        self.consumer = LocalFunction(
            template,
            self.source.function,
            stack.build_dir,
            stack=stack.info,
            endpoint_url=self.endpoint_for("consumer"),
        )
        if self.options.concurrent_batches:
            self.second_consumer = LocalFunction(
                template,
                self.source.function,
                stack.build_dir,
                stack=stack.info,
                endpoint_url=self.endpoint_for("consumer"),
            )

    def start_event_source(self) -> None:
        """The SQS event source mapping driver, with the template's batch size, window and timeout, which
        hands `duplicates` messages twice and the first `concurrent_batches` batches to two pollers."""
        from demo.duplicates import DuplicatingEventSource

        assert self.consumer is not None
        source = self.source
        self.mapping = DuplicatingEventSource(
            self.consumer_handler,
            self.stack.queue_url,
            second_handler=self.second_consumer_handler if self.second_consumer is not None else None,
            duplicates=self.options.duplicates,
            concurrent_batches=self.options.concurrent_batches,
            handled=self.ledger.was_deleted,
            sqs_client=self.client("sqs", "event-source"),
            batch_size=source.batch_size,
            maximum_batching_window=source.maximum_batching_window,
            function_timeout=self.consumer_settings.timeout,
            report_batch_item_failures="ReportBatchItemFailures" in source.function_response_types,
            function_name=self.consumer.environment.get("AWS_LAMBDA_FUNCTION_NAME", source.function),
            memory_size=self.consumer_settings.memory_size,
            poll_wait_seconds=1,
        )

    def produce_and_consume(self) -> None:
        """Producer waves (each once the queue is shallow again) while the driver polls, until the queue
        is empty and every wave went out, or ``max_seconds`` ran out."""
        assert self.mapping is not None
        options = self.options
        self.produced = 0
        self.wave = 0
        consume_started = time.monotonic()
        deadline = consume_started + options.max_seconds
        last_report = 0.0
        depth = 0
        while True:
            if self.produced < options.messages:
                # The queue's own count (visible + in flight): moto's SQS slows with depth, so the
                # next wave goes out only once the queue is shallow again.
                depth = queue_depth(self.demo_sqs, self.stack.queue_url)
            if self.produced < options.messages and depth < options.wave_size:
                self.produce_wave()
            outcome = self.mapping.poll_once(wait_seconds=1)
            now = time.monotonic()
            if outcome is None or now - last_report > 1.0:
                depth = queue_depth(self.demo_sqs, self.stack.queue_url)
                if now - last_report > 1.0:
                    last_report = now
                    self.report_progress(depth, now)
            if self.produced >= options.messages and outcome is None and depth == 0:
                break
            if now > deadline:
                self.report("timeout", {"max_seconds": options.max_seconds})
                self.timed_out = True
                break
        self.times.consume = time.monotonic() - consume_started - self.times.produce
        self.times.receive = self.mapping.stats.receive_seconds
        self.times.delete = self.mapping.stats.delete_seconds

    def account(self) -> DemoResult:
        """The DLQ read in full (this run's messages, deleted), the ledger closed, the calls counted."""
        assert self.mapping is not None
        started = time.monotonic()
        dlq_items = read_dlq(self.demo_sqs, self.stack.dlq_url, f"{self.run_id}-", self.read_payload)
        self.times.drain_dlq = time.monotonic() - started
        in_queue = queue_depth(self.demo_sqs, self.stack.queue_url)
        counts = self.ledger.summary(set(dlq_items), in_queue, dlq_items, wire=self.count_on_wire)
        # The consumer's effects, read back (the demo's own reads): one job counter per handled message.
        effects = read_effects(
            self.client("dynamodb", "demo"),
            self.stack.info.physical_id("ResultsTable"),
            counts.processed_item_ids,
        )
        if self.counter is not None:
            producer_calls, consumer_calls, source_calls = counted_on_the_wire(self.counter)
        else:
            producer_calls, consumer_calls, source_calls = counted_by_the_tools(
                self.producer_api_calls, self.consumer_api_calls, self.mapping.stats, counts
            )
        consumer_calls, effect_calls = split_effect_calls(consumer_calls, on_wire=self.counter is not None)
        self.times.total = time.monotonic() - self.run_started
        return DemoResult(
            counts=counts,
            producer_calls=producer_calls,
            consumer_calls=consumer_calls,
            event_source_calls=source_calls,
            times=self.times,
            settings=self.settings,
            invocations={**self.invocations, "event_source_batches": self.mapping.stats.invocations},
            counted_on_wire=self.count_on_wire,
            messages_asked=self.options.messages,
            timed_out=self.timed_out,
            batch_metrics=dict(self.batch_metrics),
            batch_documents=self.batch_documents,
            duplicates=self.mapping.duplicates,
            effects=effects,
            effect_calls=effect_calls,
        )

    def close(self) -> None:
        """Put the queue's visibility timeout back (kept stack), stop the functions, the proxy, the server."""
        if self.restore is not None:
            restore_visibility(*self.restore, self.report)
        for function in (self.producer, self.consumer, self.second_consumer):
            if function is not None:
                function.close()
        if self.counter is not None:
            self.counter.stop()
        if self.server is not None:
            self.server.stop()

    # ------------------------------------------------------------------ steps of the phases

    def endpoint_for(self, role: str) -> str:
        """The proxy port of ``role`` when calls are counted on the wire, else the endpoint itself."""
        return self.counter.endpoint_url(role) if self.counter is not None else self.endpoint

    def client(self, service: str, role: str) -> Any:
        """A client of ``service`` whose calls are counted for ``role``."""
        return self.session.client(
            service, endpoint_url=self.endpoint_for(role), region_name=self.options.region
        )

    def produce_wave(self) -> None:
        """One producer invocation: the next ``wave_size`` items (the last wave: what is left)."""
        assert self.producer is not None
        options = self.options
        count = min(options.wave_size, options.messages - self.produced)
        event = producer_event(options, self.wave, count, self.run_id)
        started = time.monotonic()
        result = self.producer.invoke(event)
        self.times.produce += time.monotonic() - started
        self.invocations["producer"] += 1
        self.producer_api_calls.extend(result.api_calls)
        if not result.ok:
            raise DemoError(f"the producer failed on wave {self.wave}: {result.error}")
        value = result.return_value or {}
        unsent = len(value.get("unprocessed", {}).get("sqs", []))
        self.ledger.add_request(count, unsent)
        self.produced += count
        self.wave += 1
        waves = math.ceil(options.messages / options.wave_size)
        self.report(
            "wave", {"wave": self.wave, "waves": waves, "sent": value.get("sent", {}), "unsent": unsent}
        )

    def consumer_handler(self, event: Dict[str, Any], context: Any) -> Any:
        """The consumer as the event source's handler: one invocation of the built function."""
        assert self.consumer is not None
        started = time.monotonic()
        result = self.consumer.invoke(event, timeout=context.get_remaining_time_in_millis() / 1000.0)
        self.times.consumer_invoke += time.monotonic() - started
        return self.take_result(result, "consumer")

    def second_consumer_handler(self, event: Dict[str, Any], context: Any) -> Any:
        """The second poller's handler: the consumer's other execution environment, at the same time."""
        assert self.second_consumer is not None
        result = self.second_consumer.invoke(event, timeout=context.get_remaining_time_in_millis() / 1000.0)
        return self.take_result(result, "second_poller")

    def take_result(self, result: Any, invoked: str) -> Any:
        """Count one consumer invocation (its calls, its batch metrics); its return value, or raise."""
        with self.counting:
            self.invocations[invoked] += 1
            self.consumer_api_calls.extend(result.api_calls)
            for document in batch_metric_documents(result.logs):
                self.batch_documents += 1
                for name, value in document.items():
                    self.batch_metrics[name] = self.batch_metrics.get(name, 0) + value
            if not result.ok and invoked == "consumer":
                self.invocations["consumer_errors"] += 1
        if not result.ok:
            raise FunctionError(result.error or {})
        return result.return_value

    def report_progress(self, depth: int, now: float) -> None:
        """The ledger's counts so far, the queue's depth, failed batches, the time since the start; once
        every message is sent, what the run still waits for (failed messages' retry delays) and until when."""
        if self.produced >= self.options.messages:
            pending, until = self.ledger.retry_deadline(
                self.queue_settings.max_receive_count,
                self.retry_delay,
                self.options.fifo,
                per_receive=self.source.maximum_batching_window,
            )
            if pending and pending != self.waiting_for:
                delays = [self.retry_delay(k) for k in range(1, self.queue_settings.max_receive_count + 1)]
                self.report(
                    "waiting",
                    {
                        "pending": pending,
                        "delays": delays,
                        "max_receive_count": self.queue_settings.max_receive_count,
                        "until": time.time() + (until - now),
                        "fifo": self.options.fifo,
                    },
                )
            self.waiting_for = pending
        self.report(
            "progress",
            {
                **self.ledger.progress(),
                "queue": depth,
                "failed_batches": self.invocations["consumer_errors"],
                "elapsed": now - self.run_started,
            },
        )


class FunctionError(RuntimeError):
    """The consumer function failed (Lambda's error object: errorType, errorMessage)."""

    def __init__(self, error: Dict[str, Any]) -> None:
        super().__init__(f"{error.get('errorType', 'Error')}: {str(error.get('errorMessage', ''))[:300]}")
        self.error = error


def consumer_retry_delay() -> Callable[[int], float]:
    """The consumer's retry delay after its ``n``-th failed delivery of a message, in seconds, as
    ``functions/consumer/app.py`` sets it (``RetryDelay(initial_seconds=..., max_seconds=...,
    multiplier=...)``, no jitter): read from the function's source, so the demo says what runs."""
    source = (ROOT / "functions" / "consumer" / "app.py").read_text(encoding="utf-8")
    found = re.search(
        r"RetryDelay\(initial_seconds=([\d.]+), max_seconds=([\d.]+), multiplier=([\d.]+)", source
    )
    if found is None:
        raise DemoError(
            "functions/consumer/app.py no longer sets RETRY_DELAY = RetryDelay(initial_seconds=...)"
        )
    initial, most, multiplier = (float(value) for value in found.groups())
    return lambda n: min(most, initial * multiplier ** (n - 1))
