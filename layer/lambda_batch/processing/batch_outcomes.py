"""What a processed batch comes to: the failed and succeeded positions, the logs and the error.

Failures are logged by record id, exception type and a reason that never quotes the record
(unless ``log_exception_messages``); the batch error names the failed records the same way.
A ``process()`` never called on a non-empty batch raises rather than pass for a success.

Example::

    failed = processor._batch_failures(BatchProcessingError, "handled", "all %d records succeeded")
"""

from __future__ import annotations

from ..errors import exception_reason
from .base_processor import SUCCESS

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Hashable, List, Optional, Tuple, Type

    from ..errors import BatchProcessingError, ExceptionInfo
    from .base_processor import ProcessingResult


class BatchOutcomes:
    """The outcome of the batch just processed, for the fronts (report failures, delete successes)."""

    records: List[Any]
    exceptions: List[ExceptionInfo]
    logger: Any
    log_exception_messages: bool
    deadline_margin: Optional[float]
    _needs_receipt_handle: bool
    _ids: List[str]
    _results: Optional[List[ProcessingResult]]
    _failures: List[int]
    _failures_known: bool
    _skipped: int
    _stopped_by: Optional[int]
    _failed_keys: Dict[Hashable, int]
    _success_messages: List[Any]
    #: After a sequential batch: the records and the failed positions ``success_messages`` is
    #: made from when first read (a batch whose successes nobody reads never lists them).
    _pending_successes: Optional[Tuple[List[Any], List[int]]] = None
    _large_payloads: Any

    @property  # BasePartialProcessor's attribute, made when first read
    def success_messages(self) -> List[Any]:
        """The records that succeeded, in order (what ``success_handler`` keeps)."""
        pending = self._pending_successes
        if pending is not None:
            self._pending_successes = None
            records, failed = pending
            if not failed:
                self._success_messages.extend(records)
            else:
                skip = set(failed)
                self._success_messages.extend(
                    record for index, record in enumerate(records) if index not in skip
                )
        return self._success_messages

    @success_messages.setter
    def success_messages(self, messages: List[Any]) -> None:
        self._pending_successes = None
        self._success_messages = messages

    def _finish(self, results: List[ProcessingResult]) -> List[ProcessingResult]:
        self._results = results
        if self._large_payloads is not None and not self._needs_receipt_handle:
            # Native response: Lambda deletes the succeeded messages once the function returns.
            failed = set(self._failed_positions())
            self._discard_large_payloads([i for i in range(len(results)) if i not in failed])
        if self._skipped:
            if self._stopped_by is not None or self._failed_keys:
                cause = "after an earlier failure, to keep order"
            else:
                cause = f"with under {self.deadline_margin}s of the invocation left"
            self.logger.warning(
                "%d of %d records returned unprocessed %s", self._skipped, len(results), cause
            )
        return results

    def _discard_large_payloads(self, positions: List[int]) -> None:
        """``delete_large_payloads``: delete the S3 objects of these (succeeded) records' payloads."""
        payloads = self._large_payloads
        if payloads is None or not payloads.delete or not positions:
            return
        try:
            payloads.discard(self.records, positions)
        except Exception as exc:  # never let a cleanup hide the batch's outcome
            self.logger.warning("deleting large payload objects failed: %s", type(exc).__name__)

    def _log_failure(self, index: int, info: ExceptionInfo) -> None:
        # The record id, the exception type and a reason that never quotes the record
        # (unless log_exception_messages); the traceback names code lines, not data.
        exc_type, exc_value, _ = info
        reason = exception_reason(exc_value, self.log_exception_messages)
        if not reason and exc_value is not None and str(exc_value):
            reason = "message not logged, it may quote the record (log_exception_messages=True logs it)"
        self.logger.warning(
            "record %s failed: %s: %s",
            self._ids[index] if index < len(self._ids) else f"#{index}",
            exc_type.__name__ if exc_type is not None else "Exception",
            reason,
            exc_info=exc_value if self.log_exception_messages else None,  # a traceback ends with the message
        )

    def _batch_error(self, error_type: Type[BatchProcessingError], msg: str, failed: List[int]) -> Any:
        """``error_type`` for the failed positions: record ids, types and body-free reasons."""
        ids = [self._ids[index] for index in failed] if len(failed) == len(self.exceptions) else []
        return error_type(
            msg, self.exceptions, record_ids=ids, exception_messages=self.log_exception_messages
        )

    def _batch_failures(
        self, error_type: Type[BatchProcessingError], not_done: str, all_succeeded: str
    ) -> List[int]:
        """Positions of the failed records of the batch just processed (empty when every record
        succeeded, logged with ``all_succeeded``, or when the batch was empty).

        Raises ``error_type`` when ``process()`` was never called on a non-empty batch: a
        forgotten ``process()`` must not pass for a success.
        """
        if not self.processed:
            if not self.records:
                return []
            raise error_type(
                f"process() was not called: none of the {len(self.records)} records was {not_done}"
            )
        failed = self._failed_positions()
        if not failed:
            self.logger.debug(all_succeeded, len(self.records))
        return failed

    def _failed_positions(self) -> List[int]:
        """Positions of the failed (or returned unprocessed) records, in order."""
        if self._failures_known:
            return self._failures
        results = self._results if self._results is not None else []
        return [
            index
            for index, entry in enumerate(results)
            if not (isinstance(entry, tuple) and entry and entry[0] == SUCCESS)
        ]

    def _succeeded_positions(self, failed: List[int]) -> List[int]:
        """Positions of the succeeded records, given the failed ones."""
        failed_set = set(failed)
        return [index for index in range(len(self.records)) if index not in failed_set]

    @property
    def processed(self) -> bool:
        """Whether :meth:`process` ran for the current batch."""
        return self._results is not None
