"""The run modes of a batch: sequential, a subclass's own ``_process_record``, threads, asyncio.

Each takes the invocation's `Batch` and
`Outcome` and a `Calls` (the record callable and
the processor's handlers), never the processor, and returns one result per record, in record
order. Every mode keeps the same guards: a record is held back (returned unprocessed, never
handed to the handler) when an earlier record failed and the ordering rule stops the batch
(FIFO by default, or ``stop_on_first_failure``), when an earlier record of its message group
failed (``skip_group_on_error``), or when it would start within the deadline margin; it fails
with `PreviousRecordFailedError` or `DeadlineReachedError`.

Under concurrency records run in lanes: the records of one ordering key (a FIFO message group,
a stream shard) one after the other in their lane, lanes side by side, at most
``max_concurrency`` at once. The outcomes go through ``success_handler`` / ``failure_handler``
in record order once every lane is done, ``failure_handler`` inside an ``except`` of the
record's exception (as on the sequential path), so ``sys.exc_info()`` sees it.

Example:
    ```python
    results = run_sequential(batch, outcome, Calls(call, logger=logger))
    ```
"""

from __future__ import annotations

import sys
import time

from ..errors import LambdaBatchError, exception_reason
from .base import FAIL, SUCCESS
from .batch import CONTINUE, SKIP_KEY, STOP_BATCH
from .handlers import is_awaitable, run_awaitable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple

    from ..errors import ExceptionInfo
    from .base import ProcessingResult
    from .batch import Batch, Outcome

    RecordOutcome = Tuple[int, Any]

# Outcome kinds of a record run under concurrency.
_OK = 0
_FAILED = 1
_SKIPPED = 2


class Calls:
    """What a run calls: the record callable, and the processor's handlers when it overrides them.

    ``on_success`` / ``on_failure``: a subclass's ``success_handler`` / ``failure_handler``
    (``None``: the outcome is kept directly, as the base handlers would); ``failure_handler``:
    the processor's, always (for the concurrent and custom runs); ``logger`` gets the failures.
    """

    __slots__ = (
        "call",
        "failure_handler",
        "log_messages",
        "logger",
        "margin",
        "on_failure",
        "on_success",
        "success_handler",
    )

    def __init__(
        self,
        call: Callable[[Any], Any],
        *,
        logger: Any,
        success_handler: Callable[[Any, Any], Any],
        failure_handler: Callable[[Any, Any], Any],
        on_success: Optional[Callable[[Any, Any], Any]] = None,
        on_failure: Optional[Callable[[Any, Any], Any]] = None,
        log_messages: bool = False,
        margin: Optional[float] = None,
    ) -> None:
        self.call = call
        self.logger = logger
        self.success_handler = success_handler
        self.failure_handler = failure_handler
        self.on_success = on_success
        self.on_failure = on_failure
        self.log_messages = log_messages
        self.margin = margin


def log_failure(batch: Batch, calls: Calls, index: int, info: ExceptionInfo) -> None:
    """Log a failed record: its id, the exception type and a reason that never quotes the record
    (unless ``log_exception_messages``); the traceback names code lines, not data."""
    exc_type, exc_value, _ = info
    messages = calls.log_messages
    reason = ""
    if messages or isinstance(exc_value, LambdaBatchError) or type(exc_value).__name__ == "ValidationError":
        reason = exception_reason(exc_value, messages)
    if not reason and exc_value is not None and str(exc_value):
        reason = "message not logged, it may quote the record (log_exception_messages=True logs it)"
    ids = batch.ids
    calls.logger.warning(
        "record %s failed: %s: %s",
        ids[index] if index < len(ids) else f"#{index}",
        exc_type.__name__ if exc_type is not None else "Exception",
        reason,
        exc_info=exc_value if messages else None,  # a traceback ends with the message
    )


# -- guards ------------------------------------------------------------------------------


def must_skip(batch: Batch, outcome: Outcome, index: int, record: Any) -> bool:
    """Whether ``record`` is held back (ordering rule after a failure, or the deadline)."""
    # Under concurrency a record may start after a later record failed: only the records
    # after the failure are held back (those before it run, as they would in order).
    if outcome.stopped_by is not None and index > outcome.stopped_by:
        return True
    if outcome.failed_keys:
        key = batch.ordering.key
        if key is not None and key(record) in outcome.failed_keys:
            return True
    return time.monotonic() >= batch.cutoff


def note_failure(batch: Batch, outcome: Outcome, index: int, record: Any) -> None:
    """A record failed: what the ordering rule holds back from now on."""
    ordering = batch.ordering
    mode = ordering.on_failure
    if mode == STOP_BATCH:
        if outcome.stopped_by is None or index < outcome.stopped_by:
            outcome.stopped_by = index
    elif mode == SKIP_KEY and ordering.key is not None:
        outcome.failed_keys.setdefault(ordering.key(record), index)


def skip_info(batch: Batch, outcome: Outcome, index: int, record: Any, calls: Calls) -> ExceptionInfo:
    """The exception of a held-back record: which record failed first, or the deadline."""
    from ..errors import DeadlineReachedError, PreviousRecordFailedError

    outcome.skipped += 1
    exc: Exception
    key = batch.ordering.key if outcome.failed_keys else None
    if outcome.stopped_by is not None and index > outcome.stopped_by:
        failed = batch.ids[outcome.stopped_by]
        exc = PreviousRecordFailedError(f"not processed: record {failed} failed earlier in this batch")
    elif key is not None and key(record) in outcome.failed_keys:
        failed = batch.ids[outcome.failed_keys[key(record)]]
        group = ""
        if calls.log_messages and batch.ordering.fifo:  # the group id is the sender's: named only when asked
            fifo_key: Any = key(record)  # the FIFO key: (queue ARN, message group)
            group = f" of message group {fifo_key[1]!r}"
        exc = PreviousRecordFailedError(f"not processed: record {failed}{group} failed earlier")
    else:
        exc = DeadlineReachedError(
            f"not started: {max(0.0, batch.remaining_at - time.monotonic()):.3f}s of the invocation left, "
            f"under the deadline margin of {calls.margin}s"
        )
    return (type(exc), exc, None)


# -- sequential --------------------------------------------------------------------------


def run_sequential(batch: Batch, outcome: Outcome, calls: Calls) -> List[ProcessingResult]:
    """One record after another, the clock read once per record, the ordering rule worked out at
    the first failure, the outcomes kept directly unless a subclass overrides the handlers
    (``success_messages`` is then made from the failures when first read)."""
    if batch.make_record is not None and batch.kept is None and calls.on_success is None:
        return run_plain(batch, outcome, calls)
    make = batch.make_record
    call = calls.call
    on_success = calls.on_success
    clock = time.monotonic
    cutoff = batch.cutoff
    kept = batch.kept  # de-aggregated KPL records: successes keep their aggregate's record
    results: List[ProcessingResult] = []
    append = results.append
    for record in batch.records:  # one result per record: its index is len(results)
        if _held(batch, outcome, record) or clock() >= cutoff:
            append(_hold_back(batch, outcome, calls, record, index=len(results)))
            continue
        handed = record if make is None else make(record)
        try:
            result = call(handed)
            # handlers.is_awaitable, written out: the hot path makes no call for a plain result
            if result is not None and getattr(type(result), "__await__", None) is not None:
                result = run_awaitable(result)  # a coroutine is never a success unawaited
        except Exception:
            append(_failed(batch, outcome, calls, record, handed=handed, index=len(results)))
            continue
        if on_success is None:
            append((SUCCESS, result, record if kept is None else kept[len(results)]))
        else:
            append(on_success(record, result))
    if on_success is None:  # success_messages: made from the records and the failures when first read
        outcome.pending_successes = (batch.records if kept is None else kept, outcome.failures)
    return results


def _held(batch: Batch, outcome: Outcome, record: Any) -> bool:
    """Whether the ordering rule holds ``record`` back after an earlier failure."""
    if outcome.stopped_by is not None:
        return True
    return bool(outcome.failed_keys) and batch.ordering.key(record) in outcome.failed_keys  # type: ignore[misc]


def run_plain(batch: Batch, outcome: Outcome, calls: Calls) -> List[ProcessingResult]:
    """The hot path of `run_sequential` (an SQS or DynamoDB list, the base success handler):
    each record object made as the loop reaches it, no per-record option check."""
    call = calls.call
    failures = outcome.failures
    clock = time.monotonic
    cutoff = batch.cutoff
    key_of: Any = None  # the ordering key, read at the first failure (skip_group_on_error)
    failed_keys = outcome.failed_keys
    records = batch.records
    results: List[ProcessingResult] = []
    append = results.append
    success = SUCCESS
    halted = False
    make: Any = batch.make_record
    for record in records:
        handed = make(record)
        if halted or (failed_keys and key_of(record) in failed_keys) or clock() >= cutoff:
            append(_hold_back(batch, outcome, calls, record, index=len(results), held=handed))
            continue
        try:
            result = call(handed)
            # handlers.is_awaitable, written out: the hot path makes no call for a plain result
            if result is not None and getattr(type(result), "__await__", None) is not None:
                result = run_awaitable(result)  # a coroutine is never a success unawaited
        except Exception:
            index = len(results)
            append(_failed(batch, outcome, calls, record, handed=handed, index=index))
            if outcome.stopped_by is not None or outcome.failed_keys:
                key_of = batch.ordering.key
                halted = outcome.stopped_by is not None
            continue
        append((success, result, record))
    outcome.pending_successes = (records, failures)  # success_messages: made when first read
    return results


def _failed(
    batch: Batch, outcome: Outcome, calls: Calls, record: Any, *, handed: Any, index: int
) -> ProcessingResult:
    """A record whose handler raised (called inside the ``except``): logged, kept, and what the
    ordering rule holds back from now on."""
    info: Any = sys.exc_info()
    outcome.failures.append(index)
    log_failure(batch, calls, index, info)
    entry = _fail(handed, info, calls.on_failure, outcome.exceptions, outcome.fail_messages)
    if batch.ordering.on_failure is not CONTINUE:  # the rule worked out at the first failure
        note_failure(batch, outcome, index, record)
    return entry


def _hold_back(
    batch: Batch, outcome: Outcome, calls: Calls, record: Any, *, index: int, held: Any = None
) -> ProcessingResult:
    """A record held back (ordering rule, deadline): a failure that names why."""
    outcome.failures.append(index)
    if held is None:
        held = record if batch.make_record is None else batch.make_record(record)
    info = skip_info(batch, outcome, index, record, calls)
    return _fail(held, info, calls.on_failure, outcome.exceptions, outcome.fail_messages)


def _fail(
    record: Any,
    info: ExceptionInfo,
    on_failure: Optional[Callable[[Any, Any], Any]],
    exceptions: List[ExceptionInfo],
    fail_messages: List[Any],
) -> ProcessingResult:
    """A failure kept as the base ``failure_handler`` keeps it (or by a subclass's own)."""
    if on_failure is not None:
        return on_failure(record, info)  # type: ignore[no-any-return]
    exceptions.append(info)
    fail_messages.append(record)
    exc_type, exc_value, _ = info
    return (FAIL, f"{exc_type.__name__ if exc_type is not None else 'Exception'}:{exc_value}", record)


# -- a subclass's own _process_record, and outcomes decided before the batch ---------------


def run_custom(
    batch: Batch, outcome: Outcome, calls: Calls, process_record: Callable[[Any], Any]
) -> List[ProcessingResult]:
    """``process_record`` (a subclass's ``_process_record``, or the record callable around the
    handlers) over the batch, inside the ordering rule and the deadline guard; records whose
    outcome a feature preset are not handed to it."""
    outcome.failures_known = False
    preset = outcome.preset
    make = batch.make_record
    results: List[ProcessingResult] = []
    for index, record in enumerate(batch.records):
        if index in preset:
            succeeded, value = preset[index]
            handed = record if make is None else make(record)
            entry = (
                calls.success_handler(handed, value) if succeeded else calls.failure_handler(handed, value)
            )
            if not succeeded:
                note_failure(batch, outcome, index, record)
            results.append(entry)
            continue
        if must_skip(batch, outcome, index, record):
            results.append(calls.failure_handler(record, skip_info(batch, outcome, index, record, calls)))
            continue
        handed = record if make is None else make(record)
        try:
            entry = process_record(handed)
        except Exception:  # the record callable's own failure (a large payload not read...)
            info = sys.exc_info()
            log_failure(batch, calls, index, info)
            note_failure(batch, outcome, index, record)
            results.append(calls.failure_handler(handed, info))
            continue
        if isinstance(entry, tuple) and entry and entry[0] != SUCCESS:
            note_failure(batch, outcome, index, record)
        results.append(entry)
    return results


def converted(
    handler: Callable[[Any], Any], convert: Callable[[Any], Any], is_async: bool
) -> Callable[[Any], Any]:
    """``handler(convert(record))``, itself ``async def`` for an async handler (features see it so)."""
    if is_async:

        async def call_async(record: Any) -> Any:
            return await handler(convert(record))

        return call_async

    def call(record: Any) -> Any:
        return handler(convert(record))

    return call


def handled_by_call(calls: Calls) -> Callable[[Any], Any]:
    """``_process_record`` of the base processor: the record callable, its outcome through the handlers."""
    call, on_success, on_failure = calls.call, calls.success_handler, calls.failure_handler

    def process_record(record: Any) -> Any:
        try:
            result = call(record)
        except Exception:
            return on_failure(record, sys.exc_info())
        return on_success(record, result)

    return process_record


# -- threads and asyncio -----------------------------------------------------------------


def run_threaded(
    batch: Batch, outcome: Outcome, calls: Calls, max_concurrency: int
) -> List[ProcessingResult]:
    """The records on ``max_concurrency`` threads, lane by lane; the results in record order."""
    records = batch.records
    call = calls.call
    outcomes: List[Optional[RecordOutcome]] = [None] * len(records)

    def step(index: int) -> None:
        record = records[index]
        if must_skip(batch, outcome, index, record):
            outcomes[index] = (_SKIPPED, None)
            return
        try:
            result = call(record)
            if result is not None and is_awaitable(result):
                result = run_awaitable(result)  # this worker thread's own event loop
        except Exception:
            outcomes[index] = (_FAILED, sys.exc_info())
            note_failure(batch, outcome, index, record)
        else:
            outcomes[index] = (_OK, result)

    from .lanes import build_lanes, run_in_threads

    run_in_threads(build_lanes(records, batch.ordering.key), step, max_concurrency)
    return settle(batch, outcome, calls, outcomes)


async def run_async(
    batch: Batch, outcome: Outcome, calls: Calls, tasks: Callable[[int], int]
) -> List[ProcessingResult]:
    """The records as asyncio tasks (``tasks(lanes)`` at most at once), lane by lane; results in order."""
    records = batch.records
    call = calls.call
    outcomes: List[Optional[RecordOutcome]] = [None] * len(records)

    async def step(index: int) -> None:
        record = records[index]
        if must_skip(batch, outcome, index, record):
            outcomes[index] = (_SKIPPED, None)
            return
        try:
            result = call(record)
            if result is not None and is_awaitable(result):
                result = await result
        except Exception:
            outcomes[index] = (_FAILED, sys.exc_info())
            note_failure(batch, outcome, index, record)
        else:
            outcomes[index] = (_OK, result)

    from .lanes import build_lanes, run_in_tasks

    lanes = build_lanes(records, batch.ordering.key)
    await run_in_tasks(lanes, step, tasks(len(lanes)))
    return settle(batch, outcome, calls, outcomes)


def settle(
    batch: Batch, outcome: Outcome, calls: Calls, outcomes: List[Optional[RecordOutcome]]
) -> List[ProcessingResult]:
    """The outcomes of a concurrent run through the handlers, in record order."""
    results: List[ProcessingResult] = []
    kept = batch.kept if calls.on_success is None else None  # a caller's success_handler gets the record
    for index, (record, result) in enumerate(zip(batch.records, outcomes, strict=False)):
        if result is None or result[0] == _SKIPPED:
            outcome.failures.append(index)
            results.append(calls.failure_handler(record, skip_info(batch, outcome, index, record, calls)))
        elif result[0] == _OK:
            results.append(calls.success_handler(record if kept is None else kept[index], result[1]))
        else:
            outcome.failures.append(index)
            log_failure(batch, calls, index, result[1])
            results.append(fail_while_handled(calls.failure_handler, record, result[1]))
    return results


def fail_while_handled(failure_handler: Callable[[Any, Any], Any], record: Any, info: ExceptionInfo) -> Any:
    """``failure_handler`` called inside an ``except`` of the record's exception, as on the
    sequential path, so that ``sys.exc_info()`` (``sentry_sdk.capture_exception()``) sees it."""
    exc = info[1]
    if exc is None:
        return failure_handler(record, info)
    traceback = exc.__traceback__
    try:
        raise exc
    except BaseException:
        exc.__traceback__ = traceback  # as it was raised by the handler, not from here
        return failure_handler(record, info)


__all__ = [
    "Calls",
    "converted",
    "fail_while_handled",
    "log_failure",
    "must_skip",
    "note_failure",
    "run_async",
    "run_custom",
    "run_sequential",
    "run_threaded",
    "settle",
    "skip_info",
]
