"""The partial batch processor of SQS FIFO queues: FIFO rules whatever the queue ARN says.

Example::

    from lambda_batch import SqsFifoPartialProcessor, process_partial_response

    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
"""

from __future__ import annotations

from .event_types import EventType
from .record_processor import DEFAULT_DEADLINE_MARGIN
from .report_failures import BatchProcessor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Iterable, Optional


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


__all__ = ["SqsFifoPartialProcessor"]
