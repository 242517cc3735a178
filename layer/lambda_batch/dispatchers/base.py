"""What every dispatcher shares: buffering, packing, sending, retrying, and handing back what failed.

Packing is next-fit under two caps, the entry count and the byte size: items keep the order
they were submitted in, and a batch is sent the moment the next item would not fit (or it is
full), so no order-keeping packing makes fewer calls and memory stays bounded by one batch.
Each item is measured once, when it is submitted; the batch's size is kept as a running total,
so submitting is O(1).

Sending retries what is worth retrying, whole calls and single entries alike, with capped
exponential backoff and full jitter (:class:`~lambda_batch.retry.RetryPolicy`), never past the
deadline; what cannot be delivered is handed back by :meth:`BaseDispatcher.flush_payloads`,
each item the very object that was submitted, with its reason beside it.

No call starts once less than the policy's ``deadline_margin`` is left before the deadline:
first sends and retries alike, the items come back with code ``DeadlineExceeded``. For FIFO
targets (SQS FIFO queues, SNS FIFO topics), a message that cannot be delivered halts its
message group until the next flush: the group's later messages are not sent and come back
with code ``FifoGroupHalted``, naming the message that failed.
"""

from __future__ import annotations

import itertools
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import TYPE_CHECKING, Any, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from ..arns import Arn, parse_arn
from ..clients import ClientProvider, timeout_bucket
from ..deadline import Deadline
from ..exceptions import ConfigurationError, PayloadError
from ..limits import ServiceLimits
from ..retry import DEFAULT_RETRY_POLICY, ErrorInfo, RetryPolicy, classify_exception
from ..unprocessed import DEADLINE_EXCEEDED, FIFO_GROUP_HALTED, UnprocessedItem
from .delivery import (
    SPLITTABLE_ERROR_CODES,
    call_timeout,
    drop_overtaken,
    entry_results,
    next_wave,
    split_error,
    split_parts,
)
from .entries import DispatcherStats, Entry

if TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

logger = logging.getLogger("lambda_batch.dispatchers")

__all__ = [
    "SPLITTABLE_ERROR_CODES",
    "BaseDispatcher",
    "DispatcherStats",
    "Entry",
    "entry_results",
    "target_arn",
]


class BaseDispatcher:
    """Buffers submitted items and sends them in full batches; subclasses speak to one service.

    Common keyword arguments of every dispatcher:

    - ``boto3_session``, ``client``, ``config`` and extra keyword arguments for the client
      (``endpoint_url``, ``region_name``...). Without ``client`` and ``config``, the client
      makes one attempt per call (botocore's own retries are off) so that the dispatcher's
      ``retry_policy`` alone decides, and can keep to the deadline.
    - ``retry_policy``: a :class:`~lambda_batch.retry.RetryPolicy` (default: 5 attempts in all).
    - ``context`` or ``deadline``: a Lambda context, a :class:`~lambda_batch.deadline.Deadline`
      or seconds from now. Once less than the retry policy's ``deadline_margin`` is left, no
      call starts (neither a first send nor a retry): the items not yet delivered come back
      from :meth:`flush_payloads` with code ``DeadlineExceeded``, so the function can still
      return in time. :meth:`set_deadline` changes it per invocation.
    - ``max_batch_bytes``: a byte cap per call below the service's.
    - ``max_workers``: send up to this many batches at once (default 1: sequential). Order is
      kept per Kinesis partition key, FIFO message group and DynamoDB item key.

    FIFO targets (SQS FIFO queues, SNS FIFO topics) keep each message group in order when a
    message cannot be delivered (a non-retryable failure, retries exhausted, the deadline):
    the group's later messages submitted before the next :meth:`flush_payloads` are not sent.
    They come back from it, as submitted and in order, with code ``FifoGroupHalted`` and a
    message naming the message that failed; other groups go on. A message is never retried
    after a later message of its group was delivered (the service accepted part of a call):
    it comes back with its own error instead. Kinesis partition keys are not halted.

    Delivery is at least once: an entry whose call timed out after the service received it
    may be delivered again by the retry, as with any AWS client.

    Example::

        with SQSBatchDispatcher("jobs", max_workers=4) as sqs:
            for job in jobs:
                sqs.submit_payload(job)
        failed = sqs.unprocessed_items       # what could not be sent, as submitted
    """

    #: Shown in logs and errors, e.g. "SQS queue jobs".
    target_description = "target"
    #: Whether an undelivered item halts the later items of its ``order_key`` (FIFO message groups).
    _halts_groups = False
    #: Ordered mode: a call carries at most one unresolved item per ``order_key`` (Kinesis ``ordered=True``).
    _ordered = False
    #: The code and wording of an item held back because an earlier one of its key was not delivered.
    _halt_code = FIFO_GROUP_HALTED
    _halt_noun = "message group"

    def __init__(
        self,
        service: str,
        limits: ServiceLimits,
        *,
        max_batch_size: int,
        max_batch_bytes: Optional[int] = None,
        boto3_session: Any = None,
        client: Any = None,
        config: Any = None,
        retry_policy: Optional[RetryPolicy] = None,
        context: Any = None,
        deadline: Any = None,
        max_workers: int = 1,
        region: Optional[str] = None,
        **client_kwargs: Any,
    ) -> None:
        if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be a positive integer, not {max_batch_size!r}")
        if max_batch_size > limits.max_entries:
            raise ConfigurationError(
                f"max_batch_size {max_batch_size} is above the {limits.operation} limit of "
                f"{limits.max_entries} entries per call"
            )
        if max_batch_bytes is None:
            max_batch_bytes = limits.max_batch_bytes
        if isinstance(max_batch_bytes, bool) or not isinstance(max_batch_bytes, int) or max_batch_bytes < 1:
            raise ConfigurationError(f"max_batch_bytes must be a positive integer, not {max_batch_bytes!r}")
        if max_batch_bytes > limits.max_batch_bytes:
            raise ConfigurationError(
                f"max_batch_bytes {max_batch_bytes} is above the {limits.operation} limit of "
                f"{limits.max_batch_bytes} bytes per call"
            )
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigurationError(f"max_workers must be a positive integer, not {max_workers!r}")
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError("retry_policy must be a lambda_batch.RetryPolicy")
        self.limits = limits
        self.max_batch_size = max_batch_size
        self.max_batch_bytes = max_batch_bytes
        self.max_workers = max_workers
        self.retry_policy = retry_policy or DEFAULT_RETRY_POLICY
        self._deadline = Deadline.coerce(deadline if deadline is not None else context)
        self._clients = ClientProvider(
            service,
            boto3_session=boto3_session,
            config=config,
            client=client,
            shared_config=_default_client_options(max_workers),
            owner=type(self).__name__,
            **client_kwargs,
        )
        self._region = region

        self._lock = threading.RLock()  # the open batch and the sequence
        self._results_lock = threading.Lock()  # failures and counters
        self._seq = itertools.count()
        self._open: List[Entry] = []
        self._open_bytes = 0
        self._open_keys: Dict[Hashable, Entry] = {}
        self._failed: List[Tuple[int, UnprocessedItem]] = []
        self._last_unprocessed: List[UnprocessedItem] = []
        self._counters: Dict[str, int] = dict.fromkeys(DispatcherStats.__dataclass_fields__, 0)

        self._executor: Optional[ThreadPoolExecutor] = None
        self._slots = threading.BoundedSemaphore(2 * max_workers)
        self._order_lock = threading.Lock()
        self._last_by_key: Dict[Hashable, Future[None]] = {}
        self._inflight: Set[Future[None]] = set()
        # FIFO message group -> (seq, record id) of its earliest undelivered message, this flush.
        self._halted: Dict[Hashable, Tuple[int, str]] = {}
        self._closed = False

    # ------------------------------------------------------------------ public API

    def flush_payloads(self) -> List[Any]:
        """Send everything buffered; return the items not delivered since the last flush.

        That includes items of batches sent while submitting (a full batch goes at once).
        Each returned item is the very object that was submitted, in submission order; the
        reasons are in :attr:`unprocessed_details`. Delivery failures are never raised.
        FIFO message groups halted by a failure open again for what is submitted next.

        Example::

            failed = dispatcher.flush_payloads()
            if failed:
                dead_letter(failed)
        """
        with self._lock:
            while self._open:  # in ordered mode a seal may leave later records of a key open
                self._seal()
        with self._order_lock:
            pending = list(self._inflight)
        if pending:
            wait_futures(pending)
        with self._results_lock:
            failed = self._failed
            self._failed = []
            self._halted = {}
        failed.sort(key=lambda pair: pair[0])
        self._last_unprocessed = [item for _, item in failed]
        return [item.item for item in self._last_unprocessed]

    @property
    def unprocessed_items(self) -> List[Any]:
        """The items the last :meth:`flush_payloads` returned (the submitted objects)."""
        return [item.item for item in self._last_unprocessed]

    @property
    def unprocessed_details(self) -> List[UnprocessedItem]:
        """The items the last flush returned, each with its error code, message and attempts."""
        return list(self._last_unprocessed)

    @property
    def stats(self) -> DispatcherStats:
        """A snapshot of the counters (calls, entries sent, retries, failures...)."""
        with self._results_lock:
            return DispatcherStats(**self._counters)

    @property
    def deadline(self) -> Deadline:
        """The deadline retries keep to."""
        return self._deadline

    def set_deadline(self, context_or_deadline: Any) -> None:
        """Keep calls within a new deadline: a Lambda context, a Deadline, seconds, or ``None``.

        Example::

            def handler(event, context):
                dispatcher.set_deadline(context)
        """
        self._deadline = Deadline.coerce(context_or_deadline)

    @property
    def client(self) -> Any:
        """The boto3 client the dispatcher sends with now (made on first use).

        Under a deadline its connect and read timeouts follow the time left (one client per
        timeout step), so a call in flight ends before the deadline's margin; a ``client=``
        given by the user keeps its own timeouts.
        """
        timeout = None
        remaining = self._deadline.remaining()
        if remaining != float("inf"):
            timeout = timeout_bucket(call_timeout(remaining, self.retry_policy.deadline_margin))
        return self._clients.get(self._region, timeout)

    def close(self) -> None:
        """Flush what is left, then stop the sending threads (if ``max_workers`` > 1).

        After a flush with nothing left, :attr:`unprocessed_items` keeps that flush's result.
        """
        with self._order_lock:  # a finished batch may not have left _inflight yet: it is not busy
            busy = any(not future.done() for future in self._inflight)
        if self._open or busy or self._failed:
            self.flush_payloads()
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> BaseDispatcher:
        return self

    def __exit__(
        self,
        exc_type: Optional[type],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.target_description}, max_batch_size={self.max_batch_size})"

    # ------------------------------------------------------------------ for subclasses

    def _item_limit(self) -> int:
        """The largest item accepted now (subclasses lower or raise it from the resource's settings)."""
        return min(self.limits.max_item_bytes, self.max_batch_bytes)

    def _check_size(self, size: int, record_id: str) -> None:
        limit = self._item_limit()
        if size > limit:
            if size <= self.limits.max_item_bytes and limit == self.max_batch_bytes:
                name = f"max_batch_bytes setting ({limit} bytes)"
            else:
                name = f"{self.limits.item_limit_name}: {limit} bytes"
            raise PayloadError(f"{record_id} is {size} bytes, over the {name}")

    def _add(
        self,
        payload: Any,
        request: Dict[str, Any],
        size: int,
        *,
        record_id: Optional[str] = None,
        order_key: Optional[Hashable] = None,
        dedupe_key: Optional[Hashable] = None,
    ) -> None:
        """Buffer one measured item; send the open batch when the item does not fit or it is full."""
        if self._closed:
            raise ConfigurationError(f"{type(self).__name__} is closed")
        with self._lock:
            seq = next(self._seq)
            rid = record_id if record_id is not None else f"item #{seq}"
            self._check_size(size, rid)
            entry = Entry(
                payload,
                request,
                size,
                seq=seq,
                record_id=rid,
                order_key=dedupe_key if dedupe_key is not None else order_key,
            )
            superseded = 0
            if dedupe_key is not None:
                old = self._open_keys.pop(dedupe_key, None)
                if old is not None:
                    self._open.remove(old)  # at most max_batch_size entries: bounded work
                    self._open_bytes -= old.size
                    superseded = 1
                    logger.debug(
                        "%s: %s supersedes %s (same key)", self.target_description, rid, old.record_id
                    )
            with self._results_lock:
                counters = self._counters
                counters["submitted"] += 1
                counters["superseded"] += superseded
            while self._open and (
                len(self._open) >= self.max_batch_size or self._open_bytes + size > self.max_batch_bytes
            ):
                self._seal()  # sends at least one entry: the loop ends
            self._open.append(entry)
            self._open_bytes += size
            if dedupe_key is not None:
                self._open_keys[dedupe_key] = entry
            if len(self._open) >= self.max_batch_size or self._open_bytes >= self.max_batch_bytes:
                self._seal()

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        """Make one batch call for ``entries``; return, per entry and in order, None or its error.

        Raise for a whole-call failure (the exception is classified by the base class).
        """
        raise NotImplementedError

    def _prepare(self) -> None:
        """Resolve whatever sending needs (a queue URL...) before a call; raise to fail the batch."""

    # ------------------------------------------------------------------ internals

    def _seal(self) -> None:
        batch = self._open
        self._open = []
        self._open_bytes = 0
        self._open_keys = {}
        if self._ordered and self.max_workers == 1:
            # One call carries the earliest open entry of each key; the others stay open, ahead of
            # what is submitted next, so the next call is filled with other keys' entries too.
            wave, rest = next_wave(batch)
            self._open = rest
            self._open_bytes = sum(entry.size for entry in rest)
            self._deliver_calls(wave)
            return
        if self.max_workers == 1:
            self._deliver(batch)
        else:
            self._submit_concurrent(batch)

    def _submit_concurrent(self, batch: List[Entry]) -> None:
        self._slots.acquire()  # bounded: at most 2 * max_workers batches waiting or in flight
        try:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_workers, thread_name_prefix="lambda-batch-dispatch"
                )
            keys = {entry.order_key for entry in batch if entry.order_key is not None}
            with self._order_lock:
                deps = {self._last_by_key[key] for key in keys if key in self._last_by_key}
                future = self._executor.submit(self._run_after, batch, list(deps))
                for key in keys:
                    self._last_by_key[key] = future
                self._inflight.add(future)
        except BaseException:
            self._slots.release()
            raise

        def done(fut: Future[None], keys: Set[Hashable] = keys) -> None:
            with self._order_lock:
                self._inflight.discard(fut)
                for key in keys:
                    if self._last_by_key.get(key) is fut:
                        del self._last_by_key[key]

        future.add_done_callback(done)

    def _run_after(self, batch: List[Entry], deps: List[Future[None]]) -> None:
        # Earlier batches sharing a partition key / message group / item key go first. They were
        # submitted earlier to a FIFO pool, so they are already running: waiting cannot deadlock.
        try:
            if deps:
                wait_futures(deps)
            self._deliver(batch)
        finally:
            self._slots.release()

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
        held back, and nothing is sent once the deadline is within the policy's margin.
        """
        policy = self.retry_policy
        pending = batch
        last_errors: Dict[int, ErrorInfo] = {}  # seq -> the error of the attempt before a retry
        try:
            while pending:
                pending = self._hold_back_halted(pending)
                if not pending:
                    return
                if self._deadline.expired(policy.deadline_margin):
                    self._fail(
                        [(entry, self._deadline_error(last_errors.get(entry.seq))) for entry in pending]
                    )
                    return
                results = self._attempt(pending)
                split = split_error(pending, results)
                if split is not None:
                    self._split(pending, split)
                    return
                retry = self._settle(pending, results)
                if not retry:
                    return
                attempt = max(entry.attempts for entry, _ in retry)
                delay = policy.backoff(attempt)
                if not policy.can_retry(attempt, delay, self._deadline):
                    self._fail([(entry, self._deadline_error(error)) for entry, error in retry])
                    return
                logger.info(
                    "%s: retrying %d of %d entries in %.3fs (attempt %d failed: %s)",
                    self.target_description,
                    len(retry),
                    len(pending),
                    delay,
                    attempt,
                    retry[0][1].code,
                )
                policy.sleep(delay)
                pending = [entry for entry, _ in retry]
                last_errors = {entry.seq: error for entry, error in retry}
                self._count(retries=1)
        except BaseException as exc:  # never lose an item, whatever went wrong
            info = ErrorInfo(type(exc).__name__, f"{type(exc).__name__} while sending", False)
            self._fail([(entry, info) for entry in pending if not entry.done])
            if not isinstance(exc, Exception):
                raise

    def _settle(
        self, pending: List[Entry], results: Sequence[Optional[ErrorInfo]]
    ) -> List[Tuple[Entry, ErrorInfo]]:
        """Record what one call delivered and what failed for good; return what to retry."""
        retry: List[Tuple[Entry, ErrorInfo]] = []
        final: List[Tuple[Entry, ErrorInfo]] = []
        delivered = 0
        for entry, error in zip(pending, results):
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
        max_attempts = self.retry_policy.max_attempts
        still: List[Tuple[Entry, ErrorInfo]] = []
        for entry, error in retry:
            if entry.attempts >= max_attempts:
                final.append(
                    (entry, error._replace(message=f"{error.message} (gave up: {entry.attempts} attempts)"))
                )
            else:
                still.append((entry, error))
        final.sort(key=lambda pair: pair[0].seq)
        self._fail(final)
        if self._halts_groups and still and final:
            kept = {id(entry) for entry in self._hold_back_halted([entry for entry, _ in still])}
            still = [(entry, error) for entry, error in still if id(entry) in kept]
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

    def _attempt(self, entries: List[Entry]) -> List[Optional[ErrorInfo]]:
        for entry in entries:
            entry.attempts += 1
        try:
            self._prepare()
            client = self.client
        except Exception as exc:
            return [classify_exception(exc)] * len(entries)
        self._count(calls=1)
        try:
            results = self._send(client, entries)
        except Exception as exc:
            error = classify_exception(exc)
            return [error] * len(entries)
        if len(results) != len(entries):  # pragma: no cover - a service response out of shape
            raise RuntimeError(f"{len(results)} results for {len(entries)} entries")
        return results

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
                logging.DEBUG if error.code == self._halt_code else logging.WARNING,
                "%s: %s not delivered after %d attempt(s): %s",
                self.target_description,
                entry.record_id,
                entry.attempts,
                error.code,
            )
            records.append(
                (
                    entry.seq,
                    UnprocessedItem(
                        item=entry.payload,
                        code=error.code,
                        message=error.message,
                        retryable=error.retryable,
                        attempts=entry.attempts,
                        record_id=entry.record_id,
                    ),
                )
            )
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


def target_arn(value: str, service: str, kind: str, resource_prefix: str = "") -> Arn:
    """Parse ``value`` as the ARN of a ``service`` resource (whose resource part starts with
    ``resource_prefix``); raise ConfigurationError naming ``kind`` when it is not one."""
    try:
        arn = parse_arn(value)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if arn.service != service or not arn.resource.startswith(resource_prefix):
        raise ConfigurationError(f"not a {kind} ARN: {value!r}")
    return arn


def _default_client_options(max_workers: int) -> Dict[str, Any]:
    """Config options of the clients the dispatcher makes itself: enough pooled connections for
    the workers (every client of the layer makes one attempt per call: see ``clients``)."""
    return {"max_pool_connections": max(10, max_workers)}
