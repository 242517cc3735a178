"""The ordering rule and the deadline guard of a batch: which records are held back, and why.

A record is held back (returned unprocessed, never handed to the handler) when an earlier
record failed and the ordering rule stops the batch (FIFO by default, or
``stop_on_first_failure``), when an earlier record of its message group failed
(``skip_group_on_error``), or when it would start within the deadline margin. Each held-back
record fails with :class:`~lambda_batch.PreviousRecordFailedError` or
:class:`~lambda_batch.DeadlineReachedError`, naming the record that failed first.

Example::

    if processor._must_skip(index, record):
        result = processor.failure_handler(record, processor._skip_info(index, record))
"""

from __future__ import annotations

import sys
import time

from .base_processor import SUCCESS
from .ordering import SKIP_KEY, STOP_BATCH
from .records import message_group_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Hashable, List, Optional

    from ..core.deadline import Deadline
    from ..errors import ExceptionInfo
    from .base_processor import ProcessingResult
    from .ordering import Ordering
    from .record_processor import RecordProcessor


class RecordGuards:
    """Holds back the records the ordering rule or the deadline keeps from the handler."""

    _ids: List[str]
    _ordering: Ordering
    _deadline: Deadline
    _cutoff: float
    _stopped_by: Optional[int]
    _failed_keys: Dict[Hashable, int]
    _skipped: int
    deadline_margin: Optional[float]
    log_exception_messages: bool

    def _must_skip(self, index: int, record: Any) -> bool:
        # Under concurrency a record may start after a later record failed: only the records
        # after the failure are held back (those before it run, as they would in order).
        if self._stopped_by is not None and index > self._stopped_by:
            return True
        if (
            self._failed_keys
            and self._ordering.key is not None
            and self._ordering.key(record) in self._failed_keys
        ):
            return True
        return time.monotonic() >= self._cutoff

    def _note_failure(self, index: int, record: Any) -> None:
        mode = self._ordering.on_failure
        if mode == STOP_BATCH:
            if self._stopped_by is None or index < self._stopped_by:
                self._stopped_by = index
        elif mode == SKIP_KEY and self._ordering.key is not None:
            self._failed_keys.setdefault(self._ordering.key(record), index)

    def _skip_info(self, index: int, record: Any) -> ExceptionInfo:
        from .skipped_records import DeadlineReachedError, PreviousRecordFailedError  # at the first skip

        self._skipped += 1
        exc: Exception
        if self._stopped_by is not None and index > self._stopped_by:
            failed = self._ids[self._stopped_by]
            exc = PreviousRecordFailedError(f"not processed: record {failed} failed earlier in this batch")
        elif (
            self._failed_keys
            and self._ordering.key is not None
            and self._ordering.key(record) in self._failed_keys
        ):
            failed = self._ids[self._failed_keys[self._ordering.key(record)]]
            # the group id is the sender's, often personal data: named only when asked
            group = f" of message group {message_group_id(record)!r}" if self.log_exception_messages else ""
            exc = PreviousRecordFailedError(f"not processed: record {failed}{group} failed earlier")
        else:
            exc = DeadlineReachedError(
                f"not started: {max(0.0, self._deadline.remaining()):.3f}s of the invocation left, "
                f"under the deadline margin of {self.deadline_margin}s"
            )
        return (type(exc), exc, None)


def process_custom(processor: RecordProcessor) -> List[ProcessingResult]:
    """A subclass's own ``_process_record`` over the batch, inside the ordering rule and deadline guard."""
    processor._failures_known = False
    results: List[ProcessingResult] = []
    for index, record in enumerate(processor.records):
        if processor._must_skip(index, record):
            results.append(processor.failure_handler(record, processor._skip_info(index, record)))
            continue
        handled = record if processor._make_record is None else processor._make_record(record)
        if processor._large_payloads is not None:  # the subclass's handler call gets the payload too
            try:
                handled = processor._large_payloads.resolve(record)
            except Exception:
                info = sys.exc_info()
                processor._log_failure(index, info)
                processor._note_failure(index, record)
                results.append(processor.failure_handler(record, info))
                continue
        entry = processor._process_record(handled)
        if isinstance(entry, tuple) and entry and entry[0] != SUCCESS:
            processor._note_failure(index, record)
        results.append(entry)
    return results
