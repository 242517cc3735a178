"""Sending large payloads through S3: the claim check of the SQS and SNS dispatchers.

A payload over the threshold is written to S3 (one PutObject each) and its message carries
the pointer in the AWS Extended Client libraries' format instead
(:mod:`lambda_batch.payloads.pointers`). The pointer message is built, and measured, when
the item is submitted, so packing counts its real size; the object is written when the
batch is sent, once (a retried send does not write it again), the batch's objects
concurrently on up to ``max_workers`` threads, every call under the dispatcher's retry
policy and deadline. An item whose object could not be written is not sent: its message
stays out of the call and the item comes back with the S3 error if retries do not help.

An item that is finally not delivered has its object deleted, unless the send's outcome is
unknown (a read timeout, a dropped connection, a 5xx): the message may then have arrived,
and deleting its object would break it. Such objects, and any whose delete fails, are left
to the bucket's lifecycle rule.

One object per message: a send retried after an unknown outcome writes the payload again
under a new key and points the retried message at it, so if both messages arrive, each has
an object of its own, and a consumer deleting one message's object (``delete_large_payloads``)
never leaves the other pointing at nothing. The first object, if its message never arrived,
is an orphan the bucket's lifecycle rule removes. The payload is therefore kept with its
entry until the entry is done.

Example::

    offloader = PayloadOffloader("my-bucket", None, "payloads/", owner="SQSBatchDispatcher")
    if offloader.should_offload(size, limit):
        request, size = offloader.pointer_request(request, "MessageBody", body, attributes, attributes_size)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.clients import ClientProvider, timeout_bucket
from ..core.retry import ErrorInfo, RetryPolicy, classify_exception
from ..engine.delivery import call_timeout
from ..errors import ConfigurationError, PayloadError
from ..payloads.pointers import (
    MAX_PREFIX_BYTES,
    SIZE_ATTRIBUTE,
    SIZE_ATTRIBUTES,
    new_key,
    pointer_body,
    size_attribute,
)
from .message_attributes import MAX_MESSAGE_ATTRIBUTES
from .serialization import utf8_len

if TYPE_CHECKING:  # pragma: no cover
    from ..core.deadline import Deadline
    from ..engine.entries import Entry

logger = logging.getLogger("lambda_batch.dispatchers.large_payloads")
#: Objects of undelivered messages are deleted in one attempt (the send already spent the budget).
_ONE_ATTEMPT = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0, deadline_margin=0.0)


class OffloadedRequest(Dict[str, Any]):
    """A request entry (the pointer message) whose payload goes to S3 before it is sent."""

    __slots__ = ("bucket", "data", "earlier", "field", "key", "stored", "uncertain")

    def __init__(
        self, request: Mapping[str, Any], bucket: str, key: str, data: str, field: str = "MessageBody"
    ) -> None:
        super().__init__(request)
        self.bucket = bucket
        self.key = key
        self.field = field  # the request field holding the pointer
        self.data = data  # the payload: written again under a new key after an unknown outcome
        self.stored = False
        self.uncertain = False  # a send carrying it may have reached the service
        self.earlier: List[str] = []  # keys of objects left to messages that may have arrived

    def repoint(self, key: str) -> None:
        """Point the message at a new object ``key``, not written yet (same size: keys have one length)."""
        self.earlier.append(self.key)
        self.key = key
        self[self.field] = pointer_body(self.bucket, key)
        self.stored = False
        self.uncertain = False


class PayloadOffloader:
    """Decides which payloads go to S3, writes them, and deletes the objects of undelivered items.

    ``threshold``: ``None`` offloads what would not fit in one message, a number of bytes
    offloads any message larger than that (and what would not fit), ``0`` everything.
    The S3 client is made like every client of the layer (``boto3_session`` and ``config``
    as given to the dispatcher, botocore's retries off, timeouts within the deadline); its
    endpoint and region follow the session and the environment (``AWS_ENDPOINT_URL_S3``).
    """

    #: Whether logs and error texts name objects by key (the dispatcher's ``log_exception_messages``).
    reveal_keys = False

    def __init__(
        self,
        bucket: Any,
        threshold: Any,
        prefix: Any,
        *,
        owner: str,
        boto3_session: Any = None,
        config: Any = None,
        max_workers: int = 1,
    ) -> None:
        if not isinstance(bucket, str) or not 3 <= len(bucket) <= 255:
            raise ConfigurationError(f"large_payload_bucket must be an S3 bucket name, not {bucket!r}")
        if threshold is not None and (
            isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0
        ):
            raise ConfigurationError(
                f"large_payload_threshold must be None or a number of bytes >= 0, not {threshold!r}"
            )
        if not isinstance(prefix, str) or utf8_len(prefix) > MAX_PREFIX_BYTES:
            raise ConfigurationError(
                f"large_payload_prefix must be a string of at most {MAX_PREFIX_BYTES} bytes"
            )
        self.bucket = bucket
        self.threshold: Optional[int] = threshold
        self.prefix = prefix
        self.max_workers = max_workers
        self._clients = ClientProvider(
            "s3",
            boto3_session=boto3_session,
            config=config,
            shared_config={"max_pool_connections": max(10, max_workers)},
            owner=owner,
        )

    # -- at submit -------------------------------------------------------------------

    def check_attributes(self, attributes: Optional[Mapping[str, Any]], label: str) -> None:
        """Refuse the attribute names that mark a pointer message: consumers would misread it."""
        for name in SIZE_ATTRIBUTES:
            if attributes and name in attributes:
                raise PayloadError(
                    f"{label}: message attribute {name!r} is reserved for large payload pointers"
                )

    def should_offload(self, size: int, limit: int) -> bool:
        """Whether a message of ``size`` bytes goes to S3, when ``limit`` is the largest that fits."""
        if size > limit:
            return True
        return self.threshold is not None and size > self.threshold

    def pointer_request(
        self,
        request: Dict[str, Any],
        field: str,
        body: str,
        attributes: Optional[Dict[str, Any]],
        attributes_size: int,
        *,
        label: str,
    ) -> Tuple[OffloadedRequest, int]:
        """The pointer message in place of ``request`` (whose ``field`` holds ``body``), and its size."""
        count = len(attributes or ())
        if count >= MAX_MESSAGE_ATTRIBUTES:
            raise PayloadError(
                f"{label}: {count} message attributes and {SIZE_ATTRIBUTE} are over the limit of "
                f"{MAX_MESSAGE_ATTRIBUTES} per message (a large payload's pointer needs one)"
            )
        key = new_key(self.prefix)
        pointer = pointer_body(self.bucket, key)
        marker = size_attribute(utf8_len(body))
        offloaded = OffloadedRequest(request, self.bucket, key, body, field)
        offloaded[field] = pointer
        offloaded["MessageAttributes"] = dict(attributes or {}, **{SIZE_ATTRIBUTE: marker})
        size = (
            utf8_len(pointer)
            + attributes_size
            + len(SIZE_ATTRIBUTE)
            + len(marker["DataType"])
            + len(marker["StringValue"])
        )
        return offloaded, size

    # -- at send ---------------------------------------------------------------------

    def store(
        self,
        entries: Sequence[Entry],
        deadline: Deadline,
        policy: RetryPolicy,
        *,
        ordered: bool,
    ) -> Dict[int, ErrorInfo]:
        """Write the objects of the entries not stored yet; the errors by position in ``entries``.

        An entry whose last send had an unknown outcome gets a new object (and its message a
        new pointer): its first message may have arrived, pointing at the first object.
        With ``ordered`` (FIFO), an entry after one whose object failed, in the same message
        group, is not sent either (retryably), so that it cannot overtake it.
        """
        todo = []
        for index, entry in enumerate(entries):
            request = entry.request
            if isinstance(request, OffloadedRequest):
                if request.uncertain:  # one object per message: the first one stays for its message
                    request.repoint(new_key(self.prefix))
                if not request.stored:
                    todo.append(index)
        errors: Dict[int, ErrorInfo] = {}
        if not todo:
            return errors
        client = self._client(deadline, policy)
        if len(todo) > 1 and self.max_workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(
                max_workers=min(self.max_workers, len(todo)), thread_name_prefix="lambda-batch-offload"
            ) as pool:
                outcomes = list(pool.map(lambda i: self._put(client, entries[i]), todo))
        else:
            outcomes = [self._put(client, entries[index]) for index in todo]
        for index, error in zip(todo, outcomes, strict=False):
            if error is not None:
                errors[index] = error
        if ordered and errors:
            from .offload_outcomes import hold_back_groups  # loaded when a FIFO store fails

            hold_back_groups(entries, errors)
        return errors

    def _put(self, client: Any, entry: Entry) -> Optional[ErrorInfo]:
        request = entry.request
        assert isinstance(request, OffloadedRequest)
        try:
            client.put_object(Bucket=request.bucket, Key=request.key, Body=request.data.encode("utf-8"))
        except Exception as exc:
            error = classify_exception(exc)
            where = f"s3://{request.bucket}/{request.key}" if self.reveal_keys else f"bucket {request.bucket}"
            logger.info("%s: S3 PutObject to %s failed: %s", entry.record_id, where, error.code)
            return error._replace(message=f"S3 PutObject to {where} failed: {error.message}")
        request.stored = True
        return None

    @staticmethod
    def note_send_error(entries: Sequence[Entry], exc: BaseException) -> None:
        """After a whole call failed with ``exc``: mark the stored objects whose message may have arrived."""
        from .offload_outcomes import outcome_unknown  # loaded when a send fails

        if not outcome_unknown(exc):
            return
        for entry in entries:
            if isinstance(entry.request, OffloadedRequest):
                entry.request.uncertain = True

    @staticmethod
    def note_missing(entry: Entry) -> None:
        """The response named the entry neither sent nor failed: its message may have arrived."""
        if isinstance(entry.request, OffloadedRequest):
            entry.request.uncertain = True

    def discard(self, requests: Sequence[Any], deadline: Deadline, policy: RetryPolicy) -> None:
        """Delete the objects of requests finally not delivered (DeleteObjects, one attempt per call,
        started until the deadline itself)."""
        offloaded = [r for r in requests if isinstance(r, OffloadedRequest)]
        stored = [r for r in offloaded if r.stored]
        keys = [request.key for request in stored if not request.uncertain]
        self._note_kept(offloaded)
        if not keys:
            return
        for request in stored:
            if not request.uncertain:
                request.stored = False
        from ..payloads.object_deletes import ObjectDeletes  # the one delivery engine

        deletes = ObjectDeletes(
            self.bucket,
            clients=self._clients,
            retry_policy=_ONE_ATTEMPT,
            deadline=deadline,
            log_exception_messages=self.reveal_keys,
        )
        for key in keys:
            deletes.delete(key)
        failed = deletes.run()
        deletes.close()
        if failed:
            logger.warning(
                "%d S3 object(s) of undelivered messages not deleted from %s (%s); the lifecycle rule "
                "expires them%s",
                len(failed),
                self.bucket,
                failed[0].code,
                _key_list([str(item.item) for item in failed], self.reveal_keys),
            )

    def _note_kept(self, offloaded: Sequence[OffloadedRequest]) -> None:
        """Log objects left to messages that may have arrived (each attempt's, after an unknown outcome)."""
        kept = [key for request in offloaded for key in request.earlier]
        kept += [request.key for request in offloaded if request.stored and request.uncertain]
        if kept:
            logger.warning(
                "%d S3 object(s) of undelivered messages kept in %s: the send's outcome is unknown, so the "
                "message may have arrived (the bucket's lifecycle rule expires them)%s",
                len(kept),
                self.bucket,
                _key_list(kept, self.reveal_keys),
            )

    def _client(self, deadline: Deadline, policy: RetryPolicy, margin: Optional[float] = None) -> Any:
        remaining = deadline.remaining()
        if remaining == float("inf"):
            return self._clients.get()
        keep = policy.deadline_margin if margin is None else margin
        return self._clients.get(None, timeout_bucket(call_timeout(remaining, keep)))


def _key_list(keys: Sequence[str], reveal: bool) -> str:
    """``": key, key..."`` (the first ten) when keys may be logged, else nothing."""
    return ": " + ", ".join(keys[:10]) if reveal else " (log_exception_messages=True names their keys)"
