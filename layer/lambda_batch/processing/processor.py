"""The record processor: the options, binding a batch, running it, and the features' hooks.

``processor(records, handler, lambda_context)`` makes the invocation's ``Batch`` (every record
checked first: a malformed event raises `MalformedEventError` before any is handled) and a fresh
``Outcome`` (`lambda_batch.processing.batch`); ``process()`` hands them to a run mode
(`lambda_batch.processing.running`); the ``with`` block's exit lets the front build its response.
Features are objects on hooks (`lambda_batch.processing.features.hooks`), loaded only when on.

Example:
    ```python
    with processor(records, record_handler, lambda_context=context) as proc:
        proc.process()
    ```
"""

from __future__ import annotations

import functools

from ..errors import ConfigurationError, MalformedEventError
from .base import BasePartialProcessor
from .base import logger as processing_logger
from .batch import Batch, BatchOptions, Outcome
from .events.spec import EventType
from .handlers import accepts_lambda_context, is_async_handler, run_awaitable, running_loop
from .options import check_options
from .running import Calls, converted, handled_by_call, run_custom, run_sequential

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, List, Optional, Type

    from ..core.clients import ClientProvider
    from ..core.deadline import Deadline
    from ..core.retry import RetryPolicy
    from ..errors import ExceptionInfo
    from .base import ProcessingResult
    from .batch import KeyFunction
    from .features.hooks import Feature

#: Seconds kept in hand before the Lambda deadline: no record starts later than this.
DEFAULT_DEADLINE_MARGIN = 1.0


class RecordProcessor(BasePartialProcessor):
    """Handle each record of a batch on its own; the base of the built-in processors.

    Its options, shared by every built-in processor, are described in
    `lambda_batch.processing.options`.

    A handler that returns an awaitable (a coroutine from a ``lambda`` around an
    ``async def``...) has it awaited before the record counts as a success.
    """

    _needs_receipt_handle = False
    #: SQS batches are processed as FIFO whatever their queue ARN says (SqsFifoPartialProcessor).
    _always_fifo = False
    #: Kinesis batches: hand each user record of a KPL aggregated record to the handler on its
    #: own (see `lambda_batch.processing.events.kinesis`); ``processor.kpl_deaggregation = False``
    #: hands the aggregated records over as they are.
    kpl_deaggregation = True

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
        check_options(event_type, max_concurrency, deadline_margin, concurrency_key)
        self._outcome = Outcome()
        self.features: List[Feature] = []
        self._large_payloads: Any = None  # the LargePayloadResolver when resolving
        self._options = BatchOptions(
            event_type,
            model=model,
            deadline_margin=deadline_margin,
            skip_group_on_error=skip_group_on_error,
            stop_on_first_failure=stop_on_first_failure,
            concurrency_key=concurrency_key,
            always_fifo=self._always_fifo,
            needs_receipt_handle=self._needs_receipt_handle,
        )
        self._batch = Batch.empty(self._options)
        super().__init__()
        self.event_type = event_type
        self.model = model
        self._converter = None
        if model is not None:
            from .events.record import make_converter

            self._converter = make_converter(model)
        self.deadline_margin = deadline_margin
        self.max_concurrency = max_concurrency
        self.skip_group_on_error = skip_group_on_error
        self.stop_on_first_failure = stop_on_first_failure
        self.concurrency_key = concurrency_key
        self.log_exception_messages = bool(log_exception_messages)
        self.logger = logger if logger is not None else processing_logger
        self._seen_handler: Any = None
        self._calls_key: Any = None  # what the calls of the last sequential batch were made from
        self._sequential_calls: Optional[Calls] = None
        self._handler_traits = (False, False)  # (declares lambda_context, async def) of _seen_handler
        #: Every record needs a receipt handle (retry_delay and extend_visibility change visibility).
        self._needs_handles = False
        self._metrics: Any = None  # the BatchMetrics of metrics_namespace
        self._retry_delay: Any = None
        if (
            resolve_large_payloads is not False
            or delete_large_payloads is not False
            or large_payload_buckets is not None
            or large_payload_bucket_owner is not None
            or max_large_payload_bytes is not None
        ):
            self._init_large_payloads(
                resolve_large_payloads,
                delete_large_payloads,
                large_payload_buckets,
                large_payload_bucket_owner,
                max_large_payload_bytes,
            )

    def _init_large_payloads(
        self, resolve: Any, delete: Any, buckets: Any, owner: Any, max_bytes: Any
    ) -> None:
        from .options import large_payloads_feature

        feature = large_payloads_feature(
            type(self).__name__,
            self.event_type,
            (resolve, delete, buckets, owner, max_bytes),
            deadline=lambda: self._batch.deadline,
            context=lambda: self.lambda_context,
            logger=self.logger,
            reveal_keys=self.log_exception_messages,
            delete_mode=self._needs_receipt_handle,
        )
        if feature is not None:
            self._large_payloads = feature.resolver
            self.features.append(feature)
            self._options.objects_up_front = True  # the payload is written into the record object

    def _init_features(
        self,
        *,
        retry_delay: Any = None,
        extend_visibility: Any = False,
        visibility_timeout: Any = None,
        metrics_namespace: Any = None,
        metrics_dimensions: Any = None,
        clients: Optional[ClientProvider] = None,
        retry_policy: Optional[RetryPolicy] = None,
        delete_mode: bool = False,
    ) -> None:
        """Check and make the SQS visibility features and the batch metrics (after ``__init__``)."""
        if (retry_delay, extend_visibility, visibility_timeout, metrics_namespace, metrics_dimensions) == (
            None,
            False,
            None,
            None,
            None,
        ) and type(extend_visibility) is bool:
            return  # no feature: nothing of them is imported
        from .features.hooks import FeatureSettings, SqsAccess
        from .options import sqs_features

        self._sqs = SqsAccess(clients, retry_policy)
        settings = FeatureSettings(
            self._sqs,
            logger=self.logger,
            margin=self.deadline_margin,
            event_type=self.event_type,
            delete_mode=delete_mode,
            failures_come_back=lambda: not getattr(self, "suppress_exception", False),
        )
        features, self._metrics = sqs_features(
            settings,
            retry_delay=retry_delay,
            extend_visibility=extend_visibility,
            visibility_timeout=visibility_timeout,
            metrics_namespace=metrics_namespace,
            metrics_dimensions=metrics_dimensions,
        )
        self.features.extend(features)
        self._retry_delay = retry_delay
        self._needs_handles = retry_delay is not None or bool(extend_visibility)

    # -- the batch -------------------------------------------------------------------

    def __call__(self, records: List[Any], handler: Any, lambda_context: Any = None) -> Any:
        """Bind a batch: validate its records (`MalformedEventError` on any bad one)."""
        features = self.features
        if features:  # a batch never exited (no ``with``) leaves nothing running
            self._stop_features()
        if handler is not self._seen_handler:  # read once per handler
            self._seen_handler = handler
            self._handler_traits = (accepts_lambda_context(handler), is_async_handler(handler))
        self.lambda_context = lambda_context
        self.handler = (
            functools.partial(handler, lambda_context=lambda_context) if self._handler_traits[0] else handler
        )
        self._outcome = Outcome()
        options = self._options  # what may have been set on the processor since the last batch
        options.kpl_deaggregation = self.kpl_deaggregation
        options.deadline_margin = self.deadline_margin
        options.skip_group_on_error = self.skip_group_on_error
        options.stop_on_first_failure = self.stop_on_first_failure
        options.concurrency_key = self.concurrency_key
        try:
            self._batch = Batch(records, options, lambda_context)
        except BaseException:
            self._batch = Batch.empty(options)
            raise
        if self._needs_handles:
            self._check_receipt_handles()
        return self

    def _check_receipt_handles(self) -> None:
        batch = self._batch
        for index, record in enumerate(batch.records):
            if not record.get("receiptHandle"):
                raise MalformedEventError(
                    f"record {batch.ids[index]} has no receiptHandle: retry_delay and"
                    " extend_visibility change its message's visibility"
                )

    def __enter__(self) -> Any:
        if type(self)._prepare is not RecordProcessor._prepare:  # a subclass's own set-up
            self._prepare()
        return self

    def _prepare(self) -> None:
        """Nothing to set up: every call of the processor starts from a clean state."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if self.features:
            return self._exit_with_features(exc_type)
        if exc_type is None:
            self._clean()
            return None
        self._clean_after_error(exc_type)
        return None

    def _clean_after_error(self, exc_type: Type[BaseException]) -> None:
        # The block itself raised: still act on what was processed, but let that error
        # propagate rather than one raised while cleaning up.
        try:
            self._clean()
        except Exception as clean_error:
            processing_logger.warning(
                "while handling %s, cleaning up also failed: %s: %s",
                exc_type.__name__,
                type(clean_error).__name__,
                clean_error,
            )

    def _exit_with_features(self, exc_type: Any) -> None:
        batch, outcome = self._batch, self._outcome
        self._stop_features()
        try:
            if exc_type is None and outcome.processed:
                for feature in self.features:
                    self._hook(feature.before_response, batch, outcome)
            if exc_type is None:
                self._clean()
            else:
                self._clean_after_error(exc_type)
        finally:
            if outcome.processed:
                for feature in self.features:
                    self._hook(feature.after_batch, batch, outcome)

    def _hook(self, hook: Callable[[Batch, Outcome], None], batch: Batch, outcome: Outcome) -> None:
        try:
            hook(batch, outcome)
        except Exception as exc:  # a feature never hides the batch's outcome
            self.logger.warning(
                "%s failed: %s", getattr(hook, "__qualname__", "a feature"), type(exc).__name__
            )

    def _stop_features(self) -> None:
        for feature in self.features:
            feature.stop(self._outcome)

    # -- processing ------------------------------------------------------------------

    def process(self) -> List[ProcessingResult]:
        """Handle every record and return one result per record, in record order.

        Each result is ``("success", result, record)`` or
        ``("fail", "<ExceptionType>:<message>", record)``: for SQS and DynamoDB Streams a
        success keeps the event's own record dict (as ``success_messages`` does; the record
        object the handler received is made as it is called, and goes when the call ends).
        Records held back by the ordering rule or the deadline guard are failures too
        (`PreviousRecordFailedError`, `DeadlineReachedError`).
        """
        outcome = self._outcome
        if outcome.results is not None:  # processed before: run it again from the start
            outcome.reset_run()
        if self._handler_traits[1]:
            if running_loop() is not None:
                raise ConfigurationError(
                    "an async record handler inside a running event loop:"
                    " use `await processor.async_process()`"
                )
            return run_awaitable(self._process_async())  # type: ignore[no-any-return]
        batch = self._batch
        if self.features:
            return self._process_with_features(batch, outcome)
        if self.max_concurrency > 1 or type(self)._process_record is not RecordProcessor._process_record:
            results = self._run(batch, outcome)
        else:  # the common case: in order, with the calls of the last batch when nothing changed
            key = (self.handler, batch.guard, self.logger, self.log_exception_messages, self.deadline_margin)
            if key != self._calls_key:
                self._calls_key = key
                self._sequential_calls = self._calls(batch, inline=True)
            results = run_sequential(batch, outcome, self._sequential_calls)  # type: ignore[arg-type]
        outcome.results = results
        if outcome.skipped:
            outcome.log_skipped(batch, self.logger, self.deadline_margin)
        return results

    def _process_with_features(self, batch: Batch, outcome: Outcome) -> List[ProcessingResult]:
        for feature in self.features:
            feature.start(batch, outcome)
        try:
            results = self._run(batch, outcome)
        finally:
            self._stop_features()
        outcome.results = results
        if outcome.skipped:
            outcome.log_skipped(batch, self.logger, self.deadline_margin)
        return results

    def _run(self, batch: Batch, outcome: Outcome) -> List[ProcessingResult]:
        """The run mode: a subclass's ``_process_record``, preset outcomes, threads, or in order."""
        custom = type(self)._process_record is not RecordProcessor._process_record
        if custom or outcome.preset:
            calls = self._calls(batch, inline=True)
            process_record = self._process_record if custom else handled_by_call(calls)
            for feature in self.features if custom else ():
                process_record = feature.wrap(process_record)
            return run_custom(batch, outcome, calls, process_record)
        if self.max_concurrency > 1 and len(batch.records) > 1:
            from .running import run_threaded  # loaded with the first concurrent batch

            return run_threaded(batch, outcome, self._calls(batch, inline=False), self.max_concurrency)
        return run_sequential(batch, outcome, self._calls(batch, inline=True))

    def _calls(self, batch: Batch, *, inline: bool) -> Calls:
        """The record callable and the handlers of a run (``inline``: the run makes the record objects)."""
        cls = type(self)
        base = BasePartialProcessor
        return Calls(
            self._record_call(
                batch, inline, custom=cls._process_record is not RecordProcessor._process_record
            ),
            logger=self.logger,
            success_handler=self.success_handler,
            failure_handler=self.failure_handler,
            on_success=None if cls.success_handler is base.success_handler else self.success_handler,
            on_failure=None if cls.failure_handler is base.failure_handler else self.failure_handler,
            log_messages=self.log_exception_messages,
            margin=self.deadline_margin,
        )

    def _record_call(self, batch: Batch, inline: bool, custom: bool = False) -> Callable[[Any], Any]:
        """The handler after the record object (``inline``: made by the run), model and guard, wrapped by
        the features (unless a subclass's ``_process_record`` calls the handler itself)."""
        handler = self.handler
        convert = self._converter
        if batch.make_record is not None and not inline:  # (no model then)
            convert = batch.make_record
        if batch.guard is not None:  # corrupt KPL aggregates fail before the handler is called
            convert = batch.guard(convert)
        call = handler if convert is None else converted(handler, convert, self._handler_traits[1])
        if not custom:
            for feature in self.features:
                call = feature.wrap(call)
        return call

    def _process_record(self, record: Any) -> ProcessingResult:
        """Handle one record: ``success_handler`` with its result, or ``failure_handler``."""
        return handled_by_call(self._calls(self._batch, inline=True))(record)  # type: ignore[no-any-return]

    def async_process(self) -> Any:
        """Handle every record with an ``async def`` (or awaitable-returning) record handler.

        Called from synchronous code (a Lambda handler), it runs the batch on an event loop
        kept across warm invocations and returns the results, like `process`. Called
        inside a running event loop, it returns an awaitable of the results:
        ``results = await processor.async_process()``.

        Example:
            ```python
            with processor(records, async_record_handler, lambda_context=context) as proc:
                results = proc.async_process()
            ```
        """
        if running_loop() is not None:
            return self._process_async()
        if not self._handler_traits[1]:
            return self.process()  # awaitable results are awaited there, record by record
        return run_awaitable(self._process_async())

    async def _process_async(self) -> List[ProcessingResult]:
        from .running import run_async  # loaded with the first async batch

        batch, outcome = self._batch, self._outcome
        outcome.reset_run()
        for feature in self.features:
            feature.start(batch, outcome)
        try:
            results = await run_async(batch, outcome, self._calls(batch, inline=False), self._tasks_in_flight)
        finally:
            if self.features:
                self._stop_features()
        outcome.results = results
        if outcome.skipped:
            outcome.log_skipped(batch, self.logger, self.deadline_margin)
        return results

    def _tasks_in_flight(self, lanes: int) -> int:
        """How many asyncio tasks run the lanes of an async batch."""
        return self.max_concurrency

    # -- the attributes Powertools names, read from this batch's objects -------------

    @property
    def success_messages(self) -> List[Any]:
        """The records that succeeded, in order (what ``success_handler`` keeps)."""
        return self._outcome.success_messages

    @success_messages.setter
    def success_messages(self, messages: List[Any]) -> None:
        self._outcome.success_messages = messages

    @property
    def fail_messages(self) -> List[Any]:
        """The records that failed, in order."""
        return self._outcome.fail_messages

    @fail_messages.setter
    def fail_messages(self, messages: List[Any]) -> None:
        self._outcome.fail_messages = messages

    @property
    def exceptions(self) -> List[ExceptionInfo]:
        """One ``(type, value, traceback)`` per failed record, in order."""
        return self._outcome.exceptions

    @exceptions.setter
    def exceptions(self, exceptions: List[ExceptionInfo]) -> None:
        self._outcome.exceptions = exceptions

    @property
    def records(self) -> List[Any]:
        """The records of the current batch, as the handler receives them."""
        return self._batch.records

    @records.setter
    def records(self, records: List[Any]) -> None:
        self._batch.records = records

    @property
    def processed(self) -> bool:
        """Whether `process` ran for the current batch."""
        return self._outcome.results is not None

    @property
    def deadline(self) -> Deadline:
        """The invocation's deadline, read once from the Lambda context of this batch."""
        return self._batch.deadline

    @property
    def is_fifo(self) -> bool:
        """Whether this batch comes from an SQS FIFO queue."""
        return self._batch.fifo

    @property
    def visibility_failures(self) -> List[Any]:
        """The messages whose visibility ``retry_delay`` or ``extend_visibility`` could not change."""
        return self._outcome.visibility_failures


__all__ = [
    "DEFAULT_DEADLINE_MARGIN",
    "RecordProcessor",
]
