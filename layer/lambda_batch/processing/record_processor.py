"""The processing engine shared by :class:`BatchProcessor` and :class:`PartialSQSProcessor`.

Per batch it validates the records (a malformed event raises before any record is
handled), applies the ordering rule (FIFO message groups, stream shards), guards the
invocation's deadline, runs the record handler sequentially or with bounded
concurrency (threads, or asyncio for ``async def`` handlers), and keeps one result per
record, in record order. The subclasses only decide what to do with the failures.

The processor is made of one module per concept: this one binds a batch and runs it in
order (the hot path); ``batch_binding`` binds a batch (validation, record objects, ordering
rule, deadline); ``record_guards`` holds records back (ordering rule, deadline);
``concurrent_processing`` runs records on threads or asyncio tasks (loaded with the first
such batch); ``batch_outcomes`` says
what the batch came to (failed positions, logs, the error).
"""

from __future__ import annotations

import sys
import time

from ..errors import ConfigurationError
from .awaitables import run_awaitable, running_loop
from .base_processor import (
    FAIL,
    SUCCESS,
    BasePartialProcessor,
)
from .base_processor import logger as processing_logger
from .batch_binding import BatchBinding, check_options
from .batch_outcomes import BatchOutcomes
from .event_types import EventType
from .handler_signature import is_async_handler
from .ordering import CONTINUE
from .record_guards import RecordGuards, process_custom

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, List, Optional, Tuple

    from .base_processor import ProcessingResult
    from .ordering import KeyFunction

    Outcome = Tuple[int, Any]


#: Seconds kept in hand before the Lambda deadline: no record starts later than this.
DEFAULT_DEADLINE_MARGIN = 1.0


class RecordProcessor(BatchBinding, RecordGuards, BatchOutcomes, BasePartialProcessor):
    """Handle each record of a batch on its own; the base of the built-in processors.

    Options shared by every built-in processor:

    * ``model``: a pydantic model or data class the handler receives instead of the
      raw record dict; a record that fails validation is a per-record failure.
    * ``deadline_margin``: with a Lambda context, records not started when fewer than
      this many seconds remain are returned as failures instead of the whole batch
      timing out (``None`` switches the guard off).
    * ``max_concurrency``: above 1, records run on that many threads (or asyncio
      tasks for an ``async def`` handler); FIFO message groups and stream shards keep
      their order, results stay in record order.
    * ``skip_group_on_error`` (FIFO): return only the later records of a failed message
      group, instead of every later record.
    * ``stop_on_first_failure`` (streams, standard queues): return every record after
      the first failure unprocessed; Lambda would redeliver them anyway.
    * ``concurrency_key``: a function of the record giving its ordering key under
      concurrency (default: message group for FIFO, shard for streams, none for
      standard queues).
    * ``log_exception_messages``: failures are logged, and named in the error raised,
      by record id, exception type and a reason that never quotes the record nor a key
      it carries; ``True`` adds each exception's own message, which may quote the message
      body (``int(body)`` fails with ``invalid literal for int() ... '<the body>'``), and the
      S3 object keys of large payloads (chosen by the sender). The dispatchers' option of
      the same name adds their items' keys.
    * ``logger``: the ``logging.Logger`` failures are logged to (default: ``lambda_batch.processing``).
    * ``resolve_large_payloads`` (SQS): a record whose body is an S3 pointer (sent with
      ``large_payload_bucket=`` or by the AWS SQS/SNS Extended Client libraries) reaches the
      handler with the payload in ``record["body"]``, read from S3 just before its handler
      runs; a pointer that cannot be read fails its record. ``large_payload_buckets`` (required
      with it) names the buckets a pointer may name, ``large_payload_bucket_owner`` the account
      that must own them (default: the function's own), ``max_large_payload_bytes`` the largest
      payload read (default: a quarter of the function's memory). ``delete_large_payloads=True``
      deletes the objects of succeeded records (see :mod:`lambda_batch.processing.large_payloads`).

    A handler that returns an awaitable (a coroutine from a ``lambda`` around an
    ``async def``...) has it awaited before the record counts as a success.
    """

    _needs_receipt_handle = False
    #: SQS batches are processed as FIFO whatever their queue ARN says (SqsFifoPartialProcessor).
    _always_fifo = False
    #: Kinesis batches: hand each user record of a KPL aggregated record to the handler on its
    #: own (see :mod:`lambda_batch.processing.kinesis_deaggregation`); ``processor.kpl_deaggregation = False``
    #: hands the aggregated records over as they are.
    kpl_deaggregation = True
    #: Set while the sequential loop gets its record callable: it makes the record objects itself.
    _makes_inline = False

    def __init__(
        self,
        event_type: EventType,
        *,
        model: Any = None,
        deadline_margin: Optional[float] = DEFAULT_DEADLINE_MARGIN,
        max_concurrency: int = 1,
        skip_group_on_error: bool = False,
        stop_on_first_failure: bool = False,
        concurrency_key: Optional[KeyFunction] = None,
        log_exception_messages: bool = False,
        logger: Any = None,
        resolve_large_payloads: bool = False,
        delete_large_payloads: bool = False,
        large_payload_buckets: Optional[Iterable[str]] = None,
        large_payload_bucket_owner: Optional[str] = None,
        max_large_payload_bytes: Optional[int] = None,
    ) -> None:
        super().__init__()
        check_options(event_type, max_concurrency, deadline_margin, concurrency_key)
        self.event_type = event_type
        self.model = model
        self._converter = None
        if model is not None:
            from .typed_records import make_converter

            self._converter = make_converter(model)
        self.deadline_margin = deadline_margin
        self.max_concurrency = max_concurrency
        self.skip_group_on_error = skip_group_on_error
        self.stop_on_first_failure = stop_on_first_failure
        self.concurrency_key = concurrency_key
        self.log_exception_messages = bool(log_exception_messages)
        self.logger = logger if logger is not None else processing_logger
        self._large_payloads: Any = None  # a large_payloads.LargePayloadResolver when resolving
        if (
            resolve_large_payloads is not False
            or delete_large_payloads is not False
            or large_payload_buckets is not None
            or large_payload_bucket_owner is not None
            or max_large_payload_bytes is not None
        ):
            if event_type.is_stream:
                raise ConfigurationError("resolve_large_payloads is for EventType.SQS batches")
            from .large_payloads import make_resolver

            self._large_payloads = make_resolver(
                type(self).__name__,
                resolve_large_payloads,
                delete_large_payloads,
                buckets=large_payload_buckets,
                owner=large_payload_bucket_owner,
                max_bytes=max_large_payload_bytes,
                deadline=lambda: self._deadline,
                context=lambda: self.lambda_context,
                log=self.logger,
            )
            if self._large_payloads is not None:  # object keys are the sender's: named only when asked
                self._large_payloads.reveal_keys = self.log_exception_messages
        self._reset_batch()

    def _prepare(self) -> None:
        """Nothing to set up: every call of the processor starts from a clean state."""

    # -- processing ------------------------------------------------------------------

    def process(self) -> List[ProcessingResult]:
        """Handle every record and return one result per record, in record order.

        Each result is ``("success", result, record)`` or
        ``("fail", "<ExceptionType>:<message>", record)``: for SQS and DynamoDB Streams a
        success keeps the event's own record dict (as ``success_messages`` does; the record
        object the handler received is made as it is called, and goes when the call ends).
        Records held back by the
        ordering rule or the deadline guard are failures too
        (:class:`~lambda_batch.PreviousRecordFailedError`,
        :class:`~lambda_batch.DeadlineReachedError`).
        """
        self._reset_run()
        if is_async_handler(self.handler):
            if running_loop() is not None:
                raise ConfigurationError(
                    "an async record handler inside a running event loop:"
                    " use `await processor.async_process()`"
                )
            return run_awaitable(self._process_async())  # type: ignore[no-any-return]
        if type(self)._process_record is not RecordProcessor._process_record:
            results = self._process_custom()
        elif self.max_concurrency > 1 and len(self.records) > 1:
            results = self._process_threaded()
        else:
            results = self._process_sequential()
        return self._finish(results)

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
        from .concurrent_processing import process_async  # loaded with the first async batch

        return await process_async(self)

    def _process_threaded(self) -> List[ProcessingResult]:
        from .concurrent_processing import process_threaded  # loaded with the first concurrent batch

        return process_threaded(self)

    def _tasks_in_flight(self, lanes: int) -> int:
        """How many asyncio tasks run the lanes of an async batch."""
        return self.max_concurrency

    def _process_record(self, record: Any) -> ProcessingResult:
        """Handle one record: ``success_handler`` with its result, or ``failure_handler``."""
        try:
            result = self._record_callable()(record)
        except Exception:
            return self.failure_handler(record, sys.exc_info())
        return self.success_handler(record, result)

    def _record_callable(self) -> Callable[[Any], Any]:
        handler = self.handler
        convert = self._converter
        if self._make_record is not None and not self._makes_inline:  # (no model then)
            convert = self._make_record
        if self._guard is not None:  # corrupt KPL aggregates fail before the handler is called
            convert = self._guard(convert)
        if self._large_payloads is not None:  # each record's payload fetched just before its handler
            return self._large_payloads.wrap(handler, convert)  # type: ignore[no-any-return]
        if convert is None:
            return handler

        def call(record: Any) -> Any:
            return handler(convert(record))

        return call

    def _process_sequential(self) -> List[ProcessingResult]:
        # The hot path: the clock read once per record, ordering checks on locals (the rule
        # itself worked out at the first failure), and
        # success_handler inlined unless a subclass overrides it (success_messages are then
        # listed when first read).
        make = self._make_record
        self._makes_inline = make is not None
        try:
            call = self._record_callable()  # without the record objects: made in the loop below
        finally:
            self._makes_inline = False
        inline_success = type(self).success_handler is BasePartialProcessor.success_handler
        on_success = self.success_handler
        on_failure = self.failure_handler
        failures = self._failures
        clock = time.monotonic
        cutoff = self._cutoff
        key_of: Any = None  # the ordering key, read at the first failure (skip_group_on_error)
        kept = self._kept_records  # de-aggregated KPL records: successes keep their aggregate's record
        failed_keys = self._failed_keys
        results: List[ProcessingResult] = []
        append = results.append
        success = SUCCESS
        halted = False
        for record in self.records:  # one result per record: its index is len(results)
            if halted or (failed_keys and key_of(record) in failed_keys) or clock() >= cutoff:
                index = len(results)
                failures.append(index)
                held = record if make is None else make(record)
                append(on_failure(held, self._skip_info(index, record)))
                continue
            handed = record if make is None else make(record)
            try:
                result = call(handed)
                if result is not None and getattr(type(result), "__await__", None) is not None:
                    result = run_awaitable(result)  # a coroutine is never a success unawaited
            except Exception:
                info = sys.exc_info()
                index = len(results)
                failures.append(index)
                self._log_failure(index, info)
                append(on_failure(handed, info))
                ordering = self._ordering  # worked out at the first failure
                if ordering.on_failure is not CONTINUE:
                    key_of = ordering.key
                    self._note_failure(index, record)
                    halted = self._stopped_by is not None
                continue
            if inline_success:
                append((success, result, record if kept is None else kept[len(results)]))
            else:
                append(on_success(record, result))
        if inline_success:  # success_messages: made from the records and the failures when first read
            self._defer_successes(failures)
        return results

    def _defer_successes(self, failures: List[int]) -> None:
        """``success_messages``: made from the records (or what results keep) when first read."""
        kept = self._kept_records
        records = self.records if kept is None else kept
        self._pending_successes = (records, failures)  # type: ignore[assignment]

    def _process_custom(self) -> List[ProcessingResult]:
        return process_custom(self)


__all__ = ["DEFAULT_DEADLINE_MARGIN", "FAIL", "RecordProcessor", "running_loop"]
