"""The documented SQS API: successes deleted with DeleteMessageBatch, failures raised.

When every record succeeds no delete is called: Lambda deletes the batch itself, which is
cheaper (with ``extend_visibility``, the succeeded messages are held invisible for that delete:
:mod:`lambda_batch.processing.features.heartbeat`). When some fail, the successes are deleted
(at most 10 per call, from the queue each record's ``eventSourceARN`` names, with a client
for that queue's region), then
:class:`~lambda_batch.SQSBatchProcessingError` is raised so that Lambda returns the
failed messages to their queues. The function's role needs ``sqs:DeleteMessage`` (the
IAM action that authorizes the DeleteMessageBatch API; there is no separate one).

Every delete call runs under the layer's retry policy and the invocation's deadline:
the clients make one attempt per call (botocore's own retries are merged off) and get
connect and read timeouts that end before the deadline.
"""

from __future__ import annotations

from ..core.clients import ClientProvider
from ..errors import ConfigurationError, SQSBatchProcessingError
from .base import batch_processor
from .events.spec import EventType
from .processor import DEFAULT_DEADLINE_MARGIN, RecordProcessor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional

    from ..core.retry import RetryPolicy
    from .base import RecordHandler
    from .batch import KeyFunction
    from .features.idempotency_options import Idempotency
    from .features.retry_delays import RetryDelay
    from .sqs_actions import DeleteFailure


class PartialSQSProcessor(RecordProcessor):
    """Process SQS records one by one; delete the successes, raise for the failures.

    The positional parameters are those of Powertools v1: ``config`` (a
    ``botocore.config.Config``), ``suppress_exception``, ``boto3_session``. The config,
    the session and any boto3 client keyword argument (``endpoint_url``, ``region_name``...)
    shape the SQS clients, made once per region on first need, with botocore's own
    retries merged off: ``retry_policy`` is the one retry loop of DeleteMessageBatch
    (whole calls, ``Failed`` entries worth retrying, entries the response left out),
    and it stops before the invocation's deadline. A ``client=`` is used as it is: its
    own botocore retries add to the layer's (logged once at WARNING).
    ``delete_concurrency`` bounds the delete calls in flight. Any other keyword is
    refused with ``TypeError``.

    ``suppress_exception=True`` returns normally when records failed: Lambda then
    deletes the whole batch, the failed messages too. The processor logs at ERROR, once
    per batch, the ids of the failed messages that will be lost that way.

    The other options are those of the shared engine (``deadline_margin``,
    ``max_concurrency``, ``skip_group_on_error``, ``model``, ``log_exception_messages``...),
    and those of :class:`~lambda_batch.BatchProcessor` for SQS: ``retry_delay`` (the failed
    messages' visibility set before the error is raised), ``extend_visibility``,
    ``visibility_timeout``, ``metrics_namespace`` and ``metrics_dimensions``; their calls use
    this processor's clients and ``retry_policy``.

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
        suppress_exception: bool = False,
        boto3_session: Any = None,
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
        log_exception_messages: bool = False,
        logger: Any = None,
        resolve_large_payloads: bool = False,
        delete_large_payloads: bool = False,
        large_payload_buckets: Optional[Iterable[str]] = None,
        large_payload_bucket_owner: Optional[str] = None,
        max_large_payload_bytes: Optional[int] = None,
        retry_delay: Optional[RetryDelay] = None,
        extend_visibility: bool = False,
        visibility_timeout: Optional[int] = None,
        metrics_namespace: Optional[str] = None,
        metrics_dimensions: Optional[Dict[str, str]] = None,
        idempotency: Optional[Idempotency] = None,
        **client_kwargs: Any,
    ) -> None:
        if not isinstance(suppress_exception, bool):
            raise TypeError(
                "PartialSQSProcessor(config, suppress_exception, boto3_session): suppress_exception must be"
                f" True or False, not {type(suppress_exception).__name__}"
            )
        if boto3_session is not None and not callable(getattr(boto3_session, "client", None)):
            raise TypeError(
                "PartialSQSProcessor: boto3_session must be a boto3 Session,"
                f" not {type(boto3_session).__name__}"
            )
        clients = ClientProvider(
            "sqs",
            boto3_session=boto3_session,
            config=config,
            client=client,
            owner="PartialSQSProcessor",
            **client_kwargs,
        )  # refuses unknown keywords (TypeError naming them) before anything else is set up
        super().__init__(
            EventType.SQS,
            model=model,
            deadline_margin=deadline_margin,
            max_concurrency=max_concurrency,
            skip_group_on_error=skip_group_on_error,
            stop_on_first_failure=stop_on_first_failure,
            concurrency_key=concurrency_key,
            log_exception_messages=log_exception_messages,
            logger=logger,
            resolve_large_payloads=resolve_large_payloads,
            delete_large_payloads=delete_large_payloads,
            large_payload_buckets=large_payload_buckets,
            large_payload_bucket_owner=large_payload_bucket_owner,
            max_large_payload_bytes=max_large_payload_bytes,
        )
        if self._large_payloads is not None:  # S3 clients from the same session and config, same policy
            self._large_payloads.clients = ClientProvider(
                "s3", boto3_session=boto3_session, config=config, owner="PartialSQSProcessor"
            )
            if retry_policy is not None:
                self._large_payloads.policy = retry_policy
        if (
            isinstance(delete_concurrency, bool)
            or not isinstance(delete_concurrency, int)
            or delete_concurrency < 1
        ):
            raise ConfigurationError(
                f"delete_concurrency must be a positive integer, not {delete_concurrency!r}"
            )
        self._init_features(
            retry_delay=retry_delay,
            extend_visibility=extend_visibility,
            visibility_timeout=visibility_timeout,
            metrics_namespace=metrics_namespace,
            metrics_dimensions=metrics_dimensions,
            clients=clients,
            retry_policy=retry_policy,
            delete_mode=True,
        )
        if idempotency is not None:
            from .options import idempotency_feature

            self.features.append(idempotency_feature(idempotency, self.logger))  # type: ignore[arg-type]
        self.suppress_exception = suppress_exception
        self._retry_policy = retry_policy
        self.delete_concurrency = delete_concurrency
        self._clients = clients
        self.delete_failures: List[DeleteFailure] = []

    @property
    def retry_policy(self) -> RetryPolicy:
        """The policy for DeleteMessageBatch retries (the layer's default unless one was given)."""
        if self._retry_policy is None:
            from ..core.retry import DEFAULT_RETRY_POLICY  # loaded only when a delete is needed

            self._retry_policy = DEFAULT_RETRY_POLICY
        return self._retry_policy

    def __call__(self, records: List[Any], handler: RecordHandler, lambda_context: Any = None) -> Any:
        """Bind a batch (see :class:`RecordProcessor`); no delete failures yet."""
        self.delete_failures = []
        return super().__call__(records, handler, lambda_context)

    def _clean(self) -> None:
        """Delete the successes when some records failed, then raise (unless suppressed)."""
        failed = self._outcome.failed_after_run(
            self._batch,
            SQSBatchProcessingError,
            "handled or deleted",
            "all %d records succeeded; Lambda deletes the batch",
            self.logger,
        )
        batch, outcome = self._batch, self._outcome
        if not failed:  # Lambda deletes the whole batch once the function returns
            if self.features:  # what the features read (large payloads discard those objects)
                outcome.deleted = list(range(len(batch.records)))
            return
        succeeded = outcome.succeeded_positions(len(batch.records))
        outcome.deleted = []
        delete_error: Optional[BaseException] = None
        if succeeded:
            try:
                self.delete_failures = self._delete(succeeded)
            except Exception as exc:  # never let a delete problem hide the processing failures
                delete_error = exc
                self.logger.error(
                    "deleting the processed messages failed: %s", type(exc).__name__, exc_info=exc
                )
            if delete_error is None:  # the messages now deleted (their large payloads go too), and only those
                kept = {failure.message_id for failure in self.delete_failures}
                ids = batch.ids
                outcome.deleted = [i for i in succeeded if ids[i] not in kept]
        for failure in self.delete_failures:
            self.logger.error(
                "message %s was processed but not deleted from %s: %s: %s; it will be delivered again",
                failure.message_id,
                failure.queue_arn,
                failure.code,
                failure.message,
            )
        if self.suppress_exception:
            ids = batch.ids
            self.logger.error(
                "%d of %d records failed and the error is suppressed (suppress_exception=True): the"
                " invocation succeeds, so Lambda deletes these failed messages too and they will not"
                " be delivered again: %s",
                len(failed),
                len(batch.records),
                ", ".join(ids[index] for index in failed),
            )
            return
        from .sqs_actions import describe_delete_failures

        not_deleted = describe_delete_failures(self.delete_failures)
        error = self._outcome.batch_error(
            self._batch,
            SQSBatchProcessingError,
            f"Not all records processed successfully. {len(failed)} of {len(batch.records)} records failed,"
            f" {len(succeeded) - len(self.delete_failures)} deleted.{not_deleted}"
            f" {len(outcome.exceptions)} individual errors logged separately below.",
            failed,
            self.log_exception_messages,
        )
        if delete_error is not None:
            raise error from delete_error
        raise error

    # -- deletes ---------------------------------------------------------------------

    def _delete(self, positions: List[int]) -> List[DeleteFailure]:
        from .sqs_actions import MessageDeleter  # the engine is loaded only when a delete is needed

        deleter = MessageDeleter(
            self._clients, self.retry_policy, self._batch.deadline, self.logger, self.delete_concurrency
        )
        try:
            return deleter.delete(self._batch.records, positions)
        finally:
            self._outcome.count("DeleteCalls", deleter.calls)


def sqs_batch_processor(
    record_handler: RecordHandler,
    config: Any = None,
    suppress_exception: bool = False,
    boto3_session: Any = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Lambda handler fed by SQS: each record goes to ``record_handler`` first.

    Successes are deleted when some records fail, then ``SQSBatchProcessingError`` is
    raised (unless ``suppress_exception``); the decorated handler runs only when every
    record succeeded or the error is suppressed. ``suppress_exception=True`` makes the
    invocation succeed, so Lambda deletes the failed messages too: their ids are logged
    at ERROR, once per batch. One processor (and its clients) is
    made here and reused by every invocation. ``options`` go to
    :class:`PartialSQSProcessor`; an unknown one raises ``TypeError`` here, when the
    module is imported, not at the first batch.

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


__all__ = ["PartialSQSProcessor", "sqs_batch_processor"]
