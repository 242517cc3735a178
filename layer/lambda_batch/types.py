"""The type names that code written for Powertools annotates its processors with.

``ExceptionInfo``, ``SuccessResponse``, ``FailureResponse`` and ``PartialItemFailureResponse``
are aliases for type checkers (``Tuple[...]``, ``Dict[...]``). At run time, where an
annotation outside ``from __future__ import annotations`` is evaluated, each is a light
stand-in class, so that importing them costs nothing (no ``typing`` import).

Example:
    ```python
    from lambda_batch import BatchProcessor, ExceptionInfo, FailureResponse


    class CountingProcessor(BatchProcessor):
        def failure_handler(
            self, record, exception: ExceptionInfo
        ) -> FailureResponse:
            failures.inc()
            return super().failure_handler(record, exception)
    ```
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Tuple

    from .errors import ExceptionInfo

    SuccessResponse = Tuple[str, Any, Any]
    FailureResponse = Tuple[str, str, Any]
    PartialItemFailureResponse = Dict[str, List[Dict[str, str]]]
else:

    class ExceptionInfo(tuple):
        """``(exception type, exception, traceback)``, as ``sys.exc_info()`` returns it."""

        __slots__ = ()

    class SuccessResponse(tuple):
        """``("success", result, record)``: one record's outcome when its handler returned."""

        __slots__ = ()

    class FailureResponse(tuple):
        """``("fail", "<ExceptionType>:<reason>", record)``: one record's outcome when its handler raised."""

        __slots__ = ()

    class PartialItemFailureResponse(dict):
        """``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``: what Lambda reads back."""

        __slots__ = ()


__all__ = ["ExceptionInfo", "FailureResponse", "PartialItemFailureResponse", "SuccessResponse"]
