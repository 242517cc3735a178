"""The ledger: what a dispatcher hands back, each item not delivered with its reason, and the stats.

Every batch operation the layer makes (the dispatchers' sends, the processors' deletes and
visibility changes, the S3 object deletes) records here what it could not deliver, as
submitted, and counts it (``failures``). Keys halted by an
undelivered item (FIFO message groups, Kinesis keys in ordered mode) are noted here too,
until the next flush. Logs name an item by its record id and the error code only: a
service's message may quote the payload.

Example:
    ```python
    ledger = Ledger(
        dispatcher,
        halts=True,
        halt_code=FIFO_GROUP_HALTED,
        log_level=logging.WARNING,
    )
    ledger.fail([(entry, ErrorInfo("InvalidParameterValue", "...", False))])
    failed = ledger.take_failed()
    # [(seq, UnprocessedItem), ...] in submission order
    ```
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from ..core.unprocessed import UnprocessedItem

if TYPE_CHECKING:  # pragma: no cover
    from ..core.retry import ErrorInfo
    from .packing import Entry

logger = logging.getLogger("lambda_batch.dispatchers")

Failures = Sequence[Tuple["Entry", "ErrorInfo"]]


@dataclass(frozen=True)
class DispatcherStats:
    """Counters of one dispatcher since it was made.

    ``calls`` counts batch calls made (retries included), ``retries`` the calls that were
    retries, ``entries_sent`` the items delivered, ``failures`` the items handed back,
    ``superseded`` the DynamoDB writes replaced by a later write of the same key in one batch.

    Example:
        ```python
        dispatcher.stats.calls      # 3
        ```
    """

    submitted: int = 0
    calls: int = 0
    entries_sent: int = 0
    retries: int = 0
    failures: int = 0
    superseded: int = 0
    splits: int = 0


class Ledger:
    """Items handed back, their count and halted keys, under one lock (the delivery threads share them).

    ``owner`` is the dispatcher (its ``target_description`` names it in logs); ``halts``:
    whether an undelivered item halts the later items of its ``order_key``; ``halt_code``:
    the code of an item held back for that (logged at DEBUG: the one that halted its key is
    logged at ``log_level``). ``after_fail(failures)``, when set, runs after each recording
    (large payloads delete their objects; Kinesis aggregation hands back user records).
    """

    def __init__(self, owner: Any, *, halts: bool, halt_code: str, log_level: int) -> None:
        self.lock = threading.Lock()
        self.failed: List[Tuple[int, UnprocessedItem]] = []
        self.failures = 0
        #: Halted key -> (seq, record id) of its earliest undelivered item, this flush.
        self.halted: Dict[Hashable, Tuple[int, str]] = {}
        self.halts = halts
        self.after_fail: Optional[Callable[[Failures], None]] = None
        self._owner = owner
        self._halt_code = halt_code
        self._log_level = log_level

    def fail(self, failures: Failures) -> None:
        """Record ``failures`` (entry, error) as handed back, each logged by its record id and code."""
        if not failures:
            return
        records = []
        halts: List[Entry] = []
        for entry, error in failures:
            logger.log(
                logging.DEBUG if error.code == self._halt_code else self._log_level,
                "%s: %s not delivered after %d attempt(s): %s",
                self._owner.target_description,
                entry.record_id,
                entry.attempts,
                error.code,
            )
            item = UnprocessedItem(
                entry.payload, error.code, error.message, error.retryable, entry.attempts, entry.record_id
            )
            records.append((entry.seq, item))
            entry.done = True
            if self.halts and entry.order_key is not None:
                halts.append(entry)
        with self.lock:
            self.failed.extend(records)
            self.failures += len(records)
            for entry in halts:  # the key's later items must not overtake this one
                stop = self.halted.get(entry.order_key)
                if stop is None or entry.seq < stop[0]:
                    self.halted[entry.order_key] = (entry.seq, entry.record_id)
        if self.after_fail is not None:
            self.after_fail(failures)

    def take_failed(self) -> List[Tuple[int, UnprocessedItem]]:
        """The failures recorded since the last take, in submission order; halted keys open again."""
        with self.lock:
            failed = self.failed
            self.failed = []
            self.halted = {}
        if len(failed) > 1:
            failed.sort(key=_first)
        return failed

    def stats(self, submitted: int, superseded: int, delivery: Dict[str, int]) -> DispatcherStats:
        """A snapshot of the counters: the buffer's ``submitted`` and ``superseded``, the delivery
        loop's (``calls``, ``entries_sent``, ``retries``, ``splits``) and the failures."""
        with self.lock:
            return DispatcherStats(
                submitted=submitted, superseded=superseded, failures=self.failures, **delivery
            )


def _first(pair: Tuple[int, Any]) -> int:
    return pair[0]
