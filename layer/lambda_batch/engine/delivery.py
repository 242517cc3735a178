"""The one delivery loop: send a batch, read per-entry results, retry, split, halt keys, keep to the deadline.

Every batch call the layer makes runs here: the dispatchers' sends (SendMessageBatch,
PutRecords, BatchWriteItem...), the SQS processors' DeleteMessageBatch and
ChangeMessageVisibilityBatch, and S3 DeleteObjects. The operation (a
`BaseDispatcher`) only says how to make its call and
read its response (``_send``), what it needs first (``_prepare``) and which ``client`` to use;
the loop does the rest:

- retries what is worth retrying, whole calls and single entries alike, with the one
  `RetryPolicy` (capped exponential backoff, full jitter), each
  entry within its own budget of ``max_attempts`` calls, across retries and splits;
- splits a call refused for one bad entry (a validation error, a request too large, a bare
  HTTP 413) to isolate it, so the other entries still go through: into as many parts as it
  takes for the bad entry to be alone within its remaining attempts (halves when the budget
  allows);
- in ordered mode (Kinesis ``ordered=True``) sends a batch in waves: a call carries at most
  one entry per key, the earliest not yet resolved, so a failed entry is retried before any
  later entry of its key is sent;
- holds back the entries of keys halted by an earlier undelivered entry (FIFO message groups,
  Kinesis keys in ordered mode: codes ``FifoGroupHalted``, ``PartitionKeyHalted``), and never
  retries a FIFO message behind a later message of its group the same call delivered
  (`drop_overtaken`);
- starts no call once less than the margin is left before the deadline (the items come back
  with code ``DeadlineExceeded``);
- hands back, through the `Ledger`, every entry not
  delivered with its reason.

Example:
    ```python
    loop = DeliveryLoop(dispatcher, ledger, ordered=False, start_margin=None)
    # one call, then retries and splits of what failed
    loop.deliver_calls(batch)
    parts = split_parts(entries, budget=3)  # 25 entries -> 3 parts of 9, 8 and 8
    ```
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from ..core.deadline import NO_DEADLINE
from ..core.retry import ErrorInfo, is_splittable
from ..core.unprocessed import DEADLINE_EXCEEDED
from .ledger import Ledger
from .packing import Entry, next_wave

logger = logging.getLogger("lambda_batch.dispatchers")

Pairs = List[Tuple[Entry, ErrorInfo]]


class DeliveryLoop:
    """Sends batches of entries for ``operation`` under its retry policy and deadline.

    ``operation`` provides ``_send(client, entries)``, ``_prepare()``, ``client``,
    ``retry_policy``, ``_deadline`` and ``target_description`` (read at each use: a new
    deadline applies at once). ``start_margin``: seconds before the deadline after which no
    call starts (``None``: the retry policy's ``deadline_margin``). ``halt_code`` and
    ``halt_noun`` word an entry held back behind its key's undelivered one.
    """

    def __init__(
        self,
        operation: Any,
        ledger: Ledger,
        *,
        ordered: bool,
        start_margin: Optional[float],
        halt_code: str,
        halt_noun: str,
    ) -> None:
        self.operation = operation
        self.ledger = ledger
        self.ordered = ordered
        self.start_margin = start_margin
        self._halt_code = halt_code
        self._halt_noun = halt_noun
        self._lock = threading.Lock()  # the counters (batches may be sent by several threads)
        #: Calls made (retries included), entries delivered, calls that were retries, splits.
        self.counters = {"calls": 0, "entries_sent": 0, "retries": 0, "splits": 0}

    def counts(self) -> Dict[str, int]:
        """A snapshot of the loop's counters."""
        with self._lock:
            return dict(self.counters)

    def deliver(self, batch: List[Entry]) -> None:
        """Send one batch, retrying what is worth retrying; in ordered mode in waves, at most one
        entry per order key in each, so an entry is resolved before the next of its key is sent."""
        if not self.ordered:
            self.deliver_calls(batch)
            return
        remaining = batch
        while remaining:
            wave, remaining = next_wave(remaining)
            self.deliver_calls(wave)

    def deliver_calls(self, batch: List[Entry]) -> None:
        """Send ``batch`` in one call, then retry or split what failed, each entry within its
        own attempt budget (``max_attempts`` calls carrying it, across splits).

        Before every call (the first as well as each retry), the entries of halted keys are
        held back, and nothing is sent once the deadline is within the margin.
        """
        pending = batch
        last_errors: Dict[int, ErrorInfo] = {}  # seq -> the error of the attempt before a retry
        op = self.operation
        try:
            while pending:
                if self.ledger.halts or op._deadline is not NO_DEADLINE:
                    pending = self._startable(pending, last_errors)
                    if not pending:
                        return
                results = self._attempt(pending)
                if results[0] is not None and self._split_spoiled(pending, results):
                    return
                retry = self._settle(pending, results)
                if not retry or not self._wait_to_retry(retry, len(pending)):
                    return
                pending = [entry for entry, _ in retry]
                last_errors = {entry.seq: error for entry, error in retry}
        except BaseException as exc:  # never lose an item, whatever went wrong
            self._fail_unresolved(pending, exc)
            if not isinstance(exc, Exception):
                raise

    def _fail_unresolved(self, pending: List[Entry], exc: BaseException) -> None:
        """Hand back the entries of ``pending`` neither delivered nor handed back yet, after ``exc``."""
        info = ErrorInfo(type(exc).__name__, f"{type(exc).__name__} while sending", False)
        self.ledger.fail([(entry, info) for entry in pending if not entry.done])

    def _split_spoiled(self, pending: List[Entry], results: Sequence[Optional[ErrorInfo]]) -> bool:
        """Split the call when one bad entry spoiled it all (True: the parts were sent)."""
        split = split_error(pending, results, self.operation.retry_policy.splits)
        if split is None:
            return False
        self._split(pending, split)
        return True

    def _startable(self, pending: List[Entry], last_errors: Dict[int, ErrorInfo]) -> List[Entry]:
        """The entries that may go in the next call: not of a halted key, and none once the
        deadline is within the margin (then they are handed back)."""
        if self.ledger.halts and self.ledger.halted:
            pending = self.hold_back_halted(pending)
        if pending and self.operation._deadline is not NO_DEADLINE and self._too_late(pending, last_errors):
            return []
        return pending

    def hold_back_halted(self, entries: List[Entry]) -> List[Entry]:
        """Fail the entries of keys halted by an earlier undelivered entry; return the rest."""
        with self.ledger.lock:
            if not self.ledger.halted:
                return entries
            halted = dict(self.ledger.halted)
        keep: List[Entry] = []
        held: Pairs = []
        for entry in entries:
            stop = halted.get(entry.order_key) if entry.order_key is not None else None
            if stop is not None and stop[0] < entry.seq:
                message = f"held back: its {self._halt_noun} is halted because {stop[1]} was not delivered"
                held.append((entry, ErrorInfo(self._halt_code, message, True)))
            else:
                keep.append(entry)
        self.ledger.fail(held)
        return keep

    def _attempt(self, entries: List[Entry]) -> List[Optional[ErrorInfo]]:
        for entry in entries:
            entry.attempts += 1
        op = self.operation
        try:
            op._prepare()
            client = op.client
        except Exception as exc:
            return [op.retry_policy.classify(exc)] * len(entries)
        with self._lock:
            self.counters["calls"] += 1
        try:
            results: List[Optional[ErrorInfo]] = op._send(client, entries)
        except Exception as exc:
            return [op.retry_policy.classify(exc)] * len(entries)
        if len(results) != len(entries):  # pragma: no cover - a service response out of shape
            raise RuntimeError(f"{len(results)} results for {len(entries)} entries")
        return results

    def _too_late(self, pending: List[Entry], last_errors: Dict[int, ErrorInfo]) -> bool:
        """Fail ``pending`` and return True when no call may start any more."""
        op = self.operation
        margin = op.retry_policy.deadline_margin if self.start_margin is None else self.start_margin
        if not op._deadline.expired(margin):
            return False
        self.ledger.fail([(entry, self._deadline_error(last_errors.get(entry.seq))) for entry in pending])
        return True

    def _wait_to_retry(self, retry: Pairs, sent: int) -> bool:
        """Wait the backoff before retrying ``retry``; fail them, returning False, if the deadline forbids."""
        op = self.operation
        policy = op.retry_policy
        attempt = max(entry.attempts for entry, _ in retry)
        delay = policy.backoff(attempt)
        if not policy.can_retry(attempt, delay, op._deadline):
            self.ledger.fail([(entry, self._deadline_error(error)) for entry, error in retry])
            return False
        logger.info(
            "%s: retrying %d of %d entries in %.3fs (attempt %d failed: %s)",
            op.target_description,
            len(retry),
            sent,
            delay,
            attempt,
            retry[0][1].code,
        )
        policy.sleep(delay)
        with self._lock:
            self.counters["retries"] += 1
        return True

    def _settle(self, pending: List[Entry], results: Sequence[Optional[ErrorInfo]]) -> Pairs:
        """Record what one call delivered and what failed for good; return what to retry."""
        retry: Pairs = []
        final: Pairs = []
        delivered = 0
        for entry, error in zip(pending, results, strict=False):
            if error is None:
                delivered += 1
                entry.done = True
            elif error.retryable:
                retry.append((entry, error))
            else:
                final.append((entry, error))
        with self._lock:
            self.counters["entries_sent"] += delivered
        halts = self.ledger.halts
        if retry:
            if halts and delivered:
                retry = drop_overtaken(pending, results, retry, final)
            retry = self._within_budget(retry, final)
        if final:
            if len(final) > 1:
                final.sort(key=_entry_seq)
            self.ledger.fail(final)
            if halts and retry:
                kept = {id(entry) for entry in self.hold_back_halted([entry for entry, _ in retry])}
                retry = [(entry, error) for entry, error in retry if id(entry) in kept]
        return retry

    def _within_budget(self, retry: Pairs, final: Pairs) -> Pairs:
        """The entries of ``retry`` with attempts left; the others go to ``final``, marked given up."""
        max_attempts = self.operation.retry_policy.max_attempts
        still: Pairs = []
        for entry, error in retry:
            if entry.attempts >= max_attempts:
                final.append(
                    (entry, error._replace(message=f"{error.message} (gave up: {entry.attempts} attempts)"))
                )
            else:
                still.append((entry, error))
        return still

    def _split(self, pending: List[Entry], error: ErrorInfo) -> None:
        """One entry may have spoiled the whole call: isolate it within the entries' attempt budget."""
        budget = self.operation.retry_policy.max_attempts - max(entry.attempts for entry in pending)
        if budget <= 0:
            spent = error._replace(message=f"{error.message} (gave up: attempt budget spent isolating it)")
            self.ledger.fail([(entry, spent) for entry in pending])
            return
        with self._lock:
            self.counters["splits"] += 1
        for part in split_parts(pending, budget):
            self.deliver_calls(part)

    def _deadline_error(self, last: Optional[ErrorInfo]) -> ErrorInfo:
        """The reason for an entry not sent (or not sent again) because the deadline is near."""
        op = self.operation
        remaining = op._deadline.remaining()
        margin = op.retry_policy.deadline_margin
        left = "the deadline has passed" if remaining <= 0 else f"{remaining:.3f}s left before the deadline"
        message = f"not sent: {left}, within the retry policy's deadline_margin of {margin:g}s"
        if last is not None:
            message += f" (last error {last.code}: {last.message})"
        return ErrorInfo(DEADLINE_EXCEEDED, message, True)


def _entry_seq(pair: Tuple[Entry, ErrorInfo]) -> int:
    return pair[0].seq


def split_error(
    pending: Sequence[Any],
    results: Sequence[Optional[ErrorInfo]],
    splits: Callable[[Optional[ErrorInfo]], bool] = is_splittable,
) -> Optional[ErrorInfo]:
    """The error to split on: the same splittable error (``splits``: the retry policy's rule)
    for every entry of a call of two or more."""
    if len(pending) < 2 or not results:
        return None
    first = results[0]
    if first is None or not splits(first):
        return None
    return first if all(other is first for other in results) else None


def split_parts[T](entries: Sequence[T], budget: int) -> List[List[T]]:
    """``entries`` cut, in order, into the fewest near-equal parts (at least two) such that
    ``budget`` more levels of splitting reach single entries.

    Example:
        ```python
        [len(p) for p in split_parts(list(range(25)), 4)]     # [9, 8, 8]
        [len(p) for p in split_parts(list(range(25)), 5)]     # [13, 12]
        ```
    """
    count = len(entries)
    parts = 2
    while parts < count and parts ** max(budget, 1) < count:
        parts += 1
    parts = min(parts, count)
    size, extra = divmod(count, parts)
    out: List[List[T]] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        out.append(list(entries[start:end]))
        start = end
    return out


def drop_overtaken(
    pending: Sequence[Entry],
    results: Sequence[Optional[ErrorInfo]],
    retry: Pairs,
    final: Pairs,
) -> Pairs:
    """Move to ``final`` the retryable entries a later message of their group overtook.

    The service may accept a group's later message in the same call as an earlier one it
    refused; sending the earlier one again would put it behind, so it is returned instead.
    """
    last_delivered: Dict[Hashable, int] = {}
    for entry, error in zip(pending, results, strict=False):
        if error is None and entry.order_key is not None:
            last_delivered[entry.order_key] = entry.seq
    still: Pairs = []
    for entry, error in retry:
        if entry.order_key is not None and last_delivered.get(entry.order_key, -1) > entry.seq:
            note = "not retried: a later message of its group was delivered by the same call"
            final.append((entry, error._replace(message=f"{error.message} ({note})")))
        else:
            still.append((entry, error))
    return still
