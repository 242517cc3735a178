"""Resolving large payloads: SQS records whose body is an S3 pointer reach the handler with the payload.

A record carrying the ``ExtendedPayloadSize`` (or legacy ``SQSLargePayloadSize``) message
attribute has a pointer body (`lambda_batch.payloads.pointers`): sent by the layer's
dispatchers, by the AWS SQS or SNS Extended Client libraries, or by SNS with raw message
delivery. Without raw delivery the pointer sits in the SNS envelope's ``Message``, with
the attribute in the envelope's ``MessageAttributes``: the envelope's ``Message`` is
replaced by the payload (the envelope is written again as JSON, so its ``Signature`` no
longer matches it).

Only the buckets named by ``large_payload_buckets`` are read, and deleted from: a pointer to
any other bucket, or an ARN (access point, S3 Object Lambda), fails its record before any
request is made (see `lambda_batch.processing.features.large_payload_options`). GetObject and
DeleteObjects carry ``ExpectedBucketOwner`` (the function's own account unless
``large_payload_bucket_owner`` says otherwise). The size the message declares is checked
against ``max_large_payload_bytes`` before the call, and the object's length against the
declared size before a byte of the body is read.

The object is read (GetObject) just before the record's handler runs, on the thread that
runs it, so records run concurrently are fetched concurrently, and records the processor
skips (deadline guard, FIFO ordering) are never fetched. Each read, its body included, runs
under the retry policy and ends at the invocation's deadline less the policy's margin
(`lambda_batch.payloads.object_reads`), with botocore's own retries off. A pointer that
cannot be read fails its record with `LargePayloadError`, whose text names the reason,
never the body, nor the object's key (chosen by the sender) unless the processor has
``log_exception_messages=True``. The handler gets ``record["body"]`` (and ``record.body``)
holding the payload, and the size attribute removed from ``messageAttributes``, as the
Extended Client's receive gives it; the event itself is left unchanged.

With ``delete_large_payloads=True`` the objects of the records that succeeded are deleted
(DeleteObjects, one call per bucket and 1000 keys) once the batch is over; never those of
failed or skipped records.

Example:
    ```python
    processor = BatchProcessor(
        EventType.SQS,
        resolve_large_payloads=True,
        large_payload_buckets=["my-payloads"],
    )


    def record_handler(record):
        # the original payload, not the pointer
        order = json.loads(record["body"])
    ```
"""

from __future__ import annotations

import json
import logging
import time

from ...errors import LargePayloadError
from ...payloads.pointers import (
    SIZE_ATTRIBUTES,
    PointerError,
    declared_size,
    marked_size,
    read_pointer,
    sns_envelope,
)
from .hooks import Feature

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

    from ...core.clients import ClientProvider
    from ...core.deadline import Deadline
    from ...core.retry import RetryPolicy
    from ..batch import Batch, Outcome
    from .large_payload_options import LargePayloadSettings

logger = logging.getLogger("lambda_batch.large_payloads")

#: S3 DeleteObjects takes at most this many keys (``limits.S3_DELETE_OBJECTS_LIMITS``).
MAX_DELETE_KEYS = 1000


class LargePayloadResolver:
    """Fetches the payloads of pointer records for a processor, and deletes them when asked.

    ``clients`` gives the S3 clients (made like every client of the layer); ``policy`` and
    ``deadline()`` bound each read; ``settings`` say which buckets, whose, how large, and
    ``context()`` gives the batch's Lambda context (its account and memory).

    Example:
        ```python
        settings = check_settings("BatchProcessor", True, ["my-payloads"], None, None)
        resolver = LargePayloadResolver(
            ClientProvider("s3"), None, lambda: deadline, settings
        )
        call = resolver.wrap(record_handler, None)  # fetches, then calls the handler
        ```
    """

    #: Whether error texts and logs name objects by key (the processor's ``log_exception_messages``):
    #: a key is chosen by the message's sender.
    reveal_keys = False

    def __init__(
        self,
        clients: ClientProvider,
        policy: Optional[RetryPolicy],
        deadline: Callable[[], Deadline],
        settings: LargePayloadSettings,
        *,
        context: Callable[[], Any] = lambda: None,
        delete: bool = False,
        log: Any = None,
    ) -> None:
        self.clients = clients
        self._policy = policy
        self._deadline = deadline
        self.settings = settings
        self._context = context
        self.delete = delete
        self.logger = log if log is not None else logger
        # id(record object) -> (bucket, key) of the payloads resolved in the current batch
        self.resolved: Dict[int, Tuple[str, str]] = {}
        self._batch: Optional[Tuple[Optional[str], int]] = None  # the batch's owner and size bound

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of the S3 calls (the layer's default, loaded on first use, unless given)."""
        if self._policy is None:
            from ...core.retry import DEFAULT_RETRY_POLICY

            self._policy = DEFAULT_RETRY_POLICY
        return self._policy

    @policy.setter
    def policy(self, value: RetryPolicy) -> None:
        self._policy = value

    def reset(self) -> None:
        """Forget the previous batch's payloads (and its context's owner and size bound)."""
        self.resolved = {}
        self._batch = None

    def _bounds(self) -> Tuple[Optional[str], int]:
        """The batch's ``ExpectedBucketOwner`` and size bound, read from its context once."""
        bounds = self._batch
        if bounds is None:
            context = self._context()
            bounds = self._batch = (self.settings.owner_for(context), self.settings.max_bytes_for(context))
        return bounds

    # -- before the handler ----------------------------------------------------------

    def wrap(
        self, handler: Callable[[Any], Any], convert: Optional[Callable[[Any], Any]]
    ) -> Callable[[Any], Any]:
        """``handler`` (after ``convert``, a model's) preceded by the record's payload fetch."""
        resolve = self.resolve
        from ..handlers import is_async_handler, is_awaitable

        if is_async_handler(handler):

            async def call_async(record: Any) -> Any:
                import asyncio

                loop = asyncio.get_running_loop()
                resolved = await loop.run_in_executor(None, resolve, record)
                result = handler(resolved if convert is None else convert(resolved))
                if is_awaitable(result):
                    result = await result
                return result

            return call_async

        def call(record: Any) -> Any:
            resolved = resolve(record)
            return handler(resolved if convert is None else convert(resolved))

        return call

    def resolve(self, record: Any) -> Any:
        """``record`` with its payload in ``body`` when it carries a pointer; else ``record`` itself.

        A record object (a dict subclass, already a copy of the event's record) is updated in
        place; a plain event dict is copied first. Raises `LargePayloadError`.
        """
        attributes = record.get("messageAttributes")
        name = marked_size(attributes)
        body = record.get("body")
        envelope = None
        if name is None:
            envelope = sns_envelope(body)
            if envelope is None:
                return record
        rid = record.get("messageId")
        try:
            bucket, key = read_pointer(envelope["Message"] if envelope is not None else body)
            sizes = attributes if envelope is None else envelope["MessageAttributes"]
            size = declared_size(sizes, str(name if envelope is None else marked_size(sizes)))
        except PointerError as exc:
            raise LargePayloadError(f"record {rid}: marked as a large payload, but {exc}") from None
        refusal = self.settings.refusal(bucket)
        if refusal is not None:  # before any request: nothing leaves the process for it
            raise LargePayloadError(f"record {rid}: {refusal}: not read")
        owner, limit = self._bounds()
        if size > limit:
            raise LargePayloadError(
                f"record {rid}: its payload declares {size} bytes, over max_large_payload_bytes ({limit}): "
                "not read"
            )
        payload = self._fetch(bucket, key, rid, size, owner)
        target = record if type(record) is not dict else dict(record)
        if envelope is not None:
            envelope["Message"] = payload
            marks: Dict[str, Any] = envelope["MessageAttributes"]  # a dict: checked by sns_envelope
            envelope["MessageAttributes"] = {k: v for k, v in marks.items() if k not in SIZE_ATTRIBUTES}
            target["body"] = json.dumps(envelope)
        else:
            target["body"] = payload
            target["messageAttributes"] = {k: v for k, v in attributes.items() if k != name}
        self.resolved[id(record)] = (bucket, key)  # the batch's own record: found again by discard()
        return target

    def _fetch(self, bucket: str, key: str, rid: Any, size: int, owner: Optional[str]) -> str:
        from ...core.client_config import timeout_bucket
        from ...core.retry import DeadlineNear, classify_exception
        from ...payloads.object_reads import ObjectRefused, ReadCutOff, read_object

        policy = self.policy
        deadline = self._deadline()
        cutoff = deadline.at - policy.deadline_margin  # connect, headers and body end by then
        attempts = [0]

        def get_object(attempt: int) -> Any:
            attempts[0] = attempt
            timeout = None
            if cutoff != float("inf"):
                timeout = timeout_bucket(max(0.0, cutoff - time.monotonic()) / 2.0)
            client = self.clients.get(None, timeout)
            return read_object(client, bucket, key, declared=size, owner=owner, cutoff=cutoff)

        try:
            data = policy.run(get_object, deadline, start_margin=policy.deadline_margin)  # the one retry loop
        except ObjectRefused as exc:
            raise LargePayloadError(f"record {rid}: its payload was not read: {exc}") from None
        except (ReadCutOff, DeadlineNear) as exc:
            raise LargePayloadError(
                f"record {rid}: its payload could not be read before the deadline margin "
                f"({policy.deadline_margin:g}s) after {attempts[0]} attempt(s): {exc}"
            ) from None
        except Exception as exc:
            raise LargePayloadError(
                f"record {rid}: its payload {self._where(bucket, key)} could not be read after {attempts[0]} "
                f"attempt(s): {classify_exception(exc).code}"
            ) from None
        try:
            return str(data.decode("utf-8"))
        except UnicodeDecodeError:
            where = self._where(bucket, key)
            raise LargePayloadError(f"record {rid}: its payload {where} is not UTF-8 text") from None

    def _where(self, bucket: str, key: str) -> str:
        """An object as error texts name it: its key only with ``reveal_keys``."""
        return f"s3://{bucket}/{key}" if self.reveal_keys else f"in bucket {bucket}"

    # -- after the batch -------------------------------------------------------------

    def discard(self, records: Sequence[Any], positions: Sequence[int]) -> None:
        """Delete the objects of the records at ``positions`` (the succeeded ones) that were resolved.

        An object that another record of the batch also points at (a duplicate delivery, one
        payload sent twice) is kept unless that record succeeded too: it may be delivered again.
        """
        chosen = set(positions)
        needed = set()
        for index, record in enumerate(records):
            if index not in chosen:
                pointer = self.resolved.get(id(record)) or _location(record)
                if pointer is not None:
                    needed.add(pointer)
        by_bucket: Dict[str, Dict[str, None]] = {}
        for index in positions:
            pointer = self.resolved.get(id(records[index]))
            if pointer is not None and pointer not in needed:
                by_bucket.setdefault(pointer[0], {})[pointer[1]] = None  # each key once
        for bucket, unique in by_bucket.items():
            keys = list(unique)
            for start in range(0, len(keys), MAX_DELETE_KEYS):
                self._delete(bucket, keys[start : start + MAX_DELETE_KEYS])

    def _delete(self, bucket: str, keys: List[str]) -> None:
        from ...payloads.object_deletes import ObjectDeletes  # the one delivery engine, loaded when needed

        deletes = ObjectDeletes(
            bucket,
            expected_owner=self._bounds()[0],
            clients=self.clients,
            retry_policy=self.policy,
            deadline=self._deadline(),
        )
        for key in keys:
            deletes.delete(key)
        failed = deletes.run()
        deletes.close()
        if failed:
            self.logger.warning(
                "%d large payload object(s) of processed records not deleted from %s (%s); the bucket's "
                "lifecycle rule expires them%s",
                len(failed),
                bucket,
                failed[0].code,
                ": " + ", ".join(str(item.item) for item in failed[:10])
                if self.reveal_keys
                else " (log_exception_messages=True names their keys)",
            )


class LargePayloads(Feature):
    """The resolver on the processor's hooks: each record's payload read just before its call, the
    objects of the records whose messages are deleted discarded after the batch
    (``delete_large_payloads``)."""

    def __init__(self, resolver: LargePayloadResolver, log: Any, delete_mode: bool = False) -> None:
        self.resolver = resolver
        self.logger = log
        #: Delete mode: the front says which messages it deleted (``outcome.deleted``); natively
        #: Lambda deletes every succeeded one.
        self.delete_mode = delete_mode

    def start(self, batch: Batch, outcome: Outcome) -> None:
        self.resolver.reset()

    def wrap(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return self.resolver.wrap(call, None)

    def after_batch(self, batch: Batch, outcome: Outcome) -> None:
        resolver = self.resolver
        if not resolver.delete:
            return
        positions = outcome.deleted
        if positions is None and not self.delete_mode:
            positions = outcome.succeeded_positions(len(batch.records))
        if not positions:
            return
        try:
            resolver.discard(batch.records, positions)
        except Exception as exc:  # never let a cleanup hide the batch's outcome
            self.logger.warning("deleting large payload objects failed: %s", type(exc).__name__)


def _location(record: Any) -> Optional[Tuple[str, str]]:
    """``(bucket, key)`` of the payload a record points at, read without fetching (``None``: none)."""
    try:
        body = record.get("body")
        if marked_size(record.get("messageAttributes")) is None:
            envelope = sns_envelope(body)
            if envelope is None:
                return None
            body = envelope["Message"]
        return read_pointer(body)
    except Exception:  # not a readable pointer: nothing of it to keep
        return None


def make_resolver(
    processor_name: str,
    resolve: Any,
    delete: Any,
    *,
    buckets: Any = None,
    owner: Any = None,
    max_bytes: Any = None,
    clients: Optional[ClientProvider] = None,
    policy: Optional[RetryPolicy] = None,
    deadline: Callable[[], Deadline],
    context: Callable[[], Any] = lambda: None,
    log: Any = None,
) -> Optional[LargePayloadResolver]:
    """The resolver of a processor made with ``resolve_large_payloads`` / ``delete_large_payloads``
    and the ``large_payload_*`` options (``None`` when off); ``ConfigurationError`` for values
    that make no sense, or for ``resolve_large_payloads=True`` without ``large_payload_buckets``."""
    from ...errors import ConfigurationError
    from .large_payload_options import check_settings

    if not isinstance(resolve, bool) or not isinstance(delete, bool):
        raise ConfigurationError(
            f"{processor_name}: resolve_large_payloads and delete_large_payloads are True or False"
        )
    if delete and not resolve:
        raise ConfigurationError(
            f"{processor_name}: delete_large_payloads=True needs resolve_large_payloads=True"
        )
    settings = check_settings(processor_name, resolve, buckets, owner, max_bytes)
    if settings is None:
        return None
    if clients is None:
        from ...core.clients import ClientProvider

        clients = ClientProvider("s3", owner=processor_name)
    return LargePayloadResolver(clients, policy, deadline, settings, context=context, delete=delete, log=log)


__all__ = ["MAX_DELETE_KEYS", "LargePayloadResolver", "LargePayloads", "make_resolver"]
