"""An item a dispatcher could not deliver, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The code of an item not sent (or not sent again) because the deadline was within the margin.
DEADLINE_EXCEEDED = "DeadlineExceeded"
#: The code of an entry a batch response named neither as done nor as failed (retried: not known to be done).
MISSING_FROM_RESPONSE = "MissingFromResponse"
#: The code of a FIFO message held back because an earlier message of its group was not delivered.
FIFO_GROUP_HALTED = "FifoGroupHalted"
#: The code of a Kinesis record held back (``ordered=True``) because an earlier record of its key was not put.
PARTITION_KEY_HALTED = "PartitionKeyHalted"


@dataclass(frozen=True)
class UnprocessedItem:
    """One item that was not delivered, beside why.

    ``item`` is the very object given to ``submit_payload`` (not a copy); ``code`` and
    ``message`` are the service's error code and message (or the exception's name and text);
    ``retryable`` says whether the error was transient (the item may succeed later);
    ``attempts`` is how many calls carried it (0 for an item never sent); ``record_id`` names
    it in logs.

    Two codes come from the dispatcher rather than the service, both retryable:
    ``DeadlineExceeded`` (no call was started because less than the retry policy's
    ``deadline_margin`` was left; the message gives the last service error, if any) and
    ``FifoGroupHalted`` (a FIFO message held back because an earlier message of its group
    was not delivered; the message names that one's ``record_id``). ``PartitionKeyHalted`` is
    the same for a Kinesis record in ordered mode, held back behind an earlier record of its
    partition key that was not put.

    Example:
        ```python
        dispatcher.flush_payloads()
        for failure in dispatcher.unprocessed_details:
            print(failure.record_id, failure.code, failure.retryable)
        ```
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
