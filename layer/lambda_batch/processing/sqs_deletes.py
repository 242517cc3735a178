"""Deleting processed SQS messages: DeleteMessageBatch through the one batching engine.

Messages are grouped by queue (each record's ``eventSourceARN``, with a client for that
queue's region) and deleted by :class:`~lambda_batch.processing.sqs_actions.MessageDeletes`, a thin user
of the one delivery loop (``engine.delivery``): calls of at most 10 entries, whole
calls that fail retryably, ``Failed`` entries worth retrying and entries the response leaves
out (neither ``Successful`` nor ``Failed``) retried under the retry policy, a call refused for
one bad entry split, connect and read timeouts that end before the deadline, and up to
``concurrency`` calls in flight. What is still not deleted comes back as
:class:`DeleteFailure`, with the AWS error code.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Sequence

    from ..core.clients import ClientProvider
    from ..core.deadline import Deadline
    from ..core.retry import RetryPolicy

#: DeleteMessageBatch takes at most this many entries (``limits.SQS_ACTION_LIMITS``).
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
        #: DeleteMessageBatch calls made (retries included).
        self.calls = 0

    def delete(self, records: Sequence[Any], positions: List[int]) -> List[DeleteFailure]:
        """Delete the messages of ``records`` at ``positions``; the failures, queue by queue."""
        from .sqs_actions import MessageDeletes  # the engine is loaded only when a delete is needed

        by_queue: Dict[str, List[int]] = {}
        for index in positions:
            by_queue.setdefault(records[index]["eventSourceARN"], []).append(index)
        failures: List[DeleteFailure] = []
        for arn, indexes in by_queue.items():
            calls = -(-len(indexes) // MAX_DELETE_ENTRIES)
            deletes = MessageDeletes(
                arn,
                clients=self._clients,
                retry_policy=self.retry_policy,
                deadline=self.deadline,
                max_workers=max(1, min(self.concurrency, calls)),
            )
            for index in indexes:
                record = records[index]
                deletes.delete(str(record["messageId"]), record["receiptHandle"])
            for item in deletes.run():
                failures.append(DeleteFailure(str(item.record_id), arn, item.code, item.message))
            deletes.close()
            stats = deletes.stats
            self.calls += stats.calls
            if stats.retries:
                self.logger.debug("deleting from %s took %d retries", arn, stats.retries)
        return failures


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
