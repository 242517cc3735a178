"""SQS batch actions on received messages: DeleteMessageBatch and ChangeMessageVisibilityBatch.

Each is a thin user of the one batching engine (``engine.dispatcher``): it says its
request entry (a receipt handle, and a timeout for visibility), how to read its response
(``Successful``/``Failed`` by entry ``Id``: ``core.retry.id_results``) and its
limits (``limits.SQS_ACTION_LIMITS``: 10 entries per call, one queue per call, with a client
for that queue's region). The engine gives it everything the dispatchers have: the one retry
policy for whole calls and failed entries, splitting on validation errors, entries the
response left out retried (``MissingFromResponse``), connect and read timeouts that end
before the deadline, and ``max_workers`` calls in flight.

Unlike a dispatcher, an action still starts a call until the deadline itself (a message not
deleted in time is delivered again), but retries stop at the retry policy's margin.

Example:
    ```python
    from lambda_batch.processing.sqs_actions import VisibilityChanges

    with VisibilityChanges(record["eventSourceARN"], deadline=context) as changes:
        changes.change(
            record["messageId"], record["receiptHandle"], visibility_timeout=60
        )
    # UnprocessedItem per message not changed
    failed = changes.unprocessed_details
    ```
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

from ..core.arns import parse_arn, sqs_queue_url
from ..core.clients import ClientProvider
from ..core.deadline import Deadline
from ..core.limits import SQS_ACTION_LIMITS, SQS_MAX_VISIBILITY_TIMEOUT
from ..core.retry import ErrorInfo, RetryPolicy, id_results
from ..core.unprocessed import DEADLINE_EXCEEDED, MISSING_FROM_RESPONSE, UnprocessedItem
from ..engine.dispatcher import BaseDispatcher
from ..engine.packing import Entry
from ..errors import ConfigurationError


class SQSBatchAction(BaseDispatcher):
    """One SQS batch action on the messages of one queue (``queue_arn``)."""

    #: The API operation, a key of ``limits.SQS_ACTION_LIMITS``.
    operation = ""
    #: The boto3 client method.
    _method = ""
    #: A late action is still worth making (the message would come back): calls start until the deadline.
    _start_margin = 0.0
    #: The processor reports what an action could not do itself, at ERROR.
    _failure_log_level = logging.DEBUG

    def __init__(
        self,
        queue_arn: str,
        *,
        clients: Optional[ClientProvider] = None,
        retry_policy: Optional[RetryPolicy] = None,
        deadline: Any = None,
        max_workers: int = 1,
        **client_options: Any,
    ) -> None:
        try:
            url = sqs_queue_url(queue_arn)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        limits = SQS_ACTION_LIMITS[self.operation]
        super().__init__(
            "sqs",
            limits,
            max_batch_size=limits.max_entries,
            clients=clients,
            retry_policy=retry_policy,
            deadline=deadline,
            max_workers=max_workers,
            region=parse_arn(queue_arn).region,
            **client_options,
        )
        self.queue_arn = queue_arn
        self.queue_url = url
        self.target_description = f"SQS queue {parse_arn(queue_arn).resource} ({self.operation})"

    def _submit(self, message_id: str, entry: Any) -> None:
        size = sum(len(str(value)) for value in entry.values())
        self._add(message_id, entry, size, record_id=message_id)

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        request = [dict(entry.request, Id=str(index)) for index, entry in enumerate(entries)]
        response = getattr(client, self._method)(QueueUrl=self.queue_url, Entries=request)
        return id_results(len(entries), response)

    def run(self) -> List[UnprocessedItem]:
        """Make the calls for what was submitted; return the messages not done, each with its reason."""
        self.flush_payloads()
        return self.unprocessed_details

    def add(self, message_id: str, receipt_handle: str, *args: Any) -> None:
        """Submit one message for this action (its own arguments after the receipt handle)."""
        raise NotImplementedError


class MessageDeletes(SQSBatchAction):
    """Deletes messages of one queue with DeleteMessageBatch.

    Example:
        ```python
        deletes = MessageDeletes(queue_arn, deadline=context)
        deletes.delete(record["messageId"], record["receiptHandle"])
        not_deleted = deletes.run()
        ```
    """

    operation = "DeleteMessageBatch"
    _method = "delete_message_batch"

    def delete(self, message_id: str, receipt_handle: str) -> None:
        """Delete one message (in a call with up to nine others)."""
        self._submit(message_id, {"ReceiptHandle": receipt_handle})

    def add(self, message_id: str, receipt_handle: str, *args: Any) -> None:
        self.delete(message_id, receipt_handle)


class VisibilityChanges(SQSBatchAction):
    """Changes the visibility timeout of messages of one queue with ChangeMessageVisibilityBatch.

    Example:
        ```python
        changes = VisibilityChanges(queue_arn, deadline=context)
        changes.change(
            record["messageId"], record["receiptHandle"], visibility_timeout=30
        )
        not_changed = changes.run()
        ```
    """

    operation = "ChangeMessageVisibilityBatch"
    _method = "change_message_visibility_batch"

    def change(self, message_id: str, receipt_handle: str, visibility_timeout: int) -> None:
        """Make the message visible again after ``visibility_timeout`` seconds (0 to 43,200)."""
        if (
            isinstance(visibility_timeout, bool)
            or not isinstance(visibility_timeout, int)
            or not 0 <= visibility_timeout <= SQS_MAX_VISIBILITY_TIMEOUT
        ):
            raise ConfigurationError(
                f"visibility_timeout must be whole seconds from 0 to {SQS_MAX_VISIBILITY_TIMEOUT},"
                f" not {visibility_timeout!r}"
            )
        self._submit(message_id, {"ReceiptHandle": receipt_handle, "VisibilityTimeout": visibility_timeout})

    def add(self, message_id: str, receipt_handle: str, *args: Any) -> None:
        self.change(message_id, receipt_handle, *args)


def per_queue(
    action: Type[SQSBatchAction],
    messages: Iterable[Tuple[Mapping[str, Any], Tuple[Any, ...]]],
    *,
    clients: Optional[ClientProvider],
    retry_policy: Optional[RetryPolicy],
    deadline: Any,
    concurrency: int = 4,
    on_queue: Optional[Callable[[str, Any, int], None]] = None,
) -> Tuple[List[Tuple[str, UnprocessedItem]], int]:
    """The one fan-out of an SQS action over received messages: grouped by queue (each record's
    ``eventSourceARN``, with a client for that queue's region), 10 entries a call, up to
    ``concurrency`` calls in flight per queue, through the one delivery engine.

    ``messages`` are ``(record, arguments)`` pairs (a visibility change's timeout...). Returns the
    messages not done, each with its queue, and the calls made (retries included);
    ``on_queue(arn, stats, count)`` hears of each queue done.

    Example:
        ```python
        failed, calls = per_queue(
            MessageDeletes,
            ((record, ()) for record in done),
            clients=clients,
            retry_policy=policy,
            deadline=deadline,
        )
        ```
    """
    by_queue: Dict[str, List[Tuple[Mapping[str, Any], Tuple[Any, ...]]]] = {}
    for record, args in messages:
        by_queue.setdefault(record["eventSourceARN"], []).append((record, args))
    limit = SQS_ACTION_LIMITS[action.operation].max_entries
    failed: List[Tuple[str, UnprocessedItem]] = []
    calls = 0
    for arn, items in by_queue.items():
        needed = -(-len(items) // limit)
        act = action(
            arn,
            clients=clients,
            retry_policy=retry_policy,
            deadline=deadline,
            max_workers=max(1, min(concurrency, needed)),
        )
        try:
            for record, args in items:
                act.add(str(record["messageId"]), record["receiptHandle"], *args)
            failed.extend((arn, item) for item in act.run())
        finally:
            act.close()
            calls += act.stats.calls
            if on_queue is not None:
                on_queue(arn, act.stats, len(items))
    return failed, calls


class DeleteFailure:
    """A message an action could not act on: not deleted (it will be delivered again), or its
    visibility not changed."""

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

    Example:
        ```python
        deleter = MessageDeleter(
            ClientProvider("sqs"), DEFAULT_RETRY_POLICY, Deadline.after(5), logger
        )
        # positions of the records to delete
        failures = deleter.delete(records, [0, 2, 3])
        ```
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

        def retries(arn: str, stats: Any, count: int) -> None:
            if stats.retries:
                self.logger.debug("deleting from %s took %d retries", arn, stats.retries)

        failed, self.calls = per_queue(
            MessageDeletes,
            ((records[index], ()) for index in positions),
            clients=self._clients,
            retry_policy=self.retry_policy,
            deadline=self.deadline,
            concurrency=self.concurrency,
            on_queue=retries,
        )
        return [DeleteFailure(str(item.record_id), arn, item.code, item.message) for arn, item in failed]


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
    "MISSING_FROM_RESPONSE",
    "DeleteFailure",
    "MessageDeleter",
    "MessageDeletes",
    "SQSBatchAction",
    "VisibilityChanges",
    "describe_delete_failures",
    "per_queue",
]
