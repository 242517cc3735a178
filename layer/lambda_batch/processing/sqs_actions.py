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

Example::

    from lambda_batch.processing.sqs_actions import VisibilityChanges

    with VisibilityChanges(record["eventSourceARN"], deadline=context) as changes:
        changes.change(record["messageId"], record["receiptHandle"], visibility_timeout=60)
    failed = changes.unprocessed_details      # UnprocessedItem per message not changed
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Sequence

from ..core.arns import parse_arn, sqs_queue_url
from ..core.clients import ClientProvider
from ..core.limits import SQS_ACTION_LIMITS, SQS_MAX_VISIBILITY_TIMEOUT
from ..core.retry import ErrorInfo, RetryPolicy, id_results
from ..core.unprocessed import UnprocessedItem
from ..engine.dispatcher import BaseDispatcher
from ..engine.packing import Entry
from ..errors import ConfigurationError

__all__ = ["MessageDeletes", "SQSBatchAction", "VisibilityChanges"]


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


class MessageDeletes(SQSBatchAction):
    """Deletes messages of one queue with DeleteMessageBatch.

    Example::

        deletes = MessageDeletes(queue_arn, deadline=context)
        deletes.delete(record["messageId"], record["receiptHandle"])
        not_deleted = deletes.run()
    """

    operation = "DeleteMessageBatch"
    _method = "delete_message_batch"

    def delete(self, message_id: str, receipt_handle: str) -> None:
        """Delete one message (in a call with up to nine others)."""
        self._submit(message_id, {"ReceiptHandle": receipt_handle})


class VisibilityChanges(SQSBatchAction):
    """Changes the visibility timeout of messages of one queue with ChangeMessageVisibilityBatch.

    Example::

        changes = VisibilityChanges(queue_arn, deadline=context)
        changes.change(record["messageId"], record["receiptHandle"], visibility_timeout=30)
        not_changed = changes.run()
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
