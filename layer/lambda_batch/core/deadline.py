"""A point in time by which work must stop, usually the Lambda function's own deadline."""

from __future__ import annotations

import math
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Optional


class Deadline:
    """A monotonic deadline.

    Example:
        ```python
        deadline = Deadline.from_context(context)      # the invocation's end
        if deadline.remaining() < 2.0:
            ...                                         # too late to start more work
        ```
    """

    __slots__ = ("_at",)

    def __init__(self, at_monotonic: Optional[float] = None) -> None:
        self._at = math.inf if at_monotonic is None else at_monotonic

    @classmethod
    def never(cls) -> Deadline:
        """A deadline that never comes."""
        return cls(None)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    @classmethod
    def from_context(cls, context: Any) -> Deadline:
        """The deadline of a Lambda invocation, read once from ``context``.

        ``context`` is the Lambda context object (anything with
        ``get_remaining_time_in_millis()``); ``None`` gives a deadline that never comes.
        """
        if context is None:
            return cls.never()
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls.never()
        return cls(time.monotonic() + float(remaining()) / 1000.0)

    @classmethod
    def coerce(cls, value: Any) -> Deadline:
        """Accept a Deadline, a Lambda context, a number of seconds from now, or ``None``."""
        if isinstance(value, Deadline):
            return value
        if value is None:
            return cls.never()
        if isinstance(value, (int, float)):
            return cls.after(float(value))
        return cls.from_context(value)

    @property
    def at(self) -> float:
        """The deadline on the ``time.monotonic()`` clock (``inf`` when there is none)."""
        return self._at

    def remaining(self) -> float:
        """Seconds left (``inf`` when there is no deadline, negative once it has passed)."""
        return self._at - time.monotonic()

    def expired(self, margin: float = 0.0) -> bool:
        """True once less than ``margin`` seconds are left."""
        return time.monotonic() + margin >= self._at

    def __repr__(self) -> str:
        return f"Deadline(remaining={self.remaining():.3f}s)"


#: The deadline of work given none: it never comes. Work that keeps to a deadline may test
#: ``deadline is NO_DEADLINE`` to skip reading the clock.
NO_DEADLINE = Deadline(None)
