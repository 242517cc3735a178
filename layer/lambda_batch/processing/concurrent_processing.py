"""Records handled concurrently: on threads, or as asyncio tasks for ``async def`` handlers.

Loaded with the first concurrent or async batch (a sequential batch never imports it).
Records run in lanes (``concurrency.build_lanes``): the records of one ordering key (a FIFO
message group, a stream shard) run one after the other in their lane, lanes run side by
side, at most ``max_concurrency`` at once. Each outcome is kept by position; the results go
through ``success_handler`` / ``failure_handler`` in record order once every lane is done,
``failure_handler`` inside an ``except`` of the record's exception (as on the sequential
path), so ``sys.exc_info()`` and ``sentry_sdk.capture_exception()`` see it.

Example::

    results = process_threaded(processor)      # max_concurrency > 1
"""

from __future__ import annotations

import sys

from .awaitables import run_awaitable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from ..errors import ExceptionInfo
    from .base_processor import ProcessingResult
    from .record_processor import RecordProcessor

    Outcome = Tuple[int, Any]

# Outcome kinds of a record run under concurrency.
_OK = 0
_FAILED = 1
_SKIPPED = 2


async def process_async(processor: RecordProcessor) -> List[ProcessingResult]:
    """Run the batch's records as asyncio tasks, lane by lane; the results in record order."""
    from .concurrency import build_lanes, run_in_tasks

    processor._reset_run()
    records = processor.records
    call = processor._record_callable()
    outcomes: List[Optional[Outcome]] = [None] * len(records)

    async def step(index: int) -> None:
        record = records[index]
        if processor._must_skip(index, record):
            outcomes[index] = (_SKIPPED, None)
            return
        try:
            result = call(record)
            if result is not None and getattr(type(result), "__await__", None) is not None:
                result = await result
        except Exception:
            outcomes[index] = (_FAILED, sys.exc_info())
            processor._note_failure(index, record)
        else:
            outcomes[index] = (_OK, result)

    lanes = build_lanes(records, processor._ordering.key)
    await run_in_tasks(lanes, step, processor._tasks_in_flight(len(lanes)))
    return processor._finish(settle(processor, outcomes))


def process_threaded(processor: RecordProcessor) -> List[ProcessingResult]:
    """Run the batch's records on ``max_concurrency`` threads, lane by lane; the results in record order."""
    from .concurrency import build_lanes, run_in_threads

    records = processor.records
    call = processor._record_callable()
    outcomes: List[Optional[Outcome]] = [None] * len(records)

    def step(index: int) -> None:
        record = records[index]
        if processor._must_skip(index, record):
            outcomes[index] = (_SKIPPED, None)
            return
        try:
            result = call(record)
            if result is not None and getattr(type(result), "__await__", None) is not None:
                result = run_awaitable(result)  # this worker thread's own event loop
        except Exception:
            outcomes[index] = (_FAILED, sys.exc_info())
            processor._note_failure(index, record)
        else:
            outcomes[index] = (_OK, result)

    run_in_threads(build_lanes(records, processor._ordering.key), step, processor.max_concurrency)
    return settle(processor, outcomes)


def settle(processor: RecordProcessor, outcomes: List[Optional[Outcome]]) -> List[ProcessingResult]:
    """The outcomes of a concurrent run through ``success_handler`` / ``failure_handler``, in record order."""
    from .base_processor import BasePartialProcessor

    results: List[ProcessingResult] = []
    kept = processor._kept_records  # de-aggregated KPL records: successes keep their aggregate's record
    if type(processor).success_handler is not BasePartialProcessor.success_handler:
        kept = None  # a success_handler of the caller's gets the record its handler got
    for index, (record, outcome) in enumerate(zip(processor.records, outcomes, strict=False)):
        if outcome is None or outcome[0] == _SKIPPED:
            processor._failures.append(index)
            results.append(processor.failure_handler(record, processor._skip_info(index, record)))
        elif outcome[0] == _OK:
            results.append(processor.success_handler(record if kept is None else kept[index], outcome[1]))
        else:
            processor._failures.append(index)
            processor._log_failure(index, outcome[1])
            results.append(fail_while_handled(processor, record, outcome[1]))
    return results


def fail_while_handled(processor: RecordProcessor, record: Any, info: ExceptionInfo) -> ProcessingResult:
    """``failure_handler`` called inside an ``except`` of the record's exception, as on the
    sequential path, so that ``sys.exc_info()`` (``sentry_sdk.capture_exception()``) sees it."""
    exc = info[1]
    if exc is None:
        return processor.failure_handler(record, info)
    traceback = exc.__traceback__
    try:
        raise exc
    except BaseException:
        exc.__traceback__ = traceback  # as it was raised by the handler, not from here
        return processor.failure_handler(record, info)


__all__ = ["fail_while_handled", "process_async", "process_threaded", "settle"]
