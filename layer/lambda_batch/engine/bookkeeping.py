"""The engine's books: counters, and the items not delivered, each with its reason.

Every batch operation the layer makes (the dispatchers' sends, the processors' deletes and
visibility changes) records here what it could not deliver, as submitted, in submission
order, and counts calls, retries, splits and failures. FIFO message groups (and Kinesis keys
in ordered mode) halted by an undelivered item are noted here too (see ``halting``).

Example::

    books = engine.take_failed()      # [(seq, UnprocessedItem), ...] since the last take
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Hashable, List, Sequence, Tuple

from ..core.retry import ErrorInfo
from ..core.unprocessed import FIFO_GROUP_HALTED, UnprocessedItem
from .entries import DispatcherStats, Entry

logger = logging.getLogger("lambda_batch.dispatchers")


class Bookkeeping:
    """Counters and failed items, under one lock (the delivery threads share them)."""

    #: Shown in logs and errors, e.g. "SQS queue jobs".
    target_description = "target"
    #: Whether an undelivered item halts the later items of its ``order_key`` (FIFO message groups).
    _halts_groups = False
    #: The code and wording of an item held back because an earlier one of its key was not delivered.
    _halt_code = FIFO_GROUP_HALTED
    _halt_noun = "message group"
    #: The level an item not delivered is logged at (its code and id only).
    _failure_log_level = logging.WARNING

    _results_lock: threading.Lock
    _failed: List[Tuple[int, UnprocessedItem]]
    _counters: Dict[str, int]
    _halted: Dict[Hashable, Tuple[int, str]]

    def _init_books(self) -> None:
        self._results_lock = threading.Lock()  # failures and counters
        self._failed = []
        self._counters = dict.fromkeys(DispatcherStats.__dataclass_fields__, 0)
        # FIFO message group -> (seq, record id) of its earliest undelivered message, this flush.
        self._halted = {}

    @property
    def stats(self) -> DispatcherStats:
        """A snapshot of the counters (calls, entries sent, retries, failures...)."""
        with self._results_lock:
            return DispatcherStats(**self._counters)

    def _take_failed(self) -> List[Tuple[int, UnprocessedItem]]:
        """The failures recorded since the last take, in submission order; halted keys open again."""
        with self._results_lock:
            failed = self._failed
            self._failed = []
            self._halted = {}
        failed.sort(key=lambda pair: pair[0])
        return failed

    def _count(self, **increments: int) -> None:
        with self._results_lock:
            for name, value in increments.items():
                self._counters[name] += value

    def _fail(self, failures: Sequence[Tuple[Entry, ErrorInfo]]) -> None:
        if not failures:
            return
        records = []
        halts: List[Entry] = []
        for entry, error in failures:
            # The code and the record id only: service and botocore messages may quote the payload.
            # Held-back entries of a halted key at DEBUG: the one that halted it is logged.
            logger.log(
                logging.DEBUG if error.code == self._halt_code else self._failure_log_level,
                "%s: %s not delivered after %d attempt(s): %s",
                self.target_description,
                entry.record_id,
                entry.attempts,
                error.code,
            )
            records.append((entry.seq, _unprocessed(entry, error)))
            entry.done = True
            if self._halts_groups and entry.order_key is not None:
                halts.append(entry)
        with self._results_lock:
            self._failed.extend(records)
            self._counters["failures"] += len(records)
            for entry in halts:  # the group's later messages must not overtake this one
                stop = self._halted.get(entry.order_key)
                if stop is None or entry.seq < stop[0]:
                    self._halted[entry.order_key] = (entry.seq, entry.record_id)


def _unprocessed(entry: Entry, error: ErrorInfo) -> UnprocessedItem:
    item: Any = entry.payload
    return UnprocessedItem(
        item=item,
        code=error.code,
        message=error.message,
        retryable=error.retryable,
        attempts=entry.attempts,
        record_id=entry.record_id,
    )
