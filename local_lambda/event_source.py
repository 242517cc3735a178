"""Drive a Lambda handler from an SQS queue the way Lambda's SQS event source mapping does.

The driver long-polls the queue (``ReceiveMessage`` with up to 10 messages a call), gathers a
batch of up to ``batch_size`` messages within ``maximum_batching_window`` seconds, builds the
event exactly as Lambda builds it from the real messages (receipt handles, system attributes,
message attributes in Lambda's camel-cased shape), invokes ``handler(event, context)`` with a
context whose deadline is the function's timeout, and applies the outcome as Lambda does:

* a normal return deletes the whole batch;
* an exception, or a run longer than the function's timeout, deletes nothing: the messages
  come back when the queue's visibility timeout ends;
* with ``report_batch_item_failures`` (``FunctionResponseTypes: [ReportBatchItemFailures]``) a
  ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}`` response deletes every message but
  the reported ones; a malformed response (an identifier that is empty, missing or not in the
  batch) fails the whole batch, as Lambda does.

Moving a message to the dead-letter queue after ``maxReceiveCount`` receives is the queue's own
redrive policy, not the driver's: the driver only receives and deletes.

It works with any callable ``handler(event, context)``: a function imported directly, or an
invoker that runs a function built by ``sam build``.

Example::

    from local_lambda.event_source import SQSEventSourceMapping

    def handler(event, context):
        for record in event["Records"]:
            print(record["messageId"], record["attributes"]["ApproximateReceiveCount"])

    mapping = SQSEventSourceMapping(handler, queue_url, endpoint_url="http://127.0.0.1:5000",
                                    batch_size=10, maximum_batching_window=1.0, function_timeout=30)
    mapping.run(until=lambda: mapping.stats.idle_polls >= 2)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from devtools.lambda_context import LambdaContext
from devtools.lambda_sqs import lambda_sqs_record, reported_failures
from local_lambda.batch_deletes import delete_batch
from local_lambda.batch_outcomes import (
    ERROR,
    INVALID_RESPONSE,
    PARTIAL,
    SUCCESS,
    TIMEOUT,
    BatchOutcome,
    MappingStats,
)

__all__ = [
    "ERROR",
    "INVALID_RESPONSE",
    "PARTIAL",
    "SUCCESS",
    "TIMEOUT",
    "BatchOutcome",
    "LambdaContext",
    "MappingStats",
    "SQSEventSourceMapping",
]

logger = logging.getLogger("lambda_batch.local_lambda.event_source")

#: The largest synchronous invocation payload Lambda accepts (6 MB).
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
#: The most messages one ReceiveMessage call returns.
SQS_RECEIVE_MAX = 10
#: The longest long poll SQS allows.
SQS_MAX_WAIT_SECONDS = 20
#: The largest message SQS accepts (bytes); used to stop gathering before a batch could overflow the payload.
SQS_MAX_MESSAGE_BYTES = 1024 * 1024
#: Lambda's limits on the mapping's settings.
STANDARD_MAX_BATCH_SIZE = 10_000
FIFO_MAX_BATCH_SIZE = 10
MAX_BATCHING_WINDOW_SECONDS = 300

Handler = Callable[[Dict[str, Any], Any], Any]

ContextFactory = Callable[[float], Any]


class SQSEventSourceMapping:
    """An SQS event source mapping for a local handler.

    ``handler`` is called as ``handler(event, context)``. The SQS client is ``sqs_client``, or
    one made from ``boto3_session`` (default: a new session) with ``endpoint_url`` and
    ``region_name``. Settings mirror the mapping's: ``batch_size`` (1-10,000; 1-10 for FIFO),
    ``maximum_batching_window`` in seconds (0-300; ignored for FIFO queues, as Lambda does),
    ``report_batch_item_failures``; ``function_timeout`` is the function's ``Timeout``.
    ``context_factory(timeout_seconds)`` makes the context (default: :class:`LambdaContext`).
    ``on_batch`` is called with each :class:`BatchOutcome`.

    Example::

        mapping = SQSEventSourceMapping(handler, queue_url, sqs_client=sqs, batch_size=25,
                                        maximum_batching_window=2, function_timeout=30)
        outcome = mapping.poll_once()          # one batch, or None when the queue stayed empty
    """

    def __init__(
        self,
        handler: Handler,
        queue_url: str,
        *,
        sqs_client: Any = None,
        boto3_session: Any = None,
        endpoint_url: Optional[str] = None,
        region_name: Optional[str] = None,
        batch_size: int = 10,
        maximum_batching_window: float = 0.0,
        function_timeout: float = 3.0,
        report_batch_item_failures: bool = False,
        function_name: str = "function",
        memory_size: int = 128,
        poll_wait_seconds: int = SQS_MAX_WAIT_SECONDS,
        context_factory: Optional[ContextFactory] = None,
        on_batch: Optional[Callable[[BatchOutcome], None]] = None,
    ) -> None:
        if sqs_client is None:
            if boto3_session is None:
                import boto3.session

                boto3_session = boto3.session.Session()
            sqs_client = boto3_session.client("sqs", endpoint_url=endpoint_url, region_name=region_name)
        self.sqs = sqs_client
        self.handler = handler
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        max_batch = FIFO_MAX_BATCH_SIZE if self.fifo else STANDARD_MAX_BATCH_SIZE
        if not 1 <= batch_size <= max_batch:
            raise ValueError(f"batch_size must be between 1 and {max_batch} for this queue, got {batch_size}")
        if not 0 <= maximum_batching_window <= MAX_BATCHING_WINDOW_SECONDS:
            raise ValueError(f"maximum_batching_window must be 0-300 seconds, got {maximum_batching_window}")
        if batch_size > SQS_RECEIVE_MAX and maximum_batching_window < 1 and not self.fifo:
            # Lambda refuses this combination: a batch over 10 needs a window of at least 1 second.
            raise ValueError("a batch_size over 10 needs a maximum_batching_window of at least 1 second")
        if function_timeout <= 0:
            raise ValueError(f"function_timeout must be positive, got {function_timeout}")
        if not 0 <= poll_wait_seconds <= SQS_MAX_WAIT_SECONDS:
            raise ValueError(f"poll_wait_seconds must be 0-20, got {poll_wait_seconds}")
        self.batch_size = batch_size
        self.maximum_batching_window = 0.0 if self.fifo else float(maximum_batching_window)
        self.function_timeout = float(function_timeout)
        self.report_batch_item_failures = report_batch_item_failures
        self.function_name = function_name
        self.memory_size = memory_size
        self.poll_wait_seconds = poll_wait_seconds
        self.region = str(self.sqs.meta.region_name)
        self._context_factory = context_factory or self._default_context
        self._on_batch = on_batch
        self._queue_arn: Optional[str] = None
        self._stop = threading.Event()
        self.stats = MappingStats()

    # ------------------------------------------------------------------ public API

    @property
    def queue_arn(self) -> str:
        """The queue's ARN (read once with GetQueueAttributes): the event's ``eventSourceARN``."""
        if self._queue_arn is None:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = str(attributes["Attributes"]["QueueArn"])
        return self._queue_arn

    def poll_once(self, wait_seconds: Optional[int] = None) -> Optional[BatchOutcome]:
        """Receive one batch, invoke the handler with it and apply the outcome.

        Waits up to ``wait_seconds`` (default ``poll_wait_seconds``) for a first message;
        returns ``None`` when none came.
        """
        messages = self.receive_batch(self.poll_wait_seconds if wait_seconds is None else wait_seconds)
        if not messages:
            self.stats.idle_polls += 1
            return None
        self.stats.idle_polls = 0
        return self.deliver(messages)

    def run(
        self,
        until: Optional[Callable[[], bool]] = None,
        max_batches: Optional[int] = None,
        wait_seconds: Optional[int] = None,
    ) -> MappingStats:
        """Poll and invoke until ``until()`` is true, ``max_batches`` were invoked, or :meth:`stop`."""
        batches = 0
        while not self._stop.is_set():
            if until is not None and until():
                break
            if max_batches is not None and batches >= max_batches:
                break
            if self.poll_once(wait_seconds) is not None:
                batches += 1
        return self.stats

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current poll."""
        self._stop.set()

    def receive_batch(self, wait_seconds: int) -> List[Dict[str, Any]]:
        """Up to ``batch_size`` messages: a long poll for the first, then more until the window closes."""
        messages = self._receive(self.batch_size, wait_seconds)
        if not messages:
            return messages
        window_end = time.monotonic() + self.maximum_batching_window
        while len(messages) < self.batch_size and self._payload_has_room(messages):
            remaining = window_end - time.monotonic()
            if remaining <= 0:
                break
            # Long-poll for the rest of the window (whole seconds: SQS's unit); a final short
            # receive picks up what is already there when less than a second is left.
            more = self._receive(self.batch_size - len(messages), min(SQS_MAX_WAIT_SECONDS, int(remaining)))
            messages = _merge(messages, more)
            if not more and remaining < 1:
                break
        return messages

    def build_event(self, messages: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
        """The Lambda event for ``messages`` (as ReceiveMessage returned them), built as Lambda builds it."""
        return {"Records": [lambda_sqs_record(message, self.queue_arn) for message in messages]}

    def deliver(self, messages: Sequence[Dict[str, Any]]) -> BatchOutcome:
        """Invoke the handler with ``messages``; apply the outcome (delete all, none, or all but failures)."""
        event = self.build_event(messages)
        ids = [message["MessageId"] for message in messages]
        outcome = BatchOutcome(message_ids=ids, outcome=SUCCESS)
        for message in messages:
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            outcome.receive_counts[message["MessageId"]] = count
            if count > 1:
                self.stats.redeliveries += 1
        self.stats.invocations += 1
        self.stats.messages_delivered += len(messages)

        context = self._context_factory(self.function_timeout)
        started = time.monotonic()
        response: Any = None
        try:
            response = self.handler(event, context)
        except Exception as exc:  # the function failed: Lambda leaves the whole batch
            outcome.outcome = ERROR
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            outcome.error = f"{type(exc).__name__}: {first_line}"
        outcome.duration = time.monotonic() - started
        self.stats.handler_seconds += outcome.duration
        if outcome.outcome == SUCCESS and outcome.duration > self.function_timeout:
            outcome.outcome = TIMEOUT
            outcome.error = f"Task timed out after {self.function_timeout:.2f} seconds"

        to_delete: List[Dict[str, Any]] = []
        if outcome.outcome == SUCCESS:
            failures = reported_failures(response, ids) if self.report_batch_item_failures else set()
            if failures is None:
                outcome.outcome = INVALID_RESPONSE
                outcome.error = "invalid batchItemFailures response: the whole batch is retried"
            else:
                if failures:
                    outcome.outcome = PARTIAL
                to_delete = [message for message in messages if message["MessageId"] not in failures]
                outcome.left = [message_id for message_id in ids if message_id in failures]
        if outcome.outcome in (ERROR, TIMEOUT, INVALID_RESPONSE):
            outcome.left = list(ids)
            logger.warning(
                "invocation failed (%s): %s; %d message(s) return after the visibility timeout: %s",
                outcome.outcome,
                outcome.error,
                len(ids),
                ", ".join(ids),
            )

        outcome.deleted, outcome.delete_failed = delete_batch(self.sqs, self.queue_url, to_delete, self.stats)
        self.stats.add(outcome)
        if self._on_batch is not None:
            self._on_batch(outcome)
        return outcome

    # ------------------------------------------------------------------ internals

    def _default_context(self, timeout_seconds: float) -> LambdaContext:
        return LambdaContext(self.function_name, timeout_seconds, self.memory_size, self.region)

    def _receive(self, count: int, wait_seconds: int) -> List[Dict[str, Any]]:
        started = time.monotonic()
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(SQS_RECEIVE_MAX, count)),
            WaitTimeSeconds=max(0, wait_seconds),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        self.stats.receive_calls += 1
        self.stats.receive_seconds += time.monotonic() - started
        return list(response.get("Messages", []))

    @staticmethod
    def _payload_has_room(messages: Sequence[Dict[str, Any]]) -> bool:
        used = sum(len(message.get("Body", "")) + 1024 for message in messages)
        return used + SQS_RECEIVE_MAX * SQS_MAX_MESSAGE_BYTES // 4 <= MAX_INVOKE_PAYLOAD_BYTES


def _merge(messages: List[Dict[str, Any]], more: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``messages`` plus ``more``, once per message id: a message whose visibility timeout ran out
    while the window was open comes back, and only its newest receipt handle can delete it."""
    by_id = {message["MessageId"]: index for index, message in enumerate(messages)}
    merged = list(messages)
    for message in more:
        index = by_id.get(message["MessageId"])
        if index is None:
            by_id[message["MessageId"]] = len(merged)
            merged.append(message)
        else:
            merged[index] = message
    return merged
