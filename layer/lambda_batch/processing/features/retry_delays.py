"""Per-record retry delays for failed SQS messages: visibility from the receive count.

A failed message comes back after the queue's whole visibility timeout, whatever its history.
With ``retry_delay=RetryDelay(...)`` a processor sets, for each failed record, the message's
visibility timeout to ``min(max_seconds, initial_seconds * multiplier ** (receive_count - 1))``
seconds (``receive_count`` is the record's ``ApproximateReceiveCount``; with ``jitter=True`` a
whole number drawn uniformly from 0 to that), capped at the SQS maximum of 12 hours. The
changes are ChangeMessageVisibilityBatch calls on the one batching engine
(`VisibilityChanges`): 10 entries a call, one queue (and its
region, from the record's ARN) per call, the retry policy and the deadline. A change that
fails is logged and counted; the message then comes back after the queue's visibility
timeout, as it would have anyway: it is never deleted nor lost.

FIFO queues: a message kept invisible holds its message group (SQS hands out no later message
of the group meanwhile), so the group waits, in order. The delay of a failed record is also
given to the later records of its group that were held back unprocessed, so the group comes
back together and in order. Records held back for another reason (another group's failure,
the deadline guard) are not delayed: they did not fail.

The function's role needs ``sqs:ChangeMessageVisibility`` on the queue (it authorizes
ChangeMessageVisibilityBatch too).

Example:
    ```python
    from lambda_batch import BatchProcessor, EventType, RetryDelay

    processor = BatchProcessor(
        EventType.SQS, retry_delay=RetryDelay(initial_seconds=2, max_seconds=300)
    )
    ```
"""

from __future__ import annotations

import math
import random

from ...core.limits import SQS_MAX_VISIBILITY_TIMEOUT
from ...errors import ConfigurationError
from .hooks import Feature

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Sequence

    from ...core.clients import ClientProvider
    from ...core.deadline import Deadline
    from ...core.retry import RetryPolicy
    from ..batch import Batch, Outcome
    from ..sqs_actions import DeleteFailure
    from .hooks import FeatureSettings


def _seconds(name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value <= SQS_MAX_VISIBILITY_TIMEOUT
    ):
        raise ConfigurationError(
            f"RetryDelay {name} must be a number of seconds from 0 to {SQS_MAX_VISIBILITY_TIMEOUT},"
            f" not {value!r}"
        )
    return float(value)


class RetryDelay:
    """How long a failed SQS message stays invisible before it is delivered again.

    ``initial_seconds`` at the first receive, times ``multiplier`` at each later one, at most
    ``max_seconds`` (at most 43,200: the SQS maximum); ``jitter=True`` (full jitter) draws a
    whole number of seconds uniformly from 0 to that, so that failures of one moment spread out.

    Example:
        ```python
        delay = RetryDelay(initial_seconds=2, max_seconds=60, jitter=False)
        [delay.seconds(count) for count in (1, 2, 3, 4, 9)]     # [2, 4, 8, 16, 60]
        ```
    """

    __slots__ = ("initial_seconds", "jitter", "max_seconds", "multiplier")

    def __init__(
        self,
        initial_seconds: float,
        max_seconds: float = SQS_MAX_VISIBILITY_TIMEOUT,
        multiplier: float = 2.0,
        jitter: bool = True,
    ) -> None:
        self.initial_seconds = _seconds("initial_seconds", initial_seconds)
        self.max_seconds = _seconds("max_seconds", max_seconds)
        if self.max_seconds < self.initial_seconds:
            raise ConfigurationError(
                f"RetryDelay max_seconds ({max_seconds!r}) is below initial_seconds ({initial_seconds!r})"
            )
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, (int, float))
            or not 1 <= multiplier < math.inf
        ):
            raise ConfigurationError(f"RetryDelay multiplier must be a number >= 1, not {multiplier!r}")
        if not isinstance(jitter, bool):
            raise ConfigurationError(f"RetryDelay jitter must be True or False, not {jitter!r}")
        self.multiplier = float(multiplier)
        self.jitter = jitter

    def ceiling(self, receive_count: int) -> float:
        """The delay before jitter for a message received ``receive_count`` times (1 or more)."""
        exponent = max(0, receive_count - 1)
        try:
            grown = self.initial_seconds * self.multiplier**exponent
        except OverflowError:
            grown = math.inf
        return min(self.max_seconds, grown, float(SQS_MAX_VISIBILITY_TIMEOUT))

    def seconds(self, receive_count: int, rand: Callable[[], float] = random.random) -> int:
        """The visibility timeout, in whole seconds, for a message received ``receive_count`` times."""
        ceiling = self.ceiling(receive_count)
        if self.jitter:
            return min(int(ceiling), int(rand() * (math.floor(ceiling) + 1)))
        return min(SQS_MAX_VISIBILITY_TIMEOUT, math.ceil(ceiling))

    def __repr__(self) -> str:
        return (
            f"RetryDelay(initial_seconds={self.initial_seconds:g}, max_seconds={self.max_seconds:g},"
            f" multiplier={self.multiplier:g}, jitter={self.jitter})"
        )


def receive_count(record: Any) -> int:
    """The record's ``ApproximateReceiveCount`` (1 when absent or unreadable)."""
    try:
        attributes = record["attributes"]
        count = int(attributes["ApproximateReceiveCount"])
    except (KeyError, TypeError, ValueError):
        return 1
    return max(1, count)


def delayed_positions(
    records: Sequence[Any],
    handler_failures: Sequence[int],
    held_back: Sequence[int],
    delay: RetryDelay,
    group_of: Any = None,
) -> Dict[int, int]:
    """Position -> visibility timeout for the records to delay.

    ``handler_failures`` are the records whose handler failed; ``held_back`` those returned
    unprocessed. ``group_of`` (FIFO: the message group of a record) gives a held-back record of a
    failed group the delay of that group (its longest).
    """
    timeouts = {index: delay.seconds(receive_count(records[index])) for index in handler_failures}
    if group_of is not None and held_back:
        group_delay: Dict[Any, int] = {}
        for index, seconds in timeouts.items():
            group = group_of(records[index])
            group_delay[group] = max(seconds, group_delay.get(group, 0))
        for index in held_back:
            group = group_of(records[index])
            if group in group_delay:
                timeouts[index] = group_delay[group]
    return timeouts


class VisibilityDelayer:
    """Sets the visibility timeout of the given records' messages, queue by queue.

    Example:
        ```python
        delayer = VisibilityDelayer(
            ClientProvider("sqs"), DEFAULT_RETRY_POLICY, deadline
        )
        failures = delayer.change(records, {0: 2, 3: 8})  # position -> seconds
        # ChangeMessageVisibilityBatch calls made
        delayer.calls
        ```
    """

    def __init__(
        self, clients: ClientProvider, retry_policy: RetryPolicy, deadline: Deadline, concurrency: int = 4
    ) -> None:
        self._clients = clients
        self.retry_policy = retry_policy
        self.deadline = deadline
        self.concurrency = concurrency
        self.calls = 0

    def change(self, records: Sequence[Any], timeouts: Dict[int, int]) -> List[DeleteFailure]:
        """Change each record's visibility; the messages not changed, with the AWS error code."""
        from ..sqs_actions import DeleteFailure, VisibilityChanges, per_queue

        calls = [0]

        def counted(arn: str, stats: Any, count: int) -> None:
            calls[0] += stats.calls

        try:
            failed, _ = per_queue(
                VisibilityChanges,
                ((records[index], (timeouts[index],)) for index in timeouts),
                clients=self._clients,
                retry_policy=self.retry_policy,
                deadline=self.deadline,
                concurrency=self.concurrency,
                on_queue=counted,
            )
        finally:
            self.calls += calls[0]
        return [DeleteFailure(str(item.record_id), arn, item.code, item.message) for arn, item in failed]


def retry_timeouts(
    batch: Batch, outcome: Outcome, delay: RetryDelay, failures_come_back: bool
) -> Dict[int, int]:
    """Position -> retry delay of the failed records whose messages come back."""
    from ...errors import RecordSkippedError
    from ..events.sqs import message_group_id

    failed = outcome.failed_positions()
    if not failed or not failures_come_back:
        return {}
    handler_failures: List[int] = []
    held_back: List[int] = []
    exceptions = outcome.exceptions
    if len(failed) == len(exceptions):
        for index, info in zip(failed, exceptions, strict=False):
            (held_back if isinstance(info[1], RecordSkippedError) else handler_failures).append(index)
    else:  # a custom processor's own results: every failure counts as a handler failure
        handler_failures = list(failed)
    return delayed_positions(
        batch.records, handler_failures, held_back, delay, message_group_id if batch.fifo else None
    )


def change_visibility(
    settings: FeatureSettings, batch: Batch, outcome: Outcome, timeouts: Dict[int, int], holds: Dict[int, int]
) -> None:
    """In one round of calls per queue: the retry delays and the heartbeat's ``holds`` (position ->
    seconds). What could not be changed is logged and kept in ``outcome.visibility_failures``."""
    if not timeouts:
        return
    logger = settings.logger
    delayer = VisibilityDelayer(settings.sqs.clients, settings.sqs.policy, batch.deadline)
    try:
        outcome.visibility_failures = delayer.change(batch.records, timeouts)
    except Exception as exc:  # never let a visibility change hide the processing outcome
        logger.error("changing message visibility failed: %s", type(exc).__name__)
    finally:
        outcome.count("VisibilityCalls", delayer.calls)
    if outcome.visibility_failures:
        _log_failures(logger, batch, outcome, holds)


class RetryDelays(Feature):
    """``retry_delay``: as the batch ends, each failed message's visibility set from its receive
    count (with the heartbeat's holds of succeeded messages, in the same round of calls)."""

    def __init__(self, settings: FeatureSettings, delay: RetryDelay) -> None:
        self.settings = settings
        self.delay = delay

    def before_response(self, batch: Batch, outcome: Outcome) -> None:
        holds = dict(outcome.holds)
        timeouts = dict(holds)
        timeouts.update(retry_timeouts(batch, outcome, self.delay, self.settings.failures_come_back()))
        change_visibility(self.settings, batch, outcome, timeouts, holds)


def _log_failures(logger: Any, batch: Batch, outcome: Outcome, holds: Dict[int, int]) -> None:
    held = {str(batch.records[index]["messageId"]) for index in holds}
    for failure in outcome.visibility_failures:
        if failure.message_id in held:
            logger.warning(
                "extend_visibility: message %s (%s) succeeded but was not kept invisible until"
                " Lambda deletes it: %s: %s; it may be delivered again",
                failure.message_id,
                failure.queue_arn,
                failure.code,
                failure.message,
            )
            continue
        logger.error(
            "retry_delay: the visibility of message %s (%s) was not changed: %s: %s; it comes back"
            " after the queue's visibility timeout",
            failure.message_id,
            failure.queue_arn,
            failure.code,
            failure.message,
        )


__all__ = [
    "RetryDelay",
    "RetryDelays",
    "VisibilityDelayer",
    "change_visibility",
    "delayed_positions",
    "receive_count",
    "retry_timeouts",
]
