"""A visibility heartbeat: a batch's SQS messages kept invisible until the batch is over.

A slow record (or a large batch under bounded concurrency) can outlive the queue's visibility
timeout: its message becomes visible again and another consumer handles it too, at the same
time. A record that succeeded early is no safer: its message is deleted only after the batch (by
Lambda once the function returns, or by the layer in delete mode), so it must stay invisible
until then too. With ``extend_visibility=True`` a processor runs one background thread per batch
(one at a time per processor) that, every third of the visibility timeout (counted from the
start of the previous heartbeat, so that slow calls do not add up), sets the visibility timeout
of every message of the batch back to the full timeout, succeeded ones included, with
ChangeMessageVisibilityBatch on the one batching engine
(`VisibilityChanges`). A message thus always has at
least two thirds of the timeout left. A record that fails leaves the set at once (it is to be
delivered again); with ``retry_delay`` it stays until its delay is set, as the batch ends. The
thread stops when the batch is done, and altogether once the invocation's deadline is within
the processor's deadline margin, so nothing outlives the invocation. A batch that finishes
within a third of the timeout makes no call.

As the batch ends (`VisibilityHeartbeat.holds`), when the heartbeat did extend, the
messages of the succeeded records that Lambda deletes (the native response; delete mode when
every record succeeded) are left invisible for `HOLD_SECONDS` (or the queue's timeout when
longer), unless what is left of their last extension already covers that: Lambda deletes them
once the function has returned. In delete mode with failures the layer deletes them itself,
right away. The failed records come back as before: after their retry delay, or when their
last extension lapses.

The timeout is ``visibility_timeout=`` when given, else the queue's ``VisibilityTimeout``, read
with GetQueueAttributes once per queue per process (the role then needs
``sqs:GetQueueAttributes`` besides ``sqs:ChangeMessageVisibility``).

Example:
    ```python
    processor = BatchProcessor(
        EventType.SQS, extend_visibility=True, visibility_timeout=30
    )
    ```
"""

from __future__ import annotations

import logging
import threading
import time

from ..handlers import is_awaitable
from .hooks import Feature

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional, Sequence

    from ...core.clients import ClientProvider
    from ...core.deadline import Deadline
    from ...core.retry import RetryPolicy
    from ..batch import Batch, Outcome
    from .hooks import FeatureSettings

logger = logging.getLogger("lambda_batch.processing")

#: The shortest wait between two heartbeats (a queue with a 1 s visibility timeout).
MIN_INTERVAL = 0.2
#: Seconds a succeeded message stays invisible at least after its batch, once the heartbeat has
#: extended it, so that Lambda deletes it (once the function returns) before anyone receives it.
HOLD_SECONDS = 30

_timeouts_lock = threading.Lock()
_queue_timeouts: Dict[str, int] = {}


def queue_visibility_timeout(
    queue_arn: str, clients: ClientProvider, retry_policy: RetryPolicy, deadline: Deadline
) -> int:
    """The queue's ``VisibilityTimeout``, read once per queue per process (GetQueueAttributes)."""
    known = _queue_timeouts.get(queue_arn)
    if known is not None:
        return known
    from ...core.arns import parse_arn, sqs_queue_url
    from ...core.client_config import timeout_bucket

    url = sqs_queue_url(queue_arn)
    region = parse_arn(queue_arn).region

    def call(_attempt: int) -> Any:
        client = clients.get(region, timeout_bucket(deadline.remaining()))
        return client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])

    response = retry_policy.run(call, deadline)
    seconds = int(response["Attributes"]["VisibilityTimeout"])
    with _timeouts_lock:
        _queue_timeouts[queue_arn] = seconds
    return seconds


class VisibilityHeartbeat:
    """Keeps a batch's messages invisible until the batch is over.

    ``records`` are SQS records (``eventSourceARN``, ``messageId``, ``receiptHandle``);
    ``timeouts`` the visibility timeout of each queue (by ARN); ``stop_at`` the
    ``time.monotonic()`` at which the heartbeat stops whatever is left.

    Example:
        ```python
        heartbeat = VisibilityHeartbeat(
            records, {arn: 30}, clients, policy, deadline, stop_at=stop
        )
        heartbeat.start()
        # heartbeat.finished(record["messageId"]) as one fails
        ...
        heartbeat.stop()
        timeouts = heartbeat.holds(records, succeeded_positions)  # position -> seconds
        ```
    """

    def __init__(
        self,
        records: Sequence[Any],
        timeouts: Dict[str, int],
        clients: ClientProvider,
        retry_policy: RetryPolicy,
        deadline: Deadline,
        *,
        stop_at: float,
        on_calls: Optional[Callable[[int], None]] = None,
    ) -> None:
        self._pending: Dict[str, Any] = {str(record["messageId"]): record for record in records}
        self._timeouts = timeouts
        self._clients = clients
        self._policy = retry_policy
        self._deadline = deadline
        self._stop_at = stop_at
        self._on_calls = on_calls
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.calls = 0
        self.extended = 0
        #: ``time.monotonic()`` at the start of the last heartbeat (``None`` before the first).
        self.last_beat: Optional[float] = None

    @property
    def interval(self) -> float:
        """Seconds between two heartbeats: a third of the shortest visibility timeout."""
        return max(MIN_INTERVAL, min(self._timeouts.values(), default=0) / 3.0)

    def start(self) -> None:
        """Start the thread (nothing when no queue has a visibility timeout worth extending)."""
        if self._thread is not None or not self._pending or not any(self._timeouts.values()):
            return
        self._thread = threading.Thread(target=self._run, name="lambda-batch-visibility", daemon=True)
        self._thread.start()

    def track(self, call: Callable[[Any], Any], keep_failed: bool) -> Callable[[Any], Any]:
        """``call`` that leaves the heartbeat when a record's handler (or awaitable) fails, unless
        ``keep_failed`` (its retry delay is set as the batch ends). A record that succeeds stays:
        its message is deleted only after the batch."""
        if keep_failed:
            return call
        return _tracked(call, self.finished)

    def finished(self, message_id: str) -> None:
        """The message of ``message_id`` is no longer extended."""
        with self._lock:
            self._pending.pop(message_id, None)

    def stop(self) -> None:
        """Stop extending, and wait for a heartbeat in flight to end."""
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def holds(self, records: Sequence[Any], positions: Sequence[int]) -> Dict[int, int]:
        """After `stop`: position -> visibility timeout for those of the succeeded records at
        ``positions`` whose messages need holding until Lambda deletes them.

        None when the heartbeat never extended (the messages are as Lambda received them) or
        the deadline margin is reached; else each message still in the heartbeat whose last
        extension leaves less than `HOLD_SECONDS`, with ``max(timeout, HOLD_SECONDS)``.
        """
        last = self.last_beat
        now = time.monotonic()
        if last is None or now >= self._stop_at:
            return {}
        with self._lock:
            pending = set(self._pending)
        holds: Dict[int, int] = {}
        for index in positions:
            record = records[index]
            timeout = self._timeouts.get(record["eventSourceARN"], 0)
            if timeout and timeout - (now - last) < HOLD_SECONDS and str(record["messageId"]) in pending:
                holds[index] = max(timeout, HOLD_SECONDS)
        return holds

    def _run(self) -> None:
        interval = self.interval
        next_beat = time.monotonic() + interval
        while True:
            # Counted from the previous heartbeat's start: a slow call does not delay the next.
            wait = min(next_beat, self._stop_at) - time.monotonic()
            if self._stopped.wait(max(0.0, wait)) or time.monotonic() >= self._stop_at:
                return
            now = time.monotonic()
            next_beat = max(next_beat + interval, now)
            try:
                self._beat(now)
            except Exception as exc:  # a heartbeat never breaks the batch: the message may come back
                logger.warning("extending message visibility failed: %s", type(exc).__name__)

    def _beat(self, now: float) -> None:
        from ...core.deadline import Deadline
        from ..sqs_actions import VisibilityChanges, per_queue

        with self._lock:
            pending = list(self._pending.values())
        if not pending:
            return
        self.last_beat = now
        timeouts = self._timeouts
        messages = [(record, (timeouts.get(record["eventSourceARN"], 0),)) for record in pending]
        messages = [(record, args) for record, args in messages if args[0]]

        def counted(arn: str, stats: Any, count: int) -> None:
            self.calls += stats.calls
            if self._on_calls is not None:
                self._on_calls(stats.calls)

        # Each heartbeat ends well before the next one is due, and before the stop.
        deadline = Deadline(min(self._stop_at, now + self.interval))
        failed, _ = per_queue(
            VisibilityChanges,
            messages,
            clients=self._clients,
            retry_policy=self._policy,
            deadline=deadline,
            on_queue=counted,
        )
        self.extended += len(messages) - len(failed)
        for _arn, item in failed:
            logger.warning(
                "message %s: its visibility could not be extended (%s); it may be delivered again"
                " while its batch runs",
                item.record_id,
                item.code,
            )
            if not item.retryable:  # a stale receipt handle stays stale
                self.finished(str(item.record_id))


def _tracked(call: Callable[[Any], Any], finished: Callable[[str], None]) -> Callable[[Any], Any]:
    """``call`` that tells ``finished`` the record's message id when its handler (or awaitable) fails."""

    def tracked(record: Any) -> Any:
        try:
            result = call(record)
        except BaseException:
            finished(str(record["messageId"]))
            raise
        if is_awaitable(result):
            return _finish_on_failure(result, record, finished)
        return result

    return tracked


async def _finish_on_failure(awaitable: Any, record: Any, finished: Callable[[str], None]) -> Any:
    try:
        return await awaitable
    except BaseException:
        finished(str(record["messageId"]))
        raise


class Heartbeat(Feature):
    """``extend_visibility``: a heartbeat per batch while its records run; as the batch ends, the
    succeeded messages Lambda deletes are held invisible for that delete (``outcome.holds``, set by
    the retry delays in the same round of calls when ``retry_delay`` is on too)."""

    def __init__(
        self, settings: FeatureSettings, visibility_timeout: Optional[int], keep_failed: bool
    ) -> None:
        self.settings = settings
        self.visibility_timeout = visibility_timeout
        #: ``retry_delay`` is on: a failed message stays in the heartbeat until its delay is set.
        self.keep_failed = keep_failed
        self._running: Optional[VisibilityHeartbeat] = None
        #: The heartbeat of the batch, once stopped: what ``holds`` the succeeded messages as it ends.
        self._ended: Optional[VisibilityHeartbeat] = None

    def start(self, batch: Batch, outcome: Outcome) -> None:
        self._ended = None
        if self._running is not None or not batch.records:
            return
        self._running = heartbeat = self._make(batch, outcome)
        heartbeat.start()

    def wrap(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        heartbeat = self._running
        return call if heartbeat is None else heartbeat.track(call, self.keep_failed)

    def stop(self, outcome: Outcome) -> None:
        heartbeat = self._running
        if heartbeat is not None:
            heartbeat.stop()
            self._running = None
            self._ended = heartbeat

    def before_response(self, batch: Batch, outcome: Outcome) -> None:
        heartbeat, self._ended = self._ended, None
        if heartbeat is None:
            return
        succeeded = outcome.succeeded_positions(len(batch.records))
        lambda_deletes = not self.settings.delete_mode or len(succeeded) == len(batch.records)
        holds = heartbeat.holds(batch.records, succeeded) if lambda_deletes else {}
        outcome.holds.update(holds)
        if not self.keep_failed and holds:  # no retry delays to set in the same round
            from .retry_delays import change_visibility

            change_visibility(self.settings, batch, outcome, dict(holds), holds)

    def _make(self, batch: Batch, outcome: Outcome) -> VisibilityHeartbeat:
        settings = self.settings
        clients, policy = settings.sqs.clients, settings.sqs.policy
        margin = settings.margin if settings.margin is not None else policy.deadline_margin
        deadline = batch.deadline
        timeouts: Dict[str, int] = {}
        for arn in {record["eventSourceARN"] for record in batch.records}:
            if self.visibility_timeout is not None:
                timeouts[arn] = self.visibility_timeout
                continue
            try:
                timeouts[arn] = queue_visibility_timeout(arn, clients, policy, deadline)
            except Exception as exc:  # no heartbeat for this queue rather than no batch
                settings.logger.warning(
                    "extend_visibility: the VisibilityTimeout of %s could not be read (%s); its messages"
                    " are not extended (give visibility_timeout=, or allow sqs:GetQueueAttributes)",
                    arn,
                    type(exc).__name__,
                )

        def count(calls: int) -> None:
            outcome.count("VisibilityCalls", calls)

        return VisibilityHeartbeat(
            batch.records, timeouts, clients, policy, deadline, stop_at=deadline.at - margin, on_calls=count
        )


__all__ = ["HOLD_SECONDS", "MIN_INTERVAL", "Heartbeat", "VisibilityHeartbeat", "queue_visibility_timeout"]
