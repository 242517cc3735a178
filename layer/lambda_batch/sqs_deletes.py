"""Deleting processed SQS messages: DeleteMessageBatch under one retry policy and one deadline.

Messages are grouped by queue (each record's ``eventSourceARN``, with a client for that
queue's region) into calls of at most 10 entries. Whole calls that fail retryably,
``Failed`` entries worth retrying and entries the response leaves out (neither
``Successful`` nor ``Failed``) are retried under the retry policy; what is still not
deleted comes back as :class:`DeleteFailure`, with the AWS error code. Each call gets
connect and read timeouts that end before the deadline.
"""

from __future__ import annotations

import math

from .arns import parse_arn, sqs_queue_url
from .clients import timeout_bucket

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    from .clients import ClientProvider
    from .deadline import Deadline
    from .retry import ErrorInfo, RetryPolicy

#: DeleteMessageBatch takes at most this many entries.
MAX_DELETE_ENTRIES = 10
#: The code of an entry the DeleteMessageBatch response named neither as deleted nor as failed.
MISSING_FROM_RESPONSE = "MissingFromResponse"
#: The code of an entry not deleted because the invocation's deadline came first.
DEADLINE_EXCEEDED = "DeadlineExceeded"


class DeleteFailure:
    """A processed message that could not be deleted (it will be delivered again)."""

    __slots__ = ("code", "message", "message_id", "queue_arn")

    def __init__(self, message_id: str, queue_arn: str, code: str, message: str) -> None:
        self.message_id = message_id
        self.queue_arn = queue_arn
        self.code = code
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeleteFailure) and (
            self.message_id,
            self.queue_arn,
            self.code,
            self.message,
        ) == (other.message_id, other.queue_arn, other.code, other.message)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"DeleteFailure(message_id={self.message_id!r}, queue_arn={self.queue_arn!r}, "
            f"code={self.code!r}, message={self.message!r})"
        )


class MessageDeleter:
    """Deletes the given records' messages; returns what could not be deleted.

    Example::

        deleter = MessageDeleter(ClientProvider("sqs"), DEFAULT_RETRY_POLICY, Deadline.after(5), logger)
        failures = deleter.delete(records, [0, 2, 3])   # positions of the records to delete
    """

    def __init__(
        self,
        clients: ClientProvider,
        retry_policy: RetryPolicy,
        deadline: Deadline,
        logger: Any,
        concurrency: int = 4,
    ) -> None:
        self._clients = clients
        self.retry_policy = retry_policy
        self.deadline = deadline
        self.logger = logger
        self.concurrency = concurrency
        self.records: Sequence[Any] = ()

    def delete(self, records: Sequence[Any], positions: List[int]) -> List[DeleteFailure]:
        """Delete the messages of ``records`` at ``positions``; the failures, in no set order."""
        self.records = records
        return self._delete(positions)

    def _delete(self, positions: List[int]) -> List[DeleteFailure]:
        by_queue: Dict[str, List[int]] = {}
        for index in positions:
            by_queue.setdefault(self.records[index]["eventSourceARN"], []).append(index)
        jobs: List[Tuple[Optional[str], str, str, List[int]]] = []
        for arn, indexes in by_queue.items():
            region = parse_arn(arn).region
            url = sqs_queue_url(arn)
            for start in range(0, len(indexes), MAX_DELETE_ENTRIES):
                jobs.append((region, url, arn, indexes[start : start + MAX_DELETE_ENTRIES]))
        failures: List[DeleteFailure] = []
        if len(jobs) > 1 and self.concurrency > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs))) as pool:
                for chunk_failures in pool.map(lambda job: self._delete_chunk(*job), jobs):
                    failures.extend(chunk_failures)
        else:
            for job in jobs:
                failures.extend(self._delete_chunk(*job))
        return failures

    def _client_for_call(self, region: Optional[str]) -> Any:
        """The client for one call: connect and read timeouts that end before the deadline."""
        remaining = self.deadline.remaining()
        if remaining == math.inf:
            return self._clients.get(region)
        # Connect and read together end before the retry policy's margin.
        budget = max(0.0, remaining - self.retry_policy.deadline_margin) / 2.0
        return self._clients.get(region, timeout=timeout_bucket(budget))

    def _delete_chunk(
        self, region: Optional[str], url: str, arn: str, indexes: List[int]
    ) -> List[DeleteFailure]:
        from .retry import ErrorInfo, classify_exception, is_retryable_code

        records = self.records
        policy = self.retry_policy
        # Entry ids are positions in the chunk: unique even when a message id repeats.
        pending: Dict[str, int] = {str(n): index for n, index in enumerate(indexes)}
        failures: List[DeleteFailure] = []
        missing_info = ErrorInfo(
            MISSING_FROM_RESPONSE, "the DeleteMessageBatch response named it neither deleted nor failed", True
        )
        attempt = 0
        while pending:
            if self.deadline.remaining() <= 0:
                deadline_info = ErrorInfo(DEADLINE_EXCEEDED, "the invocation's deadline came first", False)
                return failures + self._failed(pending, arn, deadline_info)
            attempt += 1
            entries = [
                {"Id": key, "ReceiptHandle": records[index]["receiptHandle"]}
                for key, index in pending.items()
            ]
            retry: Dict[str, int] = {}
            last: Optional[ErrorInfo] = None
            try:
                response = self._client_for_call(region).delete_message_batch(QueueUrl=url, Entries=entries)
            except Exception as exc:
                last = classify_exception(exc)
                if not last.retryable:
                    return failures + self._failed(pending, arn, last)
                retry = pending
            else:
                answered = set()
                for entry in response.get("Successful") or ():
                    answered.add(str(entry.get("Id")))
                for entry in response.get("Failed") or ():
                    key = str(entry.get("Id"))
                    index = pending.get(key)
                    if index is None:
                        continue
                    answered.add(key)
                    code = str(entry.get("Code", "Unknown"))
                    info = ErrorInfo(
                        code,
                        str(entry.get("Message", "")),
                        is_retryable_code(code, sender_fault=entry.get("SenderFault")),
                    )
                    if info.retryable:
                        retry[key] = index
                        last = info
                    else:
                        failures.extend(self._failed({key: index}, arn, info))
                missing = {key: index for key, index in pending.items() if key not in answered}
                if missing:  # neither deleted nor failed: not known to be deleted, so try again
                    retry.update(missing)
                    last = missing_info
            if not retry:
                return failures
            delay = policy.backoff(attempt)
            if not policy.can_retry(attempt, delay, self.deadline):
                return failures + self._failed(retry, arn, last or ErrorInfo("Unknown", "", True))
            self.logger.debug(
                "retrying the delete of %d messages (%s)", len(retry), last.code if last else ""
            )
            policy.sleep(delay)
            pending = retry
        return failures

    def _failed(self, pending: Dict[str, int], arn: str, info: ErrorInfo) -> List[DeleteFailure]:
        return [
            DeleteFailure(str(self.records[index]["messageId"]), arn, info.code, info.message)
            for index in pending.values()
        ]


def describe_delete_failures(failures: List[DeleteFailure]) -> str:
    """`` 3 processed messages could not be deleted (ServiceUnavailable: 2, AccessDenied: 1).``"""
    if not failures:
        return ""
    codes: Dict[str, int] = {}
    for failure in failures:
        codes[failure.code] = codes.get(failure.code, 0) + 1
    by_code = ", ".join(f"{code}: {count}" for code, count in codes.items())
    return f" {len(failures)} processed messages could not be deleted ({by_code})."


__all__ = [
    "DEADLINE_EXCEEDED",
    "MAX_DELETE_ENTRIES",
    "MISSING_FROM_RESPONSE",
    "DeleteFailure",
    "MessageDeleter",
    "describe_delete_failures",
]
