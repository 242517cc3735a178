"""Binding a batch to a processor: validation, record objects, the ordering rule and the deadline.

``processor(records, handler, lambda_context)`` checks every record first (a malformed event
raises :class:`~lambda_batch.MalformedEventError` before any record is handled), prepares
the batches that need more than that (KPL aggregates, Kafka, EventBridge Pipes: see
``batch_sources``), wraps each record in its record object, picks the ordering rule (FIFO
message groups, stream shards) and reads the deadline from the Lambda context, once.

Example::

    with processor(event["Records"], record_handler, lambda_context=context) as proc:
        proc.process()
"""

from __future__ import annotations

import math

from ..core.deadline import Deadline
from ..errors import ConfigurationError
from .base_processor import BasePartialProcessor
from .event_types import EventType
from .ordering import CONTINUE, Ordering, ordering_for
from .records import validate_records

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence

    from .base_processor import ProcessingResult, RecordHandler
    from .ordering import KeyFunction


class BatchBinding(BasePartialProcessor):
    """The per-batch state of a processor, set when a batch is bound and reset for the next."""

    event_type: EventType
    model: Any
    deadline_margin: Optional[float]
    skip_group_on_error: bool
    stop_on_first_failure: bool
    concurrency_key: Optional[KeyFunction]
    kpl_deaggregation: bool
    _needs_receipt_handle: bool
    _always_fifo: bool
    _large_payloads: Any

    def _reset_batch(self) -> None:
        self._ids: List[str] = []
        self._results: Optional[List[ProcessingResult]] = None
        self._ordering = Ordering(CONTINUE, None, False)
        self._ordering_options: Optional[Dict[str, Any]] = None
        self._deadline = Deadline.never()
        self._cutoff = math.inf
        # Kafka, Pipes and de-aggregated Kinesis batches (batch_sources): the item identifiers
        # reported (None: the ids), whether the invoker takes partial failures, a converter guard.
        self._identifiers: Optional[List[Any]] = None
        self._partial = True
        self._guard: Optional[Callable[[Any], Any]] = None
        # What the results and success_messages keep for each position when it is not the record
        # handed to the handler (de-aggregated KPL records: their aggregate's record). None: that record.
        self._kept_records: Optional[Sequence[Any]] = None
        # The record class made for each handler call (None: ``records`` are already what the
        # handler receives: record objects of a prepared batch, or raw dicts for a model).
        self._make_record: Optional[Callable[[Any], Any]] = None
        self._reset_run()

    def _reset_run(self) -> None:
        self._stopped_by: Optional[int] = None
        self._failed_keys: Dict[Hashable, int] = {}
        self._skipped = 0
        self._failures: List[int] = []
        self._failures_known = True
        if self._large_payloads is not None:
            self._large_payloads.reset()

    def __call__(self, records: List[Any], handler: RecordHandler, lambda_context: Any = None) -> Any:
        """Bind a batch: validate its records (:class:`MalformedEventError` on any bad one)."""
        super().__call__(records, handler, lambda_context)
        self._reset_batch()
        source = None
        if not self.event_type.spec.prepared and type(records) is list:  # SQS, DynamoDB: nothing more
            self._ids = validate_records(
                records, self.event_type, need_receipt_handle=self._needs_receipt_handle
            )
        else:  # streams (KPL aggregates), Kafka, EventBridge Pipes batches
            from .batch_sources import prepare_batch

            source = prepare_batch(
                records,
                self.event_type,
                need_receipt_handle=self._needs_receipt_handle,
                deaggregate=self.kpl_deaggregation,
            )
            records, self._ids = source.records, source.ids
            self._identifiers, self._partial = source.identifiers, source.partial
        if source is None and self.model is None and self._large_payloads is None:
            # SQS and DynamoDB lists: each record object is made as its handler is called, so
            # it goes when the call ends (unless kept); successes keep the event's own dicts.
            from .event_records import record_class  # loaded with the first batch

            self._make_record = record_class(self.event_type)
            self.records = records
        else:
            from .typed_records import handler_records  # loaded with the first batch

            self._make_record = None
            self.records = records = handler_records(records, self.event_type, self.model)  # record objects
            self._kept_records = getattr(records, "kept", None)
        if source is not None and source.corrupt:
            self._guard = source.guard(records)
        # The ordering rule is worked out when first needed (a failure, concurrency, is_fifo):
        # a batch where every record succeeds never reads its queue ARNs a second time.
        self._ordering_options = {
            "skip_group_on_error": self.skip_group_on_error,
            "stop_on_first_failure": self.stop_on_first_failure,
            "concurrency_key": self.concurrency_key,
            "always_fifo": self._always_fifo,
        }
        self._deadline = Deadline.from_context(lambda_context)
        if self.deadline_margin is not None:
            self._cutoff = self._deadline.at - self.deadline_margin
        return self

    @property
    def _ordering(self) -> Ordering:
        """The ordering rule of this batch (FIFO message groups, stream shards), worked out once."""
        options = self._ordering_options
        if options is not None:
            self._ordering_options = None
            self._ordering_rule = ordering_for(self.event_type, self.records, **options)
        return self._ordering_rule

    @_ordering.setter
    def _ordering(self, rule: Ordering) -> None:
        self._ordering_options = None
        self._ordering_rule = rule

    @property
    def deadline(self) -> Deadline:
        """The invocation's deadline, read once from the Lambda context of this batch."""
        return self._deadline

    @property
    def is_fifo(self) -> bool:
        """Whether this batch comes from an SQS FIFO queue."""
        return self._ordering.fifo


def check_options(event_type: Any, max_concurrency: Any, deadline_margin: Any, concurrency_key: Any) -> None:
    """Refuse the engine's options out of range, with a ConfigurationError naming them."""
    if not isinstance(event_type, EventType):
        raise ConfigurationError(f"event_type must be an EventType, not {event_type!r}")
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
    if deadline_margin is not None and (
        not isinstance(deadline_margin, (int, float)) or deadline_margin < 0 or math.isnan(deadline_margin)
    ):
        raise ConfigurationError(
            f"deadline_margin must be a number of seconds >= 0 or None, not {deadline_margin!r}"
        )
    if concurrency_key is not None and not callable(concurrency_key):
        raise ConfigurationError("concurrency_key must be a function of the record")
