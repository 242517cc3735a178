"""Native partial batch responses (``ReportBatchItemFailures``): BatchProcessor, AsyncBatchProcessor,
SqsFifoPartialProcessor and process_partial_response, for SQS, FIFO, Kinesis, DynamoDB and Kafka.

Lambda reads ``{"batchItemFailures": [{"itemIdentifier": ...}]}`` from the function's
return value and retries only those records: the function makes no delete call (the
event source mapping deletes the successes, with the function's role, which therefore
still needs ``sqs:DeleteMessage``). The event source mapping must list
``ReportBatchItemFailures`` in its ``FunctionResponseTypes``.
"""

from __future__ import annotations

from ..errors import BatchProcessingError, ConfigurationError
from .events.intake import extract_records
from .events.spec import EventType
from .handlers import run_awaitable, running_loop
from .options import idempotency_feature, sqs_clients
from .processor import DEFAULT_DEADLINE_MARGIN, RecordProcessor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional

    from .base import RecordHandler
    from .batch import KeyFunction
    from .features.idempotency_options import Idempotency
    from .features.retry_delays import RetryDelay

    PartialItemFailureResponse = Dict[str, List[Dict[str, str]]]


class BatchProcessor(RecordProcessor):
    """Process a batch record by record and report only the failures to Lambda.

    ``event_type`` is :class:`EventType` ``SQS`` (standard or FIFO: a queue ARN ending in
    ``.fifo`` stops at the first failure, or skips only the failed message group with
    ``skip_group_on_error=True``), ``KinesisDataStreams`` or ``DynamoDBStreams``.
    When every record fails, :class:`~lambda_batch.BatchProcessingError` is raised
    (``raise_on_entire_batch_failure=False`` returns the full failure list instead).
    ``logger`` receives the per-record failure warnings. The other options (``model``,
    ``deadline_margin``, ``max_concurrency``, ``stop_on_first_failure``,
    ``concurrency_key``, ``log_exception_messages``) are described on the shared engine.

    SQS batches also take ``retry_delay=RetryDelay(...)`` (each failed message comes back after
    a delay growing with its receive count: :mod:`lambda_batch.processing.features.retry_delays`) and
    ``extend_visibility=True`` (a heartbeat keeps unfinished messages invisible:
    :mod:`lambda_batch.processing.features.heartbeat`), whose SQS calls use ``boto3_session``,
    ``config``, ``client`` and client keywords (``endpoint_url``...) as
    :class:`~lambda_batch.PartialSQSProcessor` does. Every event type takes
    ``metrics_namespace`` and ``metrics_dimensions``: one CloudWatch EMF document per batch
    on stdout (:mod:`lambda_batch.processing.features.metrics`).

    Example::

        from lambda_batch import BatchProcessor, EventType, process_partial_response

        processor = BatchProcessor(event_type=EventType.SQS)

        def record_handler(record):
            do_something_with(record["body"])

        def lambda_handler(event, context):
            return process_partial_response(event, record_handler, processor, context)
    """

    def __init__(
        self,
        event_type: EventType,
        model: Any = None,
        raise_on_entire_batch_failure: bool = True,
        logger: Any = None,
        *,
        deadline_margin: Optional[float] = DEFAULT_DEADLINE_MARGIN,
        max_concurrency: int = 1,
        skip_group_on_error: bool = False,
        stop_on_first_failure: bool = False,
        concurrency_key: Optional[KeyFunction] = None,
        log_exception_messages: bool = False,
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
        boto3_session: Any = None,
        config: Any = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        clients = None
        if boto3_session is not None or config is not None or client is not None or client_kwargs:
            clients = sqs_clients(owner, boto3_session, config, client, client_kwargs)  # TypeError first
            if not isinstance(event_type, EventType) or event_type.is_stream:  # queues only
                raise ConfigurationError(
                    f"{owner}: boto3_session, config, client and client keywords are for EventType.SQS"
                    " batches (the clients of retry_delay and extend_visibility)"
                )
        super().__init__(
            event_type,
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
        self._init_features(
            retry_delay=retry_delay,
            extend_visibility=extend_visibility,
            visibility_timeout=visibility_timeout,
            metrics_namespace=metrics_namespace,
            metrics_dimensions=metrics_dimensions,
            clients=clients,
        )
        if idempotency is not None:
            self.features.append(idempotency_feature(idempotency, self.logger))  # type: ignore[arg-type]
        if clients is not None and self._large_payloads is not None:  # S3 from the same session and config
            from ..core.clients import ClientProvider

            self._large_payloads.clients = ClientProvider(
                "s3", boto3_session=boto3_session, config=config, owner=owner
            )
        self.raise_on_entire_batch_failure = raise_on_entire_batch_failure
        self.batch_response: PartialItemFailureResponse = {"batchItemFailures": []}

    def __call__(self, records: List[Any], handler: RecordHandler, lambda_context: Any = None) -> Any:
        """Bind a batch (see :class:`RecordProcessor`); the response starts empty."""
        self.batch_response = {"batchItemFailures": []}
        return super().__call__(records, handler, lambda_context)

    def response(self) -> PartialItemFailureResponse:
        """``{"batchItemFailures": [{"itemIdentifier": id}, ...]}`` for the last batch.

        The list is empty when every record succeeded.
        """
        return self.batch_response

    def _clean(self) -> None:
        """Build the response; raise when every record failed (unless told not to)."""
        failed = self._outcome.failed_after_run(
            self._batch,
            BatchProcessingError,
            "handled",
            "all %d records succeeded",
            self.logger,
        )
        if not failed:
            return
        batch = self._batch
        if len(failed) == len(batch.records) and self.raise_on_entire_batch_failure:
            raise self._outcome.batch_error(
                self._batch,
                BatchProcessingError,
                f"All records failed processing. {len(self._outcome.exceptions)} individual errors"
                " logged separately below.",
                failed,
                self.log_exception_messages,
            )
        if not batch.partial:  # a Pipes batch from Kafka: Pipes retries whole batches only
            raise self._outcome.batch_error(
                self._batch,
                BatchProcessingError,
                f"{len(failed)} of {len(batch.records)} records failed; an EventBridge Pipes batch from"
                " Kafka takes no partial failures, so the whole batch is retried",
                failed,
                self.log_exception_messages,
            )
        if batch.identifiers is not None:  # Kafka, Pipes, KPL aggregates: see events.prepare
            from .events.prepare import failure_identifiers

            self.batch_response = {"batchItemFailures": failure_identifiers(batch.identifiers, failed)}
            return
        ids = batch.ids
        self.batch_response = {"batchItemFailures": [{"itemIdentifier": ids[index]} for index in failed]}


class SqsFifoPartialProcessor(BatchProcessor):
    """:class:`BatchProcessor` for SQS FIFO queues, FIFO rules whatever the queue ARN says.

    The first failure returns every later record unprocessed; with
    ``skip_group_on_error=True`` only the later records of the failed message group.
    ``retry_delay``, ``extend_visibility``, the metrics and client options are those of
    :class:`BatchProcessor` (a delayed failed message holds its message group, and the group's
    held-back records get the same delay, so the group comes back in order).

    Example::

        from lambda_batch import SqsFifoPartialProcessor, process_partial_response

        processor = SqsFifoPartialProcessor(skip_group_on_error=True)

        def lambda_handler(event, context):
            return process_partial_response(event, record_handler, processor, context)
    """

    _always_fifo = True

    def __init__(
        self,
        model: Any = None,
        skip_group_on_error: bool = False,
        logger: Any = None,
        *,
        raise_on_entire_batch_failure: bool = True,
        deadline_margin: Optional[float] = DEFAULT_DEADLINE_MARGIN,
        max_concurrency: int = 1,
        log_exception_messages: bool = False,
        resolve_large_payloads: bool = False,
        delete_large_payloads: bool = False,
        large_payload_buckets: Optional[Iterable[str]] = None,
        large_payload_bucket_owner: Optional[str] = None,
        max_large_payload_bytes: Optional[int] = None,
        **options: Any,
    ) -> None:
        super().__init__(
            EventType.SQS,
            model,
            raise_on_entire_batch_failure,
            logger,
            deadline_margin=deadline_margin,
            max_concurrency=max_concurrency,
            skip_group_on_error=skip_group_on_error,
            log_exception_messages=log_exception_messages,
            resolve_large_payloads=resolve_large_payloads,
            delete_large_payloads=delete_large_payloads,
            large_payload_buckets=large_payload_buckets,
            large_payload_bucket_owner=large_payload_bucket_owner,
            max_large_payload_bytes=max_large_payload_bytes,
            **options,
        )


def process_partial_response(
    event: Any,
    record_handler: RecordHandler,
    processor: BatchProcessor,
    context: Any = None,
) -> PartialItemFailureResponse:
    """Process ``event`` record by record and return the response Lambda expects.

    Raises :class:`~lambda_batch.MalformedEventError` (nothing handled) when the event
    has no ``Records`` list or a record is not of the processor's event type, and
    :class:`~lambda_batch.BatchProcessingError` when every record failed (unless the
    processor was made with ``raise_on_entire_batch_failure=False``).

    Example::

        processor = BatchProcessor(event_type=EventType.KinesisDataStreams, stop_on_first_failure=True)

        def lambda_handler(event, context):
            return process_partial_response(event, record_handler, processor, context)
    """
    records = event.get("Records") if type(event) is dict else None
    if type(records) is not list:  # Kafka, Pipes, or not an event at all
        records = extract_records(event)
    with processor(records, record_handler, lambda_context=context):
        processor.process()
    return processor.response()


class AsyncBatchProcessor(BatchProcessor):
    """:class:`BatchProcessor` for ``async def`` record handlers, with the same options.

    ``processor.async_process()`` called from a synchronous Lambda handler runs the batch
    on an event loop kept across warm invocations; inside a running loop,
    ``await processor.async_process()``. By default every record is in flight at once
    (FIFO message groups and stream shards still one record after another);
    ``max_concurrency=N`` bounds the records in flight.

    Example::

        from lambda_batch import AsyncBatchProcessor, EventType, async_process_partial_response

        processor = AsyncBatchProcessor(event_type=EventType.SQS, max_concurrency=10)

        async def record_handler(record):
            await do_something_with(record["body"])

        def lambda_handler(event, context):
            return async_process_partial_response(event, record_handler, processor, context)
    """

    def __init__(
        self,
        event_type: EventType,
        model: Any = None,
        raise_on_entire_batch_failure: bool = True,
        logger: Any = None,
        *,
        max_concurrency: Optional[int] = None,
        **options: Any,
    ) -> None:
        super().__init__(
            event_type,
            model,
            raise_on_entire_batch_failure,
            logger,
            max_concurrency=1 if max_concurrency is None else max_concurrency,
            **options,
        )
        self._unbounded = max_concurrency is None

    def async_process(self) -> Any:
        """Handle every record with the async handler: the results, or an awaitable of them
        inside a running event loop (see :meth:`RecordProcessor.async_process`)."""
        if running_loop() is not None:
            return self._process_async()
        return run_awaitable(self._process_async())

    def _tasks_in_flight(self, lanes: int) -> int:
        return max(1, lanes) if self._unbounded else self.max_concurrency


def async_process_partial_response(
    event: Any,
    record_handler: RecordHandler,
    processor: BatchProcessor,
    context: Any = None,
) -> PartialItemFailureResponse:
    """:func:`process_partial_response` for an ``async def`` record handler, called from sync code.

    The batch runs on an event loop kept across warm invocations. Inside a running event
    loop, use ``await processor.async_process()`` within ``with processor(...)`` instead.

    Example::

        processor = AsyncBatchProcessor(event_type=EventType.SQS)

        async def record_handler(record):
            await do_something_with(record["body"])

        def lambda_handler(event, context):
            return async_process_partial_response(event, record_handler, processor, context)
    """
    if running_loop() is not None:
        raise ConfigurationError(
            "async_process_partial_response inside a running event loop: use"
            " `with processor(records, record_handler): await processor.async_process()`"
        )
    records = extract_records(event)
    with processor(records, record_handler, lambda_context=context):
        processor.async_process()
    return processor.response()


__all__ = [
    "AsyncBatchProcessor",
    "BatchProcessor",
    "SqsFifoPartialProcessor",
    "async_process_partial_response",
    "process_partial_response",
]
