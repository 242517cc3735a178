"""What became of a batch's large payloads when a store or a send failed.

A FIFO message whose object could not be stored holds back the later messages of its group
(:data:`GROUP_NOT_STORED`); after a failed send, an object is kept when the message may have
arrived anyway (the outcome is unknown: a read timeout, a dropped connection, a 5xx).

Example::

    if outcome_unknown(exc):
        entry.request.uncertain = True  # the message may have arrived: its object is kept
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Sequence

from ..core.retry import ErrorInfo

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.entries import Entry

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


__all__ = ["GROUP_NOT_STORED", "hold_back_groups", "outcome_unknown"]
