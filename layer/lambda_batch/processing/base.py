"""The partial batch processor contract, and the decorator that runs any processor.

A processor handles each record of a batch on its own, keeps every outcome, and when
the batch is done (``_clean``) acts on the failures: deletes the successes from SQS,
reports the failures to Lambda, or whatever a custom processor needs.

Example:
    A custom processor:

    ```python
    from lambda_batch import BasePartialProcessor, batch_processor


    class PrintingProcessor(BasePartialProcessor):
        def _prepare(self):
            pass

        def _clean(self):
            print(
                len(self.success_messages),
                "succeeded,",
                len(self.fail_messages),
                "failed",
            )

        def _process_record(self, record):
            try:
                return self.success_handler(record, self.handler(record))
            except Exception as exc:
                return self.failure_handler(record, exc)


    @batch_processor(
        record_handler=lambda record: record["body"], processor=PrintingProcessor()
    )
    def lambda_handler(event, context):
        return {"statusCode": 200}
    ```
"""

from __future__ import annotations

import functools
import logging
import sys
from abc import ABC, abstractmethod
from types import TracebackType

from .events.intake import extract_records
from .handlers import accepts_lambda_context, is_awaitable, run_awaitable

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple, Type, TypeVar, Union, cast

    from ..errors import ExceptionInfo

    #: ``("success", result, record)`` or ``("fail", "<ExceptionType>:<message>", record)``.
    ProcessingResult = Tuple[str, Any, Any]
    RecordHandler = Callable[..., Any]
    LambdaHandler = TypeVar("LambdaHandler", bound=Callable[..., Any])
else:

    def cast(_type: object, value: object) -> object:
        """``typing.cast``: the value itself."""
        return value


logger = logging.getLogger("lambda_batch.processing")


SUCCESS = "success"
FAIL = "fail"


def as_exc_info(exception: Union[BaseException, ExceptionInfo]) -> ExceptionInfo:
    """An ``(type, value, traceback)`` tuple from an exception or an ``exc_info`` tuple."""
    if isinstance(exception, BaseException):
        return (type(exception), exception, exception.__traceback__)
    return cast("ExceptionInfo", tuple(exception))


def describe_exception(info: ExceptionInfo) -> str:
    """``"<ExceptionType>:<message>"``, the text of a ``("fail", ...)`` result."""
    exc_type, exc_value, _ = info
    name = exc_type.__name__ if exc_type is not None else "Exception"
    return f"{name}:{exc_value}"


class BasePartialProcessor(ABC):
    """The base of every partial batch processor.

    Subclasses implement ``_prepare()`` (called on entering the ``with`` block),
    ``_process_record(record)`` (handle one record through ``self.handler`` and return
    ``success_handler(...)`` or ``failure_handler(...)``) and ``_clean()`` (called once
    on leaving the block, to act on the outcomes).

    ``success_messages``, ``fail_messages`` and ``exceptions`` start empty on every call
    of the processor, so an instance reused across warm invocations never carries a
    previous batch's outcomes.

    Example:
        ```python
        with processor(records, record_handler) as proc:
            results = proc.process()
            # [("success", result, record) or ("fail", "Type:msg", record), ...]
        ```
    """

    def __init__(self) -> None:
        self.success_messages: List[Any] = []
        self.fail_messages: List[Any] = []
        self.exceptions: List[ExceptionInfo] = []
        self.records: List[Any] = []
        self.handler: RecordHandler = _handler_not_set
        self.lambda_context: Any = None

    @abstractmethod
    def _prepare(self) -> None:
        """Set up before the records are processed (called on entering the ``with`` block)."""

    @abstractmethod
    def _clean(self) -> None:
        """Act on the outcomes once processing is over (called on leaving the ``with`` block)."""

    @abstractmethod
    def _process_record(self, record: Any) -> Any:
        """Handle one record with ``self.handler``; return ``success_handler`` or ``failure_handler``."""

    def process(self) -> List[ProcessingResult]:
        """Handle every record, in order, and return one result tuple per record."""
        return [self._process_record(record) for record in self.records]

    def __call__(self, records: List[Any], handler: RecordHandler, lambda_context: Any = None) -> Any:
        """Bind a batch and its record handler; returns the processor, ready for ``with``.

        When ``handler`` declares a ``lambda_context`` parameter it receives ``lambda_context``.
        """
        self.success_messages = []
        self.fail_messages = []
        self.exceptions = []
        self.records = records
        self.lambda_context = lambda_context
        if accepts_lambda_context(handler):
            handler = functools.partial(handler, lambda_context=lambda_context)
        self.handler = handler
        return self

    def __enter__(self) -> Any:
        self._prepare()
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            self._clean()
            return
        # The block itself raised: still act on what was processed, but let that error
        # propagate rather than one raised while cleaning up.
        try:
            self._clean()
        except Exception as clean_error:
            logger.warning(
                "while handling %s, cleaning up also failed: %s: %s",
                exc_type.__name__,
                type(clean_error).__name__,
                clean_error,
            )

    def success_handler(self, record: Any, result: Any) -> ProcessingResult:
        """Keep a success; returns ``("success", result, record)``.

        An awaitable ``result`` (a handler that returned a coroutine) is awaited first: the
        record succeeds with its result, or fails with its exception.
        """
        if is_awaitable(result):
            try:
                result = run_awaitable(result)
            except Exception:
                return self.failure_handler(record, current_exc_info())
        self.success_messages.append(record)
        return (SUCCESS, result, record)

    def failure_handler(
        self, record: Any, exception: Union[BaseException, ExceptionInfo]
    ) -> ProcessingResult:
        """Keep a failure; ``exception`` is an exception or a ``sys.exc_info()`` tuple.

        Returns ``("fail", "<ExceptionType>:<message>", record)``.
        """
        info = as_exc_info(exception)
        self.exceptions.append(info)
        self.fail_messages.append(record)
        return (FAIL, describe_exception(info), record)


def _handler_not_set(record: Any) -> Any:
    raise RuntimeError("no record handler: call the processor with (records, record_handler) first")


def batch_processor(
    record_handler: RecordHandler, processor: BasePartialProcessor
) -> Callable[[LambdaHandler], LambdaHandler]:
    """Decorate a Lambda handler: process ``event["Records"]`` with ``processor`` first.

    Each record goes to ``record_handler``; the Lambda handler runs afterwards and its
    return value is returned (unless the processor raised on failures). The Lambda
    context reaches the processor (deadline guard) and any ``lambda_context`` parameter
    of ``record_handler``. An event without ``Records`` raises
    `MalformedEventError`.

    Example:
        ```python
        processor = BatchProcessor(EventType.SQS)

        @batch_processor(record_handler=record_handler, processor=processor)
        def lambda_handler(event, context):
            return processor.response()
        ```
    """

    def run() -> None:  # looked up at each call, as before
        processor.process()

    return _processing_decorator(record_handler, processor, run)


def async_batch_processor(
    record_handler: RecordHandler, processor: BasePartialProcessor
) -> Callable[[LambdaHandler], LambdaHandler]:
    """`batch_processor` for an ``async def`` record handler (``processor.async_process()``).

    The decorated Lambda handler stays synchronous; the batch runs on an event loop kept
    across warm invocations.

    Example:
        ```python
        processor = AsyncBatchProcessor(EventType.SQS)

        @async_batch_processor(record_handler=async_record_handler, processor=processor)
        def lambda_handler(event, context):
            return processor.response()
        ```
    """

    def run() -> None:
        run_async = getattr(processor, "async_process", None)
        result: Any = run_async() if run_async is not None else processor.process()
        if is_awaitable(result):  # a processor whose async_process is a coroutine
            run_awaitable(result)

    return _processing_decorator(record_handler, processor, run)


def _processing_decorator(
    record_handler: RecordHandler, processor: BasePartialProcessor, run: Callable[[], Any]
) -> Callable[[LambdaHandler], LambdaHandler]:
    """A Lambda handler decorator: ``run()`` inside ``processor``'s context, then the handler."""

    def decorator(handler: LambdaHandler) -> LambdaHandler:
        @functools.wraps(handler)
        def wrapper(event: Any, context: Any = None, *args: Any, **kwargs: Any) -> Any:
            records = extract_records(event, getattr(processor, "event_type", None))
            with processor(records, record_handler, lambda_context=context):
                run()
            return handler(event, context, *args, **kwargs)

        return cast("LambdaHandler", wrapper)

    return decorator


def current_exc_info() -> ExceptionInfo:
    """``sys.exc_info()`` typed as `ExceptionInfo`."""
    return cast("ExceptionInfo", sys.exc_info())


__all__ = ["BasePartialProcessor", "async_batch_processor", "batch_processor"]
