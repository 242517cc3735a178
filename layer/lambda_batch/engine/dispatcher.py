"""What every dispatcher is made of: a buffer, a delivery loop and a ledger, composed, and the public face.

A `BaseDispatcher` holds its parts, one concept per module:

- ``packing.Packing``: the buffer, cut into batches under the entry and byte caps (next-fit,
  in submission order);
- ``delivery.DeliveryLoop``: the one retry/split/halting/deadline loop (shared with the SQS
  processors' DeleteMessageBatch and ChangeMessageVisibilityBatch and S3 DeleteObjects);
- ``ledger.Ledger``: the items handed back, with their reasons (and the stats' snapshot);
- ``workers.OrderedWorkers``: with ``max_workers`` > 1 only, batches sent by threads, in order
  per key (not loaded otherwise).

An operation (each service's dispatcher, each SQS action) subclasses it and says only:

- its request entry: ``self._add(payload, request, size, record_id=, order_key=, dedupe_key=)``
  buffers one item (the buffer's ``add``);
- its call and response reading: ``_send(client, entries)`` returns, per entry in order,
  ``None`` or its `ErrorInfo`, or raises for a whole-call failure;
- its limits: ``limits.SERVICE_LIMITS``, and ``_item_limit()`` when the resource lowers the
  largest item (call ``_limits_changed()`` once it is known), ``_check_size()`` to word the
  error of an item over it;
- optionally ``_prepare()`` (resolve a queue URL... before a call) and these class (or
  instance, set before ``__init__``) attributes: ``target_description``, ``_halts_groups``,
  ``_halt_code``/``_halt_noun``, ``_ordered``, ``_start_margin``, ``_failure_log_level``;
  and ``self._ledger.after_fail`` for work on the items handed back.

What cannot be delivered is handed back by `BaseDispatcher.flush_payloads`, each item
the very object that was submitted, with its reason beside it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, List, Optional

from ..core import client_config
from ..core.arns import Arn, parse_arn
from ..core.clients import ClientProvider
from ..core.deadline import NO_DEADLINE, Deadline
from ..core.limits import ServiceLimits
from ..core.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ..core.unprocessed import FIFO_GROUP_HALTED, UnprocessedItem
from ..errors import ConfigurationError
from .delivery import DeliveryLoop
from .ledger import DispatcherStats, Ledger
from .packing import Entry, Packing

if TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

    from .workers import OrderedWorkers

__all__ = ["BaseDispatcher", "target_arn"]


class BaseDispatcher:
    """Buffers submitted items and sends them in full batches; subclasses speak to one service.

    Common keyword arguments of every dispatcher:

    - ``boto3_session``, ``client``, ``config`` and extra keyword arguments for the client
      (``endpoint_url``, ``region_name``...). Without ``client`` and ``config``, the client
      makes one attempt per call (botocore's own retries are off) so that the dispatcher's
      ``retry_policy`` alone decides, and can keep to the deadline.
    - ``retry_policy``: a `RetryPolicy` (default: 5 attempts in all).
    - ``context`` or ``deadline``: a Lambda context, a `Deadline`
      or seconds from now. Once less than the retry policy's ``deadline_margin`` is left, no
      call starts (neither a first send nor a retry): the items not yet delivered come back
      from `flush_payloads` with code ``DeadlineExceeded``, so the function can still
      return in time. `set_deadline` changes it per invocation.
    - ``max_batch_bytes``: a byte cap per call below the service's.
    - ``max_workers``: send up to this many batches at once (default 1: sequential). Order is
      kept per Kinesis partition key, FIFO message group and DynamoDB item key. The threads end
      when the flush ends.
    - ``log_exception_messages``: logs, error texts and ``UnprocessedItem.record_id`` name an
      item by its position (``record #3``, ``item #3``), never by its key, since keys are often
      personal data (an e-mail as a partition key). ``True`` adds the key (a Kinesis partition
      key, a DynamoDB item key, an S3 object key), as the processors' option of the same name
      adds exception messages.

    FIFO targets (SQS FIFO queues, SNS FIFO topics) keep each message group in order when a
    message cannot be delivered (a non-retryable failure, retries exhausted, the deadline):
    the group's later messages submitted before the next `flush_payloads` are not sent.
    They come back from it, as submitted and in order, with code ``FifoGroupHalted`` and a
    message naming the message that failed; other groups go on. A message is never retried
    after a later message of its group was delivered (the service accepted part of a call):
    it comes back with its own error instead. Kinesis partition keys are not halted.

    Delivery is at least once: an entry whose call timed out after the service received it
    may be delivered again by the retry, as with any AWS client.

    Example:
        ```python
        with SQSBatchDispatcher("jobs", max_workers=4) as sqs:
            for job in jobs:
                sqs.submit_payload(job)
        failed = sqs.unprocessed_items       # what could not be sent, as submitted
        ```
    """

    #: Shown in logs and errors, e.g. "SQS queue jobs".
    target_description = "target"
    #: Whether an undelivered item halts the later items of its ``order_key`` (FIFO message groups).
    _halts_groups = False
    #: The code and wording of an item held back because an earlier one of its key was not delivered.
    _halt_code = FIFO_GROUP_HALTED
    _halt_noun = "message group"
    #: Ordered mode: a call carries at most one unresolved item per ``order_key`` (Kinesis ``ordered=True``).
    _ordered = False
    #: Seconds before the deadline after which no call starts; None: the retry policy's ``deadline_margin``.
    _start_margin: Optional[float] = None
    #: The level an item not delivered is logged at (its code and id only).
    _failure_log_level = logging.WARNING

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
        clients: Optional[ClientProvider] = None,
        log_exception_messages: bool = False,
        **client_kwargs: Any,
    ) -> None:
        max_batch_bytes = _check_options(limits, max_batch_size, max_batch_bytes, max_workers, retry_policy)
        if not isinstance(log_exception_messages, bool):
            raise ConfigurationError(
                f"log_exception_messages must be True or False, not {log_exception_messages!r}"
            )
        #: Whether logs and error texts may name items by their keys (see the class docstring).
        self.log_exception_messages = log_exception_messages
        self.limits = limits
        self.max_batch_size = max_batch_size
        self.max_batch_bytes = max_batch_bytes
        self.max_workers = max_workers
        self.retry_policy = retry_policy or DEFAULT_RETRY_POLICY
        when = deadline if deadline is not None else context
        self._deadline = NO_DEADLINE if when is None else Deadline.coerce(when)
        if clients is None:
            clients = ClientProvider(
                service,
                boto3_session=boto3_session,
                config=config,
                client=client,
                shared_config={"max_pool_connections": max(10, max_workers)},
                owner=type(self).__name__,
                **client_kwargs,
            )
        self._clients = clients
        self._region = region
        self._last_unprocessed: List[UnprocessedItem] = []
        self._ledger = Ledger(
            self, halts=self._halts_groups, halt_code=self._halt_code, log_level=self._failure_log_level
        )
        self._delivery = DeliveryLoop(
            self,
            self._ledger,
            ordered=self._ordered,
            start_margin=self._start_margin,
            halt_code=self._halt_code,
            halt_noun=self._halt_noun,
        )
        self._workers: Optional[OrderedWorkers] = None
        if max_workers > 1:
            from .workers import OrderedWorkers  # loaded only for concurrent sends

            self._workers = OrderedWorkers(max_workers, self._delivery.deliver)
        self._buffer = Packing(
            limits,
            max_batch_size=max_batch_size,
            max_batch_bytes=max_batch_bytes,
            item_limit=self._item_limit(),
            # one worker: in the caller's thread, in waves when ordered (deliver_wave)
            deliver=self._workers.submit if self._workers is not None else self._delivery.deliver_calls,
            deliver_wave=self._delivery.deliver_calls if self._ordered and max_workers == 1 else None,
            owner=self,
        )
        #: Buffer one measured item (the buffer's ``add``): what each operation calls to submit.
        self._add = self._buffer.add

    # ------------------------------------------------------------------ for the operations

    def _item_limit(self) -> int:
        """The largest item accepted now (subclasses lower or raise it from the resource's settings)."""
        return min(self.limits.max_item_bytes, self.max_batch_bytes)

    def _check_size(self, size: int, record_id: str) -> None:
        """Raise PayloadError for an item of ``size`` bytes over the largest accepted now."""
        self._buffer.check_size(size, record_id)

    def _limits_changed(self) -> None:
        """Apply a new ``max_batch_bytes`` or ``_item_limit()`` (a resource's settings, read late)."""
        self._buffer.max_batch_bytes = self.max_batch_bytes
        self._buffer.item_limit = self._item_limit()

    def _prepare(self) -> None:
        """Resolve whatever sending needs (a queue URL...) before a call; raise to fail the batch."""

    def _send(self, client: Any, entries: List[Entry]) -> List[Any]:  # pragma: no cover - abstract
        """Make one batch call for ``entries``; return, per entry and in order, None or its ErrorInfo.

        Raise for a whole-call failure (the exception is classified by the delivery loop).
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ public API

    def flush_payloads(self) -> List[Any]:
        """Send everything buffered; return the items not delivered since the last flush.

        That includes items of batches sent while submitting (a full batch goes at once).
        Each returned item is the very object that was submitted, in submission order; the
        reasons are in `unprocessed_details`. Delivery failures are never raised.
        FIFO message groups halted by a failure open again for what is submitted next.

        Example:
            ```python
            failed = dispatcher.flush_payloads()
            if failed:
                dead_letter(failed)
            ```
        """
        buffer = self._buffer
        with buffer.lock:
            while buffer.open:  # in ordered mode a seal may leave later records of a key open
                buffer.seal()
        if self._workers is not None:
            self._workers.wait()
            self._workers.end()  # no thread outlives the flush (a dispatcher never closed leaks none)
        failed = self._ledger.take_failed()
        self._last_unprocessed = [item for _, item in failed]
        return [item.item for item in self._last_unprocessed]

    @property
    def unprocessed_items(self) -> List[Any]:
        """The items the last `flush_payloads` returned (the submitted objects)."""
        return [item.item for item in self._last_unprocessed]

    @property
    def unprocessed_details(self) -> List[UnprocessedItem]:
        """The items the last flush returned, each with its error code, message and attempts."""
        return list(self._last_unprocessed)

    @property
    def stats(self) -> DispatcherStats:
        """A snapshot of the counters (calls, entries sent, retries, failures...)."""
        return self._ledger.stats(self._buffer.submitted, self._buffer.superseded, self._delivery.counts())

    @property
    def deadline(self) -> Deadline:
        """The deadline retries keep to."""
        return self._deadline

    def set_deadline(self, context_or_deadline: Any) -> None:
        """Keep calls within a new deadline: a Lambda context, a Deadline, seconds, or ``None``.

        Example:
            ```python
            def handler(event, context):
                dispatcher.set_deadline(context)
            ```
        """
        self._deadline = NO_DEADLINE if context_or_deadline is None else Deadline.coerce(context_or_deadline)

    @property
    def client(self) -> Any:
        """The boto3 client the dispatcher sends with now (made on first use).

        Under a deadline its connect and read timeouts follow the time left (one client per
        timeout step), so a call in flight ends before the deadline's margin; a ``client=``
        given by the user keeps its own timeouts.
        """
        if self._deadline is NO_DEADLINE:
            return self._clients.get(self._region)
        timeout = None
        remaining = self._deadline.remaining()
        if remaining != float("inf"):
            margin = self.retry_policy.deadline_margin
            timeout = client_config.timeout_bucket(client_config.call_timeout(remaining, margin))
        return self._clients.get(self._region, timeout)

    def close(self) -> None:
        """Flush what is left, then stop the sending threads (if ``max_workers`` > 1).

        After a flush with nothing left, `unprocessed_items` keeps that flush's result.
        """
        busy = self._workers is not None and self._workers.busy()
        if self._buffer.open or busy or self._ledger.failed:
            self.flush_payloads()
        self._buffer.closed = True
        if self._workers is not None:
            self._workers.stop()

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


def target_arn(value: str, service: str, kind: str, resource_prefix: str = "") -> Arn:
    """Parse ``value`` as the ARN of a ``service`` resource (whose resource part starts with
    ``resource_prefix``); raise ConfigurationError naming ``kind`` when it is not one.

    Example:
        ```python
        target_arn(
            "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
            "kinesis",
            "Kinesis stream",
        )
        ```
    """
    try:
        arn = parse_arn(value)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    if arn.service != service or not arn.resource.startswith(resource_prefix):
        raise ConfigurationError(f"not a {kind} ARN: {value!r}")
    return arn


def _check_options(
    limits: ServiceLimits,
    max_batch_size: Any,
    max_batch_bytes: Any,
    max_workers: Any,
    retry_policy: Any,
) -> int:
    """Refuse settings out of range (ConfigurationError naming them); the byte cap to use."""
    if max_batch_bytes is None:
        max_batch_bytes = limits.max_batch_bytes
    for name, value in (
        ("max_batch_size", max_batch_size),
        ("max_batch_bytes", max_batch_bytes),
        ("max_workers", max_workers),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer, not {value!r}")
        if name == "max_batch_size" and value > limits.max_entries:
            raise ConfigurationError(
                f"max_batch_size {value} is above the {limits.operation} limit of "
                f"{limits.max_entries} entries per call"
            )
        if name == "max_batch_bytes" and value > limits.max_batch_bytes:
            raise ConfigurationError(
                f"max_batch_bytes {value} is above the {limits.operation} limit of "
                f"{limits.max_batch_bytes} bytes per call"
            )
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise ConfigurationError("retry_policy must be a lambda_batch.RetryPolicy")
    return int(max_batch_bytes)
