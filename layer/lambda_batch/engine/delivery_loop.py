"""The one delivery loop: send a batch, map per-entry results, retry, split, keep to the deadline.

Every batch call the layer makes runs here: the dispatchers' sends (SendMessageBatch,
PutRecords, BatchWriteItem...) and the SQS processors' DeleteMessageBatch and
ChangeMessageVisibilityBatch (``sqs_actions``). An operation only says how to make its call
and read its response (:meth:`DeliveryLoop._send`) and what it needs first (``_prepare``);
the loop does the rest:

- retries what is worth retrying, whole calls and single entries alike, with the one
  :class:`~lambda_batch.core.retry.RetryPolicy` (capped exponential backoff, full jitter), each
  entry within its own budget of ``max_attempts`` calls, across retries and splits;
- splits a call refused for one bad entry (a validation error, a request too large) to
  isolate it, so the other entries still go through (``delivery.split_error``);
- starts no call once less than the margin is left before the deadline (the items come back
  with code ``DeadlineExceeded``), and gives each call connect and read timeouts that end
  before it (the ``client`` of the operation);
- hands back, through ``Bookkeeping._fail``, every entry not delivered with its reason.

Example::

    class Deletes(DeliveryLoop):
        def _send(self, client, entries):
            response = client.delete_message_batch(QueueUrl=url, Entries=[...])
            return id_results(len(entries), response)
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.deadline import Deadline
from ..core.retry import ErrorInfo, RetryPolicy
from ..core.unprocessed import DEADLINE_EXCEEDED
from .delivery import drop_overtaken, next_wave, split_error, split_parts
from .entries import Entry
from .halting import KeyHalting

logger = logging.getLogger("lambda_batch.dispatchers")


class DeliveryLoop(KeyHalting):
    """Sends batches of entries under the retry policy and the deadline; subclasses make the calls."""

    #: Ordered mode: a call carries at most one unresolved item per ``order_key`` (Kinesis ``ordered=True``).
    _ordered = False
    #: Seconds before the deadline after which no call starts; None: the retry policy's ``deadline_margin``.
    _start_margin: Optional[float] = None

    retry_policy: RetryPolicy
    _deadline: Deadline

    @property
    def client(self) -> Any:  # pragma: no cover - every operation has one
        """The boto3 client for the next call."""
        raise NotImplementedError

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        """Make one batch call for ``entries``; return, per entry and in order, None or its error.

        Raise for a whole-call failure (the exception is classified by the loop).
        """
        raise NotImplementedError

    def _prepare(self) -> None:
        """Resolve whatever sending needs (a queue URL...) before a call; raise to fail the batch."""

    def _deliver(self, batch: List[Entry]) -> None:
        """Send one batch, retrying what is worth retrying; record what is delivered and what is not.

        In ordered mode the batch goes in waves, at most one entry per order key in each, so
        an entry is resolved (delivered or handed back, halting its key) before the next
        entry of its key is sent.
        """
        if not self._ordered:
            self._deliver_calls(batch)
            return
        remaining = batch
        while remaining:
            wave, remaining = next_wave(remaining)
            self._deliver_calls(wave)

    def _deliver_calls(self, batch: List[Entry]) -> None:
        """Send ``batch`` in one call, then retry or split what failed, each entry within its
        own attempt budget (``max_attempts`` calls carrying it, across splits).

        Before every call (the first as well as each retry), the entries of halted keys are
        held back, and nothing is sent once the deadline is within the margin.
        """
        pending = batch
        last_errors: Dict[int, ErrorInfo] = {}  # seq -> the error of the attempt before a retry
        try:
            while pending:
                pending = self._hold_back_halted(pending)
                if not pending or self._too_late(pending, last_errors):
                    return
                results = self._attempt(pending)
                split = split_error(pending, results, self.retry_policy.splits)
                if split is not None:
                    self._split(pending, split)
                    return
                retry = self._settle(pending, results)
                if not retry or not self._wait_to_retry(retry, len(pending)):
                    return
                pending = [entry for entry, _ in retry]
                last_errors = {entry.seq: error for entry, error in retry}
        except BaseException as exc:  # never lose an item, whatever went wrong
            info = ErrorInfo(type(exc).__name__, f"{type(exc).__name__} while sending", False)
            self._fail([(entry, info) for entry in pending if not entry.done])
            if not isinstance(exc, Exception):
                raise

    def _too_late(self, pending: List[Entry], last_errors: Dict[int, ErrorInfo]) -> bool:
        """Fail ``pending`` and return True when no call may start any more."""
        margin = self.retry_policy.deadline_margin if self._start_margin is None else self._start_margin
        if not self._deadline.expired(margin):
            return False
        self._fail([(entry, self._deadline_error(last_errors.get(entry.seq))) for entry in pending])
        return True

    def _wait_to_retry(self, retry: List[Tuple[Entry, ErrorInfo]], sent: int) -> bool:
        """Wait the backoff before retrying ``retry``; fail them, returning False, if the deadline forbids."""
        policy = self.retry_policy
        attempt = max(entry.attempts for entry, _ in retry)
        delay = policy.backoff(attempt)
        if not policy.can_retry(attempt, delay, self._deadline):
            self._fail([(entry, self._deadline_error(error)) for entry, error in retry])
            return False
        logger.info(
            "%s: retrying %d of %d entries in %.3fs (attempt %d failed: %s)",
            self.target_description,
            len(retry),
            sent,
            delay,
            attempt,
            retry[0][1].code,
        )
        policy.sleep(delay)
        self._count(retries=1)
        return True

    def _settle(
        self, pending: List[Entry], results: Sequence[Optional[ErrorInfo]]
    ) -> List[Tuple[Entry, ErrorInfo]]:
        """Record what one call delivered and what failed for good; return what to retry."""
        retry: List[Tuple[Entry, ErrorInfo]] = []
        final: List[Tuple[Entry, ErrorInfo]] = []
        delivered = 0
        for entry, error in zip(pending, results, strict=False):
            if error is None:
                delivered += 1
                entry.done = True
            elif error.retryable:
                retry.append((entry, error))
            else:
                final.append((entry, error))
        self._count(entries_sent=delivered)
        if self._halts_groups and retry and delivered:
            retry = drop_overtaken(pending, results, retry, final)
        still = self._within_budget(retry, final)
        final.sort(key=lambda pair: pair[0].seq)
        self._fail(final)
        if self._halts_groups and still and final:
            kept = {id(entry) for entry in self._hold_back_halted([entry for entry, _ in still])}
            still = [(entry, error) for entry, error in still if id(entry) in kept]
        return still

    def _within_budget(
        self, retry: List[Tuple[Entry, ErrorInfo]], final: List[Tuple[Entry, ErrorInfo]]
    ) -> List[Tuple[Entry, ErrorInfo]]:
        """The entries of ``retry`` with attempts left; the others go to ``final``, marked given up."""
        max_attempts = self.retry_policy.max_attempts
        still: List[Tuple[Entry, ErrorInfo]] = []
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
        budget = self.retry_policy.max_attempts - max(entry.attempts for entry in pending)
        if budget <= 0:
            spent = error._replace(message=f"{error.message} (gave up: attempt budget spent isolating it)")
            self._fail([(entry, spent) for entry in pending])
            return
        self._count(splits=1)
        for part in split_parts(pending, budget):
            self._deliver_calls(part)

    def _deadline_error(self, last: Optional[ErrorInfo]) -> ErrorInfo:
        """The reason for an entry not sent (or not sent again) because the deadline is near."""
        remaining = self._deadline.remaining()
        margin = self.retry_policy.deadline_margin
        left = "the deadline has passed" if remaining <= 0 else f"{remaining:.3f}s left before the deadline"
        message = f"not sent: {left}, within the retry policy's deadline_margin of {margin:g}s"
        if last is not None:
            message += f" (last error {last.code}: {last.message})"
        return ErrorInfo(DEADLINE_EXCEEDED, message, True)

    def _attempt(self, entries: List[Entry]) -> List[Optional[ErrorInfo]]:
        for entry in entries:
            entry.attempts += 1
        try:
            self._prepare()
            client = self.client
        except Exception as exc:
            return [self.retry_policy.classify(exc)] * len(entries)
        self._count(calls=1)
        try:
            results = self._send(client, entries)
        except Exception as exc:
            error = self.retry_policy.classify(exc)
            return [error] * len(entries)
        if len(results) != len(entries):  # pragma: no cover - a service response out of shape
            raise RuntimeError(f"{len(results)} results for {len(entries)} entries")
        return results
