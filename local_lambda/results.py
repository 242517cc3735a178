"""What one local invocation gives back, and the errors of the local invoker.

Example::

    result = function.invoke(event)
    result.ok, result.error_type, result.payload()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


class InvocationError(RuntimeError):
    """The function could not be set up or run (not an error raised by the handler)."""


class FunctionError(RuntimeError):
    """Raised by :meth:`LocalFunction.__call__` when the invocation failed; ``result`` tells how."""

    def __init__(self, result: InvocationResult) -> None:
        error = result.error or {}
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.result = result


@dataclass
class InvocationResult:
    """The outcome of one invocation.

    Exactly one of ``return_value`` (the handler returned) and ``error`` (it raised, timed
    out, or could not be imported: Lambda's ``{"errorType", "errorMessage", "stackTrace"}``)
    is set; :attr:`ok` tells which.
    """

    request_id: str
    return_value: Any = None
    error: Optional[Dict[str, Any]] = None
    #: The invocation's output (stdout and stderr), from ``START`` to ``END``.
    logs: str = ""
    duration_ms: float = 0.0
    cold_start: bool = False
    #: AWS API calls the handler made: ``{"service", "operation", "target"}`` each.
    api_calls: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the handler returned."""
        return self.error is None

    @property
    def error_type(self) -> Optional[str]:
        """``errorType`` of the error (``SQSBatchProcessingError``, ``Sandbox.Timedout``...), or None."""
        return None if self.error is None else str(self.error.get("errorType"))

    def payload(self) -> Any:
        """What Lambda's Invoke API returns as the payload: the return value, or the error object."""
        return self.return_value if self.error is None else self.error
