"""Large payloads sent through S3 (``large_payload_bucket``): the SQS and SNS dispatchers' claim check.

Loaded only when a dispatcher is given a ``large_payload_bucket``. A payload over the
threshold is written to S3 (one PutObject each) and its message carries the pointer in the
AWS Extended Client libraries' format instead (`lambda_batch.payloads.pointers`). The
pointer message is built, and measured, when the item is submitted, so packing counts its
real size; the object is written when the batch is sent, once (a retried send does not write
it again), the batch's objects concurrently on up to ``max_workers`` threads, every call under
the dispatcher's retry policy and deadline. An item whose object could not be written is not
sent: its message stays out of the call and the item comes back with the S3 error if retries
do not help (and, FIFO, the later messages of its group too: `GROUP_NOT_STORED`).

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

Example:
    ```python
    offloader = offloader_option(dispatcher, "my-bucket", None, "payloads/", kwargs)
    if offloader.should_offload(size, limit):
        request, size = offloader.pointer_request(
            request, "MessageBody", body, attributes, attributes_size
        )
    results = send_offloaded(dispatcher, offloader, entries, call, id_results)
    ```
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core import client_config
from ..core.clients import ClientProvider
from ..core.retry import ErrorInfo, RetryPolicy, classify_exception
from ..core.unprocessed import DEADLINE_EXCEEDED, MISSING_FROM_RESPONSE
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
    from ..engine.packing import Entry

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
        replaced = (attributes or {}).get(SIZE_ATTRIBUTE)
        if replaced is not None:  # the marker takes its place (the dispatchers refuse the name first)
            value = replaced.get("BinaryValue", b"")
            attributes_size -= len(SIZE_ATTRIBUTE) + utf8_len(replaced["DataType"])
            attributes_size -= len(value) if value else utf8_len(replaced.get("StringValue", ""))
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
        if not outcome_unknown(exc):
            return
        for entry in entries:
            if isinstance(entry.request, OffloadedRequest):
                entry.request.uncertain = True

    @staticmethod
    def offloaded(request: Any) -> Optional[str]:
        """The payload of a pointer message (it goes to S3); ``None`` for any other request."""
        return request.data if isinstance(request, OffloadedRequest) else None

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
        return self._clients.get(
            None, client_config.timeout_bucket(client_config.call_timeout(remaining, keep))
        )


def _key_list(keys: Sequence[str], reveal: bool) -> str:
    """``": key, key..."`` (the first ten) when keys may be logged, else nothing."""
    return ": " + ", ".join(keys[:10]) if reveal else " (log_exception_messages=True names their keys)"


# -- at send: one batch call through S3 first --------------------------------------------------

ReadResults = Callable[[int, Any], List[Optional[ErrorInfo]]]


def send_offloaded(
    dispatcher: Any,
    offloader: PayloadOffloader,
    entries: Sequence[Entry],
    call: Callable[[Any, List[Dict[str, Any]]], Any],
    read_results: ReadResults,
) -> List[Optional[ErrorInfo]]:
    """One batch call of an offloading dispatcher: store the objects, then send what was stored.

    ``call(client, request_entries)`` makes the call with entries whose ``Id`` is their
    position in ``entries``; ``read_results(count, response)`` reads its per-entry results.
    A whole-call failure is raised as it is when every entry was sent (the dispatcher splits
    or retries it); otherwise it becomes the result of the entries that were sent.
    """
    policy = dispatcher.retry_policy
    deadline = dispatcher.deadline
    errors = offloader.store(entries, deadline, policy, ordered=dispatcher._halts_groups)
    sent = [index for index in range(len(entries)) if index not in errors]
    if sent and deadline.expired(policy.deadline_margin):  # the writes took the time left
        late = ErrorInfo(
            DEADLINE_EXCEEDED, "not sent: the deadline came while storing the batch's payloads", True
        )
        errors.update(dict.fromkeys(sent, late))
        sent = []
    if not sent:
        return [errors.get(index) for index in range(len(entries))]
    client = dispatcher.client  # its timeouts follow the time left now, after the writes
    try:
        response = call(client, [dict(entries[index].request, Id=str(index)) for index in sent])
    except Exception as exc:
        PayloadOffloader.note_send_error([entries[index] for index in sent], exc)
        if not errors:
            raise
        error = classify_exception(exc)
        return merge_results(len(entries), errors, sent, [error] * len(sent))
    results = read_results(len(entries), response)
    for index in sent:
        result = results[index]
        if result is not None and result.code == MISSING_FROM_RESPONSE:
            PayloadOffloader.note_missing(entries[index])
    for index, error in errors.items():
        results[index] = error
    return results


def offloader_option(
    dispatcher: Any, bucket: Any, threshold: Any, prefix: Any, kwargs: Mapping[str, Any]
) -> Optional[PayloadOffloader]:
    """The dispatcher's ``large_payload_*`` options as a `PayloadOffloader` (``None``: no bucket).

    With one, the objects of the items the dispatcher hands back are deleted (``discard_failed``).
    """
    if bucket is not None:
        offloader = PayloadOffloader(
            bucket,
            threshold,
            prefix,
            owner=type(dispatcher).__name__,
            boto3_session=kwargs.get("boto3_session"),
            config=kwargs.get("config"),
            max_workers=dispatcher.max_workers,
        )
        offloader.reveal_keys = dispatcher.log_exception_messages
        dispatcher._ledger.after_fail = lambda failures: discard_failed(dispatcher, failures)
        return offloader
    if threshold is not None or prefix:
        raise ConfigurationError("large_payload_threshold and large_payload_prefix need large_payload_bucket")
    return None


def discard_failed(dispatcher: Any, failures: Sequence[Tuple[Entry, ErrorInfo]]) -> None:
    """Delete the S3 objects of the entries handed back undelivered (an offloading dispatcher)."""
    offloader: Optional[PayloadOffloader] = dispatcher._offloader
    if offloader is not None and failures:
        offloader.discard(
            [entry.request for entry, _ in failures], dispatcher.deadline, dispatcher.retry_policy
        )


def merge_results(
    count: int, errors: Mapping[int, ErrorInfo], sent: List[int], sent_results: Sequence[Optional[ErrorInfo]]
) -> List[Optional[ErrorInfo]]:
    """Per-entry results of a call that carried only the ``sent`` positions: theirs, else the store errors."""
    results: List[Optional[ErrorInfo]] = [errors.get(index) for index in range(count)]
    for position, result in zip(sent, sent_results, strict=False):
        results[position] = result
    return results


# -- what became of a batch's objects when a store or a send failed ----------------------------

#: The code of an entry not sent because an earlier message of its FIFO group could not be stored.
GROUP_NOT_STORED = "EarlierMessageNotStored"
#: botocore errors after which a request may have reached the service (the outcome is unknown).
_UNKNOWN_OUTCOME_ERRORS = frozenset(
    {"ReadTimeoutError", "ConnectionClosedError", "ResponseStreamingError", "IncompleteReadError"}
)


def hold_back_groups(entries: Sequence[Entry], errors: Dict[int, ErrorInfo]) -> None:
    """FIFO: fail (retryably) every later entry of a message group whose object could not be stored."""
    blocked = {entries[index].order_key: entries[index].record_id for index in sorted(errors)}
    first = {entries[index].order_key: index for index in sorted(errors, reverse=True)}
    for index, entry in enumerate(entries):
        key = entry.order_key
        if key in blocked and key is not None and index > first[key] and index not in errors:
            errors[index] = ErrorInfo(
                GROUP_NOT_STORED,
                f"not sent: {blocked[key]} of its message group could not be stored in S3 first",
                True,
            )


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed call may still have been carried out by the service."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return not isinstance(status, int) or status >= 500
    return any(klass.__name__ in _UNKNOWN_OUTCOME_ERRORS for klass in type(exc).__mro__)


__all__ = [
    "GROUP_NOT_STORED",
    "OffloadedRequest",
    "PayloadOffloader",
    "discard_failed",
    "hold_back_groups",
    "merge_results",
    "offloader_option",
    "outcome_unknown",
    "send_offloaded",
]
