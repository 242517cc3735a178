"""What every dispatcher shares: buffering, packing, sending, retrying, and handing back what failed.

A dispatcher is made of the engine's parts, one concept per module:

- ``packing``: next-fit packing under the entry and byte caps, in submission order;
- ``delivery_loop``: the one retry/split/deadline loop (shared with the SQS processors'
  DeleteMessageBatch and ChangeMessageVisibilityBatch, see ``sqs_actions``);
- ``halting``: FIFO message groups (and Kinesis keys in ordered mode) halted by a failure;
- ``workers``: the ordered thread pool of ``max_workers``;
- ``bookkeeping``: counters and the items handed back.

Each service's dispatcher only says how to build its request entry (``_add``), how to make
its call and read the response (``_send``), and its limits (``limits.SERVICE_LIMITS``).
What cannot be delivered is handed back by :meth:`BaseDispatcher.flush_payloads`, each item
the very object that was submitted, with its reason beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..core.arns import Arn, parse_arn
from ..core.clients import ClientProvider, timeout_bucket
from ..core.deadline import Deadline
from ..core.limits import ServiceLimits
from ..core.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from ..core.unprocessed import UnprocessedItem
from ..errors import ConfigurationError
from .delivery import SPLITTABLE_ERROR_CODES, call_timeout, entry_results
from .delivery_loop import DeliveryLoop
from .entries import DispatcherStats, Entry
from .packing import Packing
from .workers import OrderedWorkers

if TYPE_CHECKING:  # pragma: no cover
    from types import TracebackType

__all__ = [
    "SPLITTABLE_ERROR_CODES",
    "BaseDispatcher",
    "DispatcherStats",
    "Entry",
    "entry_results",
    "target_arn",
]


class BaseDispatcher(DeliveryLoop, OrderedWorkers, Packing):
    """Buffers submitted items and sends them in full batches; subclasses speak to one service.

    Common keyword arguments of every dispatcher:

    - ``boto3_session``, ``client``, ``config`` and extra keyword arguments for the client
      (``endpoint_url``, ``region_name``...). Without ``client`` and ``config``, the client
      makes one attempt per call (botocore's own retries are off) so that the dispatcher's
      ``retry_policy`` alone decides, and can keep to the deadline.
    - ``retry_policy``: a :class:`~lambda_batch.core.retry.RetryPolicy` (default: 5 attempts in all).
    - ``context`` or ``deadline``: a Lambda context, a :class:`~lambda_batch.core.deadline.Deadline`
      or seconds from now. Once less than the retry policy's ``deadline_margin`` is left, no
      call starts (neither a first send nor a retry): the items not yet delivered come back
      from :meth:`flush_payloads` with code ``DeadlineExceeded``, so the function can still
      return in time. :meth:`set_deadline` changes it per invocation.
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
        self.retry_policy = retry_policy or DEFAULT_RETRY_POLICY
        self._deadline = Deadline.coerce(deadline if deadline is not None else context)
        if clients is None:
            clients = ClientProvider(
                service,
                boto3_session=boto3_session,
                config=config,
                client=client,
                shared_config=_default_client_options(max_workers),
                owner=type(self).__name__,
                **client_kwargs,
            )
        self._clients = clients
        self._region = region
        self._last_unprocessed: List[UnprocessedItem] = []
        self._init_books()
        self._init_packing()
        self._init_workers(max_workers, self._deliver)

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
        self._wait_inflight()
        self._end_workers()  # no thread outlives the flush (a dispatcher never closed leaks none)
        failed = self._take_failed()
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
        if self._open or self._busy() or self._failed:
            self.flush_payloads()
        self._closed = True
        self._stop_workers()

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


def _check_options(
    limits: ServiceLimits,
    max_batch_size: Any,
    max_batch_bytes: Any,
    max_workers: Any,
    retry_policy: Any,
) -> int:
    """Refuse settings out of range (ConfigurationError naming them); the byte cap to use."""
    _positive_int("max_batch_size", max_batch_size)
    if max_batch_size > limits.max_entries:
        raise ConfigurationError(
            f"max_batch_size {max_batch_size} is above the {limits.operation} limit of "
            f"{limits.max_entries} entries per call"
        )
    if max_batch_bytes is None:
        max_batch_bytes = limits.max_batch_bytes
    _positive_int("max_batch_bytes", max_batch_bytes)
    if max_batch_bytes > limits.max_batch_bytes:
        raise ConfigurationError(
            f"max_batch_bytes {max_batch_bytes} is above the {limits.operation} limit of "
            f"{limits.max_batch_bytes} bytes per call"
        )
    _positive_int("max_workers", max_workers)
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise ConfigurationError("retry_policy must be a lambda_batch.RetryPolicy")
    return int(max_batch_bytes)


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, not {value!r}")
