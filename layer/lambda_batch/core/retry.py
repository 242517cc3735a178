"""The retry policy: which errors are worth retrying, and how long to wait between attempts.

Which errors are worth retrying: a call's exception (`classify_exception`) and each entry
of a batch response (`id_results` for SQS and SNS, `entry_results` for the responses
that list entries in order). One policy serves every AWS call the layer makes (batch sends,
DeleteMessageBatch and ChangeMessageVisibilityBatch):
up to ``max_attempts`` attempts in all, capped exponential backoff with full jitter, and
never past a deadline. It is the only retry loop: the clients the layer makes have botocore's
own retries merged off (see ``clients``). For the dispatchers ``max_attempts`` is a budget
per item: the most calls that may carry it, counting retries and the splits that isolate a
bad entry.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, TypeVar

from .deadline import Deadline
from .error_rules import (
    RETRYABLE_BOTOCORE_ERRORS,
    RETRYABLE_ERROR_CODES,
    SENDER_FAULT_RETRYABLE,
    SPLIT,
    SPLITTABLE_ERROR_CODES,
    status_kind,
)
from .unprocessed import MISSING_FROM_RESPONSE

#: The rules themselves (codes, statuses, sources) are data in ``error_rules``; this module is
#: the only reader, and the retry policy the only judge.
#: The HTTP status of a request refused for its size; with no error code it is a call to split.
HTTP_REQUEST_TOO_LARGE = 413
#: The code a bare HTTP 413 is reported with.
REQUEST_TOO_LARGE = "RequestEntityTooLarge"

_PARAMETER = re.compile(r"parameter (?:in )?([A-Za-z0-9_.\[\]]+)")


def validation_summary(exc: BaseException) -> str:
    """A botocore ParamValidationError's reason without the values it quotes (bodies, secrets).

    Example:
        ```python
        validation_summary(exc)
        # 'botocore refused the request: invalid Entries[0].MessageBody'
        ```
    """
    paths = sorted(set(_PARAMETER.findall(str(exc))))
    where = ", ".join(paths[:5]) if paths else "the request"
    return f"botocore refused the request before sending it: invalid {where}"


T = TypeVar("T")


class DeadlineNear(TimeoutError):
    """No attempt started: the deadline is within the margin (see `RetryPolicy.run`)."""


class ErrorInfo(NamedTuple):
    """Why a call or an entry failed: the service's error code and message, and whether to retry."""

    code: str
    message: str
    retryable: bool


def is_retryable_code(
    code: str, http_status: Optional[int] = None, sender_fault: Optional[bool] = None
) -> bool:
    """Whether an error code (with its HTTP status or SenderFault flag, when known) is worth retrying."""
    if code in RETRYABLE_ERROR_CODES:
        return True
    if sender_fault is not None:
        return SENDER_FAULT_RETRYABLE if sender_fault else True
    return http_status is not None and status_kind(http_status) not in ("", SPLIT)


def is_splittable(error: Optional[ErrorInfo]) -> bool:
    """Whether ``error`` refused a whole call for one bad entry (split the batch to isolate it)."""
    return error is not None and not error.retryable and error.code in SPLITTABLE_ERROR_CODES


def classify_exception(exc: BaseException) -> ErrorInfo:
    """Classify an exception raised by a botocore call.

    ``ClientError`` is retryable for throttling codes and 5xx/429 statuses; botocore's
    connection and timeout errors are retryable; everything else (access denied,
    validation, missing resource, parameter errors) is not.
    """
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response.get("Error") or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = str(error.get("Code") or type(exc).__name__)
        message = str(error.get("Message") or exc)
        if status == HTTP_REQUEST_TOO_LARGE and code in ("413", type(exc).__name__):  # status_kind: SPLIT
            # A bare 413 (no error code): the request was too large for the service or a proxy.
            return ErrorInfo(REQUEST_TOO_LARGE, "HTTP 413: the request was too large", False)
        return ErrorInfo(code, message, is_retryable_code(code, status if isinstance(status, int) else None))
    if type(exc).__name__ == "ParamValidationError":
        return ErrorInfo("ParamValidationError", validation_summary(exc), False)
    for klass in type(exc).__mro__:
        if klass.__name__ in RETRYABLE_BOTOCORE_ERRORS:
            return ErrorInfo(type(exc).__name__, str(exc), True)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return ErrorInfo(type(exc).__name__, str(exc), True)
    return ErrorInfo(type(exc).__name__, str(exc), False)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    Attempt ``n`` (1-based) that failed is followed by a wait drawn uniformly from
    ``[0, min(max_delay, base_delay * 2 ** (n - 1))]``.

    Example:
        ```python
        policy = RetryPolicy(max_attempts=5, base_delay=0.05, max_delay=2.0)
        SQSBatchDispatcher("jobs", retry_policy=policy)
        ```
    """

    max_attempts: int = 5
    base_delay: float = 0.05
    max_delay: float = 2.0
    #: Time kept in hand before the deadline: no wait may end later than this.
    deadline_margin: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * float(2 ** max(0, attempt - 1)))
        return ceiling * rand()

    def can_retry(self, attempt: int, delay: float, deadline: Optional[Deadline] = None) -> bool:
        """Whether another attempt may follow attempt ``attempt`` after waiting ``delay``."""
        if attempt >= self.max_attempts:
            return False
        return deadline is None or deadline.remaining() - delay > self.deadline_margin

    # The error rules (``error_rules``), as this policy applies them.

    def classify(self, exc: BaseException) -> ErrorInfo:
        """Why a call failed and whether to retry it (see `classify_exception`)."""
        return classify_exception(exc)

    def is_retryable(
        self, code: str, http_status: Optional[int] = None, sender_fault: Optional[bool] = None
    ) -> bool:
        """Whether an entry's or a call's error code is worth retrying (see `is_retryable_code`)."""
        return is_retryable_code(code, http_status, sender_fault)

    def splits(self, error: Optional[ErrorInfo]) -> bool:
        """Whether ``error`` refused a whole call for one bad entry: split the batch to isolate it."""
        return is_splittable(error)

    def run(
        self,
        call: Callable[[int], T],
        deadline: Optional[Deadline] = None,
        *,
        start_margin: Optional[float] = None,
    ) -> T:
        """The one retry loop for a single call (a batch goes through the one batching engine):
        ``call(attempt)`` until it returns, retrying what `classify` says is worth it, with
        backoff, within ``max_attempts`` and the deadline; the last exception is raised.

        With ``start_margin``, no attempt starts once less than that is left before the
        deadline (``DeadlineNear`` is raised instead).

        Example:
            ```python
            shards = policy.run(
                lambda attempt: client.list_shards(StreamName="s"), deadline
            )
            ```
        """
        attempt = 0
        while True:
            attempt += 1
            if start_margin is not None and deadline is not None and deadline.expired(start_margin):
                raise DeadlineNear(f"not called: the deadline is within {start_margin:g}s")
            try:
                return call(attempt)
            except Exception as exc:
                delay = self.backoff(attempt)
                if not self.classify(exc).retryable or not self.can_retry(attempt, delay, deadline):
                    raise
                self.sleep(delay)

    def sleep(self, seconds: float, sleeper: Callable[[float], Any] = time.sleep) -> None:
        """Wait ``seconds`` (a hook for tests that must not really sleep)."""
        if seconds > 0:
            sleeper(seconds)


# Per-entry results of batch responses: which entries failed, and whether each is worth retrying.


def entry_results(outcomes: Sequence[Dict[str, Any]], count: int) -> List[Optional[ErrorInfo]]:
    """Per-entry results of a batch response whose entries, in request order, carry
    ``ErrorCode``/``ErrorMessage`` on failure (Kinesis, Firehose, EventBridge); an entry missing
    from the response failed retryably.

    Example:
        ```python
        entry_results([{}, {"ErrorCode": "ThrottlingException"}], 2)[1].retryable
        # True
        ```
    """
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

    Example:
        ```python
        id_results(2, {"Successful": [{"Id": "0"}]})
        # [None, ErrorInfo('MissingFromResponse', ...)]
        ```
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


#: The default policy: 5 attempts in all, 50 ms base, 2 s cap, 1 s kept before any deadline.
DEFAULT_RETRY_POLICY = RetryPolicy()
