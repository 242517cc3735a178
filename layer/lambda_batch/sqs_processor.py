"""The documented SQS API: successes deleted with DeleteMessageBatch, failures raised.

When every record succeeds nothing is called: Lambda deletes the batch itself, which is
cheaper. When some fail, the successes are deleted (at most 10 per call, from the queue
each record's ``eventSourceARN`` names, with a client for that queue's region), then
:class:`~lambda_batch.SQSBatchProcessingError` is raised so that Lambda returns the
failed messages to their queues. The function needs ``sqs:DeleteMessageBatch``.
"""

from __future__ import annotations

from .arns import parse_arn, sqs_queue_url
from .base_processor import batch_processor, logger
from .clients import ClientProvider
from .event_types import EventType
from .exceptions import ConfigurationError, SQSBatchProcessingError
from .record_processor import DEFAULT_DEADLINE_MARGIN, RecordProcessor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from .base_processor import RecordHandler
    from .ordering import KeyFunction
    from .retry import ErrorInfo, RetryPolicy

#: DeleteMessageBatch takes at most this many entries.
MAX_DELETE_ENTRIES = 10


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


class PartialSQSProcessor(RecordProcessor):
    """Process SQS records one by one; delete the successes, raise for the failures.

    ``config`` (a ``botocore.config.Config``), ``boto3_session`` and any further
    keyword arguments (``endpoint_url``...) shape the SQS clients, made once per
    region on first need. ``suppress_exception=True`` logs the failures instead of
    raising. ``retry_policy`` governs retries of DeleteMessageBatch (whole calls and
    ``Failed`` entries that are worth retrying); ``delete_concurrency`` bounds the
    delete calls in flight. The other options are those of the shared engine
    (``deadline_margin``, ``max_concurrency``, ``skip_group_on_error``, ``model``...).

    Example::

        from lambda_batch import PartialSQSProcessor

        def record_handler(record):
            return do_something_with(record["body"])

        def lambda_handler(event, context):
            processor = PartialSQSProcessor()
            with processor(event["Records"], record_handler, lambda_context=context) as proc:
                return proc.process()
    """

    _needs_receipt_handle = True

    def __init__(
        self,
        config: Any = None,
        boto3_session: Any = None,
        suppress_exception: bool = False,
        *,
        client: Any = None,
        retry_policy: Optional[RetryPolicy] = None,
        delete_concurrency: int = 4,
        model: Any = None,
        deadline_margin: Optional[float] = DEFAULT_DEADLINE_MARGIN,
        max_concurrency: int = 1,
        skip_group_on_error: bool = False,
        stop_on_first_failure: bool = False,
        concurrency_key: Optional[KeyFunction] = None,
        **client_kwargs: Any,
    ) -> None:
        super().__init__(
            EventType.SQS,
            model=model,
            deadline_margin=deadline_margin,
            max_concurrency=max_concurrency,
            skip_group_on_error=skip_group_on_error,
            stop_on_first_failure=stop_on_first_failure,
            concurrency_key=concurrency_key,
        )
        if (
            isinstance(delete_concurrency, bool)
            or not isinstance(delete_concurrency, int)
            or delete_concurrency < 1
        ):
            raise ConfigurationError(
                f"delete_concurrency must be a positive integer, not {delete_concurrency!r}"
            )
        self.suppress_exception = suppress_exception
        self._retry_policy = retry_policy
        self.delete_concurrency = delete_concurrency
        self._clients = ClientProvider(
            "sqs", boto3_session=boto3_session, config=config, client=client, **client_kwargs
        )
        self.delete_failures: List[DeleteFailure] = []

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy for DeleteMessageBatch retries (the layer's default unless one was given)."""
        if self._retry_policy is None:
            from .retry import DEFAULT_RETRY_POLICY  # loaded only when a delete is needed

            self._retry_policy = DEFAULT_RETRY_POLICY
        return self._retry_policy

    def _reset_batch(self) -> None:
        super()._reset_batch()
        self.delete_failures = []

    def _clean(self) -> None:
        """Delete the successes when some records failed, then raise (unless suppressed)."""
        failed = self._batch_failures(
            SQSBatchProcessingError,
            "handled or deleted",
            "all %d records succeeded; Lambda deletes the batch",
        )
        if not failed:
            return
        succeeded = self._succeeded_positions(failed)
        delete_error: Optional[BaseException] = None
        if succeeded:
            try:
                self.delete_failures = self._delete(succeeded)
            except Exception as exc:  # never let a delete problem hide the processing failures
                delete_error = exc
                logger.error("deleting the processed messages failed: %s: %s", type(exc).__name__, exc)
        for failure in self.delete_failures:
            logger.error(
                "message %s was processed but not deleted from %s: %s: %s; it will be delivered again",
                failure.message_id,
                failure.queue_arn,
                failure.code,
                failure.message,
            )
        if self.suppress_exception:
            logger.warning("%d of %d records failed; the error is suppressed", len(failed), len(self.records))
            return
        detail = (
            f" {len(self.delete_failures)} processed messages could not be deleted."
            if self.delete_failures
            else ""
        )
        error = SQSBatchProcessingError(
            f"Not all records processed successfully. {len(failed)} of {len(self.records)} records failed,"
            f" {len(succeeded) - len(self.delete_failures)} deleted.{detail}"
            f" {len(self.exceptions)} individual errors logged separately below.",
            self.exceptions,
        )
        if delete_error is not None:
            raise error from delete_error
        raise error

    # -- deletes ---------------------------------------------------------------------

    def _delete(self, positions: List[int]) -> List[DeleteFailure]:
        by_queue: Dict[str, List[int]] = {}
        for index in positions:
            by_queue.setdefault(self.records[index]["eventSourceARN"], []).append(index)
        jobs: List[Tuple[Any, str, str, List[int]]] = []
        for arn, indexes in by_queue.items():
            client = self._clients.get(parse_arn(arn).region)
            url = sqs_queue_url(arn)
            for start in range(0, len(indexes), MAX_DELETE_ENTRIES):
                jobs.append((client, url, arn, indexes[start : start + MAX_DELETE_ENTRIES]))
        failures: List[DeleteFailure] = []
        if len(jobs) > 1 and self.delete_concurrency > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(self.delete_concurrency, len(jobs))) as pool:
                for chunk_failures in pool.map(lambda job: self._delete_chunk(*job), jobs):
                    failures.extend(chunk_failures)
        else:
            for job in jobs:
                failures.extend(self._delete_chunk(*job))
        return failures

    def _delete_chunk(self, client: Any, url: str, arn: str, indexes: List[int]) -> List[DeleteFailure]:
        from .retry import ErrorInfo, classify_exception, is_retryable_code

        records = self.records
        policy = self.retry_policy
        # Entry ids are positions in the chunk: unique even when a message id repeats.
        pending: Dict[str, int] = {str(n): index for n, index in enumerate(indexes)}
        failures: List[DeleteFailure] = []
        attempt = 0
        while pending:
            attempt += 1
            entries = [
                {"Id": key, "ReceiptHandle": records[index]["receiptHandle"]}
                for key, index in pending.items()
            ]
            retry: Dict[str, int] = {}
            last: Optional[ErrorInfo] = None
            try:
                response = client.delete_message_batch(QueueUrl=url, Entries=entries)
            except Exception as exc:
                last = classify_exception(exc)
                if not last.retryable:
                    return failures + self._failed(pending, arn, last)
                retry = pending
            else:
                for entry in response.get("Failed") or ():
                    index = pending.get(str(entry.get("Id")))
                    if index is None:
                        continue
                    info = ErrorInfo(
                        str(entry.get("Code", "Unknown")),
                        str(entry.get("Message", "")),
                        is_retryable_code(str(entry.get("Code", "")), sender_fault=entry.get("SenderFault")),
                    )
                    if info.retryable:
                        retry[str(entry["Id"])] = index
                        last = info
                    else:
                        failures.extend(self._failed({"": index}, arn, info))
            if not retry:
                return failures
            delay = policy.backoff(attempt)
            if not policy.can_retry(attempt, delay, self.deadline):
                return failures + self._failed(retry, arn, last or ErrorInfo("Unknown", "", True))
            logger.debug("retrying the delete of %d messages (%s)", len(retry), last.code if last else "")
            policy.sleep(delay)
            pending = retry
        return failures

    def _failed(self, pending: Dict[str, int], arn: str, info: ErrorInfo) -> List[DeleteFailure]:
        return [
            DeleteFailure(str(self.records[index]["messageId"]), arn, info.code, info.message)
            for index in pending.values()
        ]


def sqs_batch_processor(
    record_handler: RecordHandler,
    config: Any = None,
    boto3_session: Any = None,
    suppress_exception: bool = False,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Lambda handler fed by SQS: each record goes to ``record_handler`` first.

    Successes are deleted when some records fail, then ``SQSBatchProcessingError`` is
    raised (unless ``suppress_exception``); the decorated handler runs only when every
    record succeeded or the error is suppressed. One processor (and its clients) is
    made here and reused by every invocation. ``options`` go to
    :class:`PartialSQSProcessor`.

    Example::

        from lambda_batch import sqs_batch_processor

        def record_handler(record):
            return do_something_with(record["body"])

        @sqs_batch_processor(record_handler=record_handler)
        def lambda_handler(event, context):
            return {"statusCode": 200}
    """
    processor = PartialSQSProcessor(
        config=config, boto3_session=boto3_session, suppress_exception=suppress_exception, **options
    )
    return batch_processor(record_handler=record_handler, processor=processor)


__all__ = ["DeleteFailure", "MAX_DELETE_ENTRIES", "PartialSQSProcessor", "sqs_batch_processor"]
