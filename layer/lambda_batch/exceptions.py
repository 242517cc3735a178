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


class BatchProcessingError(LambdaBatchError):
    """Some records of a batch failed.

    ``child_exceptions`` holds one ``(type, value, traceback)`` tuple per failed record,
    in the order the records came.
    """

    def __init__(self, msg: str = "", child_exceptions: Sequence[ExceptionInfo] = ()) -> None:
        super().__init__(msg)
        self.msg = msg
        self.child_exceptions: List[ExceptionInfo] = list(child_exceptions)

    def format_exceptions(self, parent_exception_str: str) -> str:
        """Return ``parent_exception_str`` followed by one line per failed record."""
        lines = [parent_exception_str, "All records failed processing. " if not self.msg else ""]
        for exc_type, exc_value, _ in self.child_exceptions:
            name = exc_type.__name__ if exc_type is not None else "Exception"
            lines.append(f"{name}: {exc_value}")
        return "\n".join(line for line in lines if line)

    def __str__(self) -> str:
        return self.format_exceptions(super().__str__())


class SQSBatchProcessingError(BatchProcessingError):
    """Raised by the SQS partial processor when some messages failed.

    The successes have been deleted from their queues; raising makes Lambda return the
    failed ones to the queue.
    """
