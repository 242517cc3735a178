"""The exceptions the layer raises.

Every error names what is wrong and, where a record is involved, the record's id;
none carries a message body.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, List, Optional, Sequence, Tuple

    ExceptionInfo = Tuple[Optional[type], Optional[BaseException], Any]


class LambdaBatchError(Exception):
    """Base class of every exception raised by lambda_batch."""


class MalformedEventError(LambdaBatchError, ValueError):
    """The Lambda event is not what the processor expects.

    Raised before any record is handled or deleted, so a malformed event is never a
    silent success (a silent success would delete messages).
    """


class ConfigurationError(LambdaBatchError, ValueError):
    """An option is out of range, for example ``max_batch_size`` above the service limit."""


class PayloadError(LambdaBatchError, ValueError):
    """A payload cannot be sent: it does not serialise, or it exceeds a per-item limit.

    Raised by ``submit_payload``; nothing else already submitted is affected.
    """


#: Said once in an error text when exception messages were left out.
MESSAGES_WITHHELD = (
    "Exception messages are left out: they may quote message bodies"
    " (log_exception_messages=True includes them)."
)


def exception_reason(exc: Optional[BaseException], include_message: bool = False) -> str:
    """A reason for ``exc`` that never quotes a record: safe for logs and error texts.

    The layer's own errors and pydantic validation errors (field names and rules, without
    the input values) give their text; any other exception gives ``""``, since its message
    may quote the record (``int(body)`` gives ``invalid literal for int() ... 'the body'``).
    ``include_message=True`` gives ``str(exc)`` whatever it holds.

    >>> exception_reason(ValueError("invalid literal for int() with base 10: 'SECRET'"))
    ''
    """
    if exc is None:
        return ""
    if include_message or isinstance(exc, LambdaBatchError):
        return str(exc)
    if type(exc).__name__ == "ValidationError" and callable(getattr(exc, "errors", None)):
        return describe_error(exc)  # field-level summary without input values
    return ""


def describe_error(exc: BaseException) -> str:
    """A one-line reason for logs, without the record's content.

    A pydantic ``ValidationError`` names the failing fields and rules but not the
    input values (they may be a message body); other exceptions give their message.
    """
    errors = getattr(exc, "errors", None)
    if callable(errors) and type(exc).__name__ == "ValidationError":
        try:
            details = errors(include_input=False)
        except TypeError:  # pydantic v1 has no include_input
            details = errors()
        except Exception:
            details = None
        if isinstance(details, list):
            parts = []
            for detail in details[:5]:
                if isinstance(detail, dict):
                    loc = ".".join(str(part) for part in detail.get("loc", ()))
                    parts.append(f"{loc}: {detail.get('msg', '')}")
            more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
            return f"{len(details)} validation error(s): " + "; ".join(parts) + more
    return str(exc)


def describe_failure(info: ExceptionInfo, include_message: bool = False) -> str:
    """``"ValueError"`` or ``"ValidationError: 1 validation error(s): ..."``: type and safe reason."""
    exc_type, exc_value, _ = info
    name = exc_type.__name__ if exc_type is not None else "Exception"
    reason = exception_reason(exc_value, include_message)
    return f"{name}: {reason}" if reason else name


class BatchProcessingError(LambdaBatchError):
    """Some records of a batch failed.

    ``child_exceptions`` holds one ``(type, value, traceback)`` tuple per failed record,
    in the order the records came; ``record_ids`` the ids of those records, when known.
    The text names each failed record and its exception type with a reason that never
    quotes the record; ``exception_messages=True`` adds the exceptions' own messages
    (which may quote message bodies).

    Example::

        try:
            process_partial_response(event, record_handler, processor, context)
        except BatchProcessingError as error:
            for exc_type, exc, _ in error.child_exceptions:
                ...
    """

    def __init__(
        self,
        msg: str = "",
        child_exceptions: Sequence[ExceptionInfo] = (),
        *,
        record_ids: Sequence[str] = (),
        exception_messages: bool = False,
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.child_exceptions: List[ExceptionInfo] = list(child_exceptions)
        self.record_ids: List[str] = list(record_ids)
        self.exception_messages = exception_messages

    def format_exceptions(self, parent_exception_str: str) -> str:
        """Return ``parent_exception_str`` followed by one line per failed record."""
        lines = [parent_exception_str, "All records failed processing. " if not self.msg else ""]
        ids = self.record_ids if len(self.record_ids) == len(self.child_exceptions) else ()
        withheld = False
        for position, info in enumerate(self.child_exceptions):
            text = describe_failure(info, self.exception_messages)
            if not self.exception_messages and info[1] is not None and not exception_reason(info[1]):
                withheld = withheld or str(info[1]) != ""
            lines.append(f"record {ids[position]}: {text}" if ids else text)
        if withheld:
            lines.append(MESSAGES_WITHHELD)
        return "\n".join(line for line in lines if line)

    def __str__(self) -> str:
        return self.format_exceptions(super().__str__())


class SQSBatchProcessingError(BatchProcessingError):
    """Raised by the SQS partial processor when some messages failed.

    The successes have been deleted from their queues; raising makes Lambda return the
    failed ones to the queue.
    """


class RecordSkippedError(LambdaBatchError):
    """A record was not handled, so that it is delivered again."""


class PreviousRecordFailedError(RecordSkippedError):
    """An earlier record of the same FIFO message group (or of the batch) failed; order comes first.

    Example::

        processor = BatchProcessor(EventType.SQS)   # a FIFO queue: stops at the first failure
        # later records come back as ("fail", "PreviousRecordFailedError:...", record)
    """


class DeadlineReachedError(RecordSkippedError):
    """The record was not started: too little of the invocation's time was left.

    Example::

        processor = BatchProcessor(EventType.SQS, deadline_margin=2.0)
        process_partial_response(event, record_handler, processor, context)
    """


class LargePayloadError(LambdaBatchError):
    """A record's S3 pointer was not read: its bucket is not allowed, its size is wrong or over the
    bound, the read failed or ran out of time (the text names the reason, never the body)."""


class IdempotencyError(RecordSkippedError):
    """A record was not handled because its idempotency bookkeeping could not be done (the table
    not read, the claim not made, ``key`` raising): it comes back, and is never handled unclaimed."""


class RecordInProgressError(IdempotencyError):
    """A record was not handled: its key is in progress elsewhere (a claim that has not expired), or
    an earlier record of the batch has the same key. It comes back later.

    Example:
        ```python
        # results of a batch where m-2 is being handled by another invocation:
        # [("success", ..., record_1), ("fail", "RecordInProgressError:...", record_2)]
        ```
    """
