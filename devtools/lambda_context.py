"""The context object a Python Lambda handler receives, with a real deadline.

Standard library only: ``local_lambda/_bootstrap.py`` loads this file by its path in a
process that has nothing of the repository on ``sys.path``.

Example::

    context = LambdaContext("consumer", timeout_seconds=30)
    context.get_remaining_time_in_millis()   # about 30000
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Optional


class LambdaContext:
    """The attributes and method of the Lambda Python runtime's context object.

    ``timeout_seconds`` is what is left before the deadline when the context is made (the
    function's Timeout at the start of an invocation). The names default as Lambda makes
    them from ``function_name``; a runtime stand-in passes the ones it was given.
    """

    def __init__(  # noqa: PLR0917 - mirrors the context's attributes
        self,
        function_name: str = "function",
        timeout_seconds: float = 3.0,
        memory_limit_in_mb: Any = 128,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        function_version: str = "$LATEST",
        *,
        aws_request_id: Optional[str] = None,
        log_group_name: Optional[str] = None,
        log_stream_name: Optional[str] = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = memory_limit_in_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}" if log_group_name is None else log_group_name
        self.log_stream_name = (
            time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
            if log_stream_name is None
            else log_stream_name
        )
        self.identity = None
        self.client_context = None
        self.timeout_seconds = timeout_seconds
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout (never negative)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))
