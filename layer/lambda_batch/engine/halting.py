"""FIFO and key halting: an item that cannot be delivered holds back the later items of its key.

For FIFO targets (SQS FIFO queues, SNS FIFO topics) a message that cannot be delivered halts
its message group until the next flush: the group's later messages are not sent and come
back with code ``FifoGroupHalted``, naming the message that failed. Kinesis ``ordered=True``
halts a partition key the same way (code ``PartitionKeyHalted``). The halted keys are kept
by :class:`~lambda_batch.engine.bookkeeping.Bookkeeping`; a FIFO message the service
refused while a later one of its group was accepted is not retried behind it (``drop_overtaken``).

Example::

    pending = engine._hold_back_halted(pending)   # the entries whose key is not halted
"""

from __future__ import annotations

from typing import List, Tuple

from ..core.retry import ErrorInfo
from .bookkeeping import Bookkeeping
from .entries import Entry


class KeyHalting(Bookkeeping):
    """Holds back the entries of keys halted by an earlier undelivered entry."""

    def _hold_back_halted(self, entries: List[Entry]) -> List[Entry]:
        """Fail the entries of FIFO groups halted by an earlier undelivered message; return the rest."""
        if not self._halts_groups:
            return entries
        with self._results_lock:
            if not self._halted:
                return entries
            halted = dict(self._halted)
        keep: List[Entry] = []
        held: List[Tuple[Entry, ErrorInfo]] = []
        for entry in entries:
            stop = halted.get(entry.order_key) if entry.order_key is not None else None
            if stop is not None and stop[0] < entry.seq:
                message = f"held back: its {self._halt_noun} is halted because {stop[1]} was not delivered"
                held.append((entry, ErrorInfo(self._halt_code, message, True)))
            else:
                keep.append(entry)
        self._fail(held)
        return keep
