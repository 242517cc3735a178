"""An item a dispatcher could not deliver, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class UnprocessedItem:
    """One item that was not delivered, beside why.

    ``item`` is the very object given to ``submit_payload`` (not a copy); ``code`` and
    ``message`` are the service's error code and message (or the exception's name and text);
    ``retryable`` says whether the error was transient (the item may succeed later);
    ``attempts`` is how many calls carried it; ``record_id`` names it in logs.

    Example::

        dispatcher.flush_payloads()
        for failure in dispatcher.unprocessed_details:
            print(failure.record_id, failure.code, failure.retryable)
    """

    item: Any
    code: str
    message: str
    retryable: bool
    attempts: int
    record_id: str

    @property
    def reason(self) -> str:
        """``"Code: message"``."""
        return f"{self.code}: {self.message}"
