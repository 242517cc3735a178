"""Records handled concurrently: on threads, or as asyncio tasks for ``async def`` handlers.

Records run in lanes (``concurrency.build_lanes``): the records of one ordering key (a FIFO
message group, a stream shard) run one after the other in their lane, lanes run side by
side, at most ``max_concurrency`` at once. Each outcome is kept by position; the results go
through ``success_handler`` / ``failure_handler`` in record order once every lane is done,
``failure_handler`` inside an ``except`` of the record's exception (as on the sequential
path), so ``sys.exc_info()`` and ``sentry_sdk.capture_exception()`` see it.

Example::

    results = processor._process_threaded()      # max_concurrency > 1
"""

from __future__ import annotations

import sys

from .awaitables import run_awaitable
from .base_processor import BasePartialProcessor
from .handler_signature import is_async_handler

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple

    from .base_processor import ProcessingResult
    from .exceptions import ExceptionInfo
    from .ordering import Ordering

    Outcome = Tuple[int, Any]

# Outcome kinds of a record run under concurrency.
_OK = 0
_FAILED = 1
_SKIPPED = 2


class ConcurrentProcessing(BasePartialProcessor):
    """The threaded and the asyncio runs of a batch."""

    records: List[Any]
    max_concurrency: int
    _ordering: Ordering
    _failures: List[int]

    if TYPE_CHECKING:  # provided by the processor this is part of

        def _reset_run(self) -> None: ...
        def _record_callable(self) -> Callable[[Any], Any]: ...
        def _must_skip(self, index: int, record: Any) -> bool: ...
        def _note_failure(self, index: int, record: Any) -> None: ...
        def _skip_info(self, index: int, record: Any) -> ExceptionInfo: ...
        def _log_failure(self, index: int, info: ExceptionInfo) -> None: ...
        def _finish(self, results: List[ProcessingResult]) -> List[ProcessingResult]: ...
        def process(self) -> List[ProcessingResult]: ...

    def async_process(self) -> Any:
        """Handle every record with an ``async def`` (or awaitable-returning) record handler.

        Called from synchronous code (a Lambda handler), it runs the batch on an event loop
        kept across warm invocations and returns the results, like :meth:`process`. Called
        inside a running event loop, it returns an awaitable of the results:
        ``results = await processor.async_process()``.

        Example::

            with processor(records, async_record_handler, lambda_context=context) as proc:
                results = proc.async_process()
        """
        if running_loop() is not None:
            return self._process_async()
        if not is_async_handler(self.handler):
            return self.process()  # awaitable results are awaited there, record by record
        return run_awaitable(self._process_async())

    async def _process_async(self) -> List[ProcessingResult]:
        from .concurrency import build_lanes, run_in_tasks

        self._reset_run()
        records = self.records
        call = self._record_callable()
        outcomes: List[Optional[Outcome]] = [None] * len(records)

        async def step(index: int) -> None:
            record = records[index]
            if self._must_skip(index, record):
                outcomes[index] = (_SKIPPED, None)
                return
            try:
                result = call(record)
                if result is not None and getattr(type(result), "__await__", None) is not None:
                    result = await result
            except Exception:
                outcomes[index] = (_FAILED, sys.exc_info())
                self._note_failure(index, record)
            else:
                outcomes[index] = (_OK, result)

        lanes = build_lanes(records, self._ordering.key)
        await run_in_tasks(lanes, step, self._tasks_in_flight(len(lanes)))
        return self._finish(self._settle(outcomes))

    def _tasks_in_flight(self, lanes: int) -> int:
        """How many asyncio tasks run the lanes of an async batch."""
        return self.max_concurrency

    def _process_threaded(self) -> List[ProcessingResult]:
        from .concurrency import build_lanes, run_in_threads

        records = self.records
        call = self._record_callable()
        outcomes: List[Optional[Outcome]] = [None] * len(records)

        def step(index: int) -> None:
            record = records[index]
            if self._must_skip(index, record):
                outcomes[index] = (_SKIPPED, None)
                return
            try:
                result = call(record)
                if result is not None and getattr(type(result), "__await__", None) is not None:
                    result = run_awaitable(result)  # this worker thread's own event loop
            except Exception:
                outcomes[index] = (_FAILED, sys.exc_info())
                self._note_failure(index, record)
            else:
                outcomes[index] = (_OK, result)

        run_in_threads(build_lanes(records, self._ordering.key), step, self.max_concurrency)
        return self._settle(outcomes)

    def _settle(self, outcomes: List[Optional[Outcome]]) -> List[ProcessingResult]:
        # Results of a concurrent run go through success_handler / failure_handler in record order.
        results: List[ProcessingResult] = []
        for index, (record, outcome) in enumerate(zip(self.records, outcomes)):
            if outcome is None or outcome[0] == _SKIPPED:
                self._failures.append(index)
                results.append(self.failure_handler(record, self._skip_info(index, record)))
            elif outcome[0] == _OK:
                results.append(self.success_handler(record, outcome[1]))
            else:
                self._failures.append(index)
                self._log_failure(index, outcome[1])
                results.append(self._fail_while_handled(record, outcome[1]))
        return results

    def _fail_while_handled(self, record: Any, info: ExceptionInfo) -> ProcessingResult:
        """``failure_handler`` called inside an ``except`` of the record's exception, as on the
        sequential path, so that ``sys.exc_info()`` (``sentry_sdk.capture_exception()``) sees it."""
        exc = info[1]
        if exc is None:
            return self.failure_handler(record, info)
        traceback = exc.__traceback__
        try:
            raise exc
        except BaseException:
            exc.__traceback__ = traceback  # as it was raised by the handler, not from here
            return self.failure_handler(record, info)


def running_loop() -> Any:
    """The event loop running in this thread, or ``None`` (asyncio only loaded when needed)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
