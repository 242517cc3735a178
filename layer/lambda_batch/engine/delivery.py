"""How a sealed batch is delivered: which failures split it, into how many parts, and in which waves.

Pure functions over the dispatcher's entries (anything with ``attempts``, ``order_key`` and
``seq``); :class:`~lambda_batch.engine.base_dispatcher.BaseDispatcher` makes the calls.

- A whole-call error caused by one bad entry (a validation error, a request too large,
  including a bare HTTP 413) splits the batch to isolate it, so the other entries still go
  through. The retry policy's ``max_attempts`` is a budget per item, across splits: the
  batch is split into as many parts as it takes for the bad entry to be alone within its
  remaining attempts (halves when the budget allows).
- In ordered mode (Kinesis ``ordered=True``) a batch goes in waves: a call carries at most
  one record per key, the earliest one not yet resolved, so a record that fails is retried
  before any later record of its key is sent.

- A FIFO message refused while a later message of its group in the same call was accepted is
  not retried behind it (:func:`drop_overtaken`).
- :func:`entry_results` reads per-entry outcomes of the responses that list them in order,
  :func:`id_results` those that name them by ``Id`` (SQS, SNS).

Example::

    parts = split_parts(entries, budget=3)     # 25 entries -> 3 parts of 9, 8 and 8
    wave, rest = next_wave(entries)             # the first entry of each key; the others
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from ..core.error_rules import SPLITTABLE_ERROR_CODES
from ..core.retry import ErrorInfo, is_retryable_code, is_splittable
from .entries import Entry

__all__ = [
    "MISSING_FROM_RESPONSE",
    "SPLITTABLE_ERROR_CODES",
    "call_timeout",
    "drop_overtaken",
    "entry_results",
    "id_results",
    "next_wave",
    "split_error",
    "split_parts",
]

#: The code of an entry a batch response named neither as done nor as failed.
MISSING_FROM_RESPONSE = "MissingFromResponse"


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

    Example::

        [len(p) for p in split_parts(list(range(25)), 4)]     # [9, 8, 8]
        [len(p) for p in split_parts(list(range(25)), 5)]     # [13, 12]
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


def next_wave[T](entries: Sequence[T]) -> Tuple[List[T], List[T]]:
    """The earliest entry of each order key (and every entry without one), and the rest, in order."""
    seen: Set[Hashable] = set()
    wave: List[T] = []
    rest: List[T] = []
    for entry in entries:
        key = getattr(entry, "order_key", None)
        if key is None:
            wave.append(entry)
        elif key in seen:
            rest.append(entry)
        else:
            seen.add(key)
            wave.append(entry)
    return wave, rest


def call_timeout(remaining: float, margin: float) -> float:
    """The connect (and read) timeout of a call that starts with ``remaining`` seconds left:
    both together end before the deadline's margin."""
    return max(0.0, remaining - margin) / 2.0


def drop_overtaken(
    pending: Sequence[Entry],
    results: Sequence[Optional[ErrorInfo]],
    retry: List[Tuple[Entry, ErrorInfo]],
    final: List[Tuple[Entry, ErrorInfo]],
) -> List[Tuple[Entry, ErrorInfo]]:
    """Move to ``final`` the retryable entries a later message of their group overtook.

    The service may accept a group's later message in the same call as an earlier one it
    refused; sending the earlier one again would put it behind, so it is returned instead.
    """
    last_delivered: Dict[Hashable, int] = {}
    for entry, error in zip(pending, results, strict=False):
        if error is None and entry.order_key is not None:
            last_delivered[entry.order_key] = entry.seq
    still: List[Tuple[Entry, ErrorInfo]] = []
    for entry, error in retry:
        if entry.order_key is not None and last_delivered.get(entry.order_key, -1) > entry.seq:
            note = "not retried: a later message of its group was delivered by the same call"
            final.append((entry, error._replace(message=f"{error.message} ({note})")))
        else:
            still.append((entry, error))
    return still


def entry_results(outcomes: Sequence[Dict[str, Any]], count: int) -> List[Optional[ErrorInfo]]:
    """Per-entry results of a batch response whose entries, in request order, carry
    ``ErrorCode``/``ErrorMessage`` on failure; an entry missing from the response failed
    retryably."""
    results: List[Optional[ErrorInfo]] = []
    for index in range(count):
        outcome = outcomes[index] if index < len(outcomes) else {"ErrorCode": MISSING_FROM_RESPONSE}
        code = outcome.get("ErrorCode")
        if code:
            retryable = is_retryable_code(str(code)) or code == MISSING_FROM_RESPONSE
            results.append(ErrorInfo(str(code), str(outcome.get("ErrorMessage") or code), retryable))
        else:
            results.append(None)
    return results


def id_results(count: int, response: Dict[str, Any]) -> List[Optional[ErrorInfo]]:
    """Per-entry results of an SQS/SNS batch response (``Successful``/``Failed`` lists naming
    the entries' ``Id``, "0", "1"... in request order): a ``Failed`` entry is retryable unless
    it is the sender's fault or its code says otherwise; an entry named in neither list failed
    retryably (``MissingFromResponse``: not known to be done).

    Example::

        id_results(2, {"Successful": [{"Id": "0"}]})   # [None, ErrorInfo('MissingFromResponse', ...)]
    """
    failed = {str(item.get("Id")): item for item in response.get("Failed") or ()}
    succeeded = {str(item.get("Id")) for item in response.get("Successful") or ()}
    results: List[Optional[ErrorInfo]] = []
    for index in range(count):
        key = str(index)
        failure = failed.get(key)
        if failure is not None:
            code = str(failure.get("Code") or "Failed")
            sender_fault = failure.get("SenderFault")
            fault = bool(sender_fault) if sender_fault is not None else None
            retryable = is_retryable_code(code, sender_fault=fault)
            results.append(ErrorInfo(code, str(failure.get("Message") or code), retryable))
        elif key in succeeded:
            results.append(None)
        else:
            results.append(ErrorInfo(MISSING_FROM_RESPONSE, "the response did not mention this entry", True))
    return results
