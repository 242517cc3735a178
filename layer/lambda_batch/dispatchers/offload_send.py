"""One batch call of a dispatcher that sends large payloads through S3 (``large_payload_bucket``).

The objects of the batch's offloaded entries are written first (``PayloadOffloader.store``),
then the entries whose object is stored are sent in one call; an entry whose object could
not be written comes back with that error (and, FIFO, the later messages of its group too),
and an entry whose message may have arrived keeps its object (``note_send_error``).

Example::

    return send_offloaded(self, self._offloader, entries, call, id_results)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.retry import ErrorInfo, classify_exception
from ..core.unprocessed import DEADLINE_EXCEEDED
from ..engine.delivery import MISSING_FROM_RESPONSE
from ..errors import ConfigurationError
from .offload import PayloadOffloader

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.entries import Entry

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
    """The dispatcher's ``large_payload_*`` options as a :class:`PayloadOffloader` (``None``: no bucket)."""
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
        return offloader
    if threshold is not None or prefix:
        raise ConfigurationError("large_payload_threshold and large_payload_prefix need large_payload_bucket")
    return None


def send_batch(
    dispatcher: Any,
    client: Any,
    entries: Sequence[Entry],
    call: Callable[[Any, List[Dict[str, Any]]], Any],
    read_results: ReadResults,
) -> List[Optional[ErrorInfo]]:
    """One batch call, through S3 first when the dispatcher offloads (``Id``: the entry's position)."""
    offloader: Optional[PayloadOffloader] = dispatcher._offloader
    if offloader is not None:
        return send_offloaded(dispatcher, offloader, entries, call, read_results)
    batch = [dict(entry.request, Id=str(index)) for index, entry in enumerate(entries)]
    return read_results(len(entries), call(client, batch))


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


__all__ = ["discard_failed", "merge_results", "offloader_option", "send_batch", "send_offloaded"]
