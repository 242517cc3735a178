"""One invocation's batch and its outcome: the two objects a processor makes per call.

A `Batch` is what came in: the records as the handler receives them, their ids (for
logs) and item identifiers (for Lambda), the ordering rule (FIFO message groups, stream shards,
worked out when first needed) and the deadline, read once from the Lambda context. An
`Outcome` is what it came to: the results, the failed positions, the records held back
and why, the successes and failures as Powertools names them, and what the features counted.
Both are made when a batch is bound (``processor(records, handler, context)``) and passed to the
parts that need them: the run modes (`lambda_batch.processing.running`), the features
(`lambda_batch.processing.features.hooks`) and the fronts that build the response.

Ordering rules:

* Standard SQS: records are independent; a failure holds nothing back.
* SQS FIFO (a queue ARN ending in ``.fifo``): order holds per message group. By default
  the first failure stops the batch and every later record is returned unprocessed;
  with ``skip_group_on_error`` only the later records of the failed group are returned.
* Kinesis and DynamoDB streams: order holds per shard (Kafka: per topic-partition). Lambda
  checkpoints at the lowest failed sequence number and redelivers everything after it, so
  ``stop_on_first_failure`` saves work that would be redone.

Example:
    ```python
    batch = Batch(records, EventType.SQS, BatchOptions(...), context)
    outcome = Outcome()
    batch.ordering.on_failure          # 'continue', 'stop-batch' or 'skip-key'
    ```
"""

from __future__ import annotations

import math
import time

from .base import FAIL, SUCCESS
from .events.intake import shard_id, validate_records
from .events.spec import KINESIS_SHARD, MESSAGE_GROUP, STREAM_SHARD, TOPIC_PARTITION, EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, Type

    from ..core.deadline import Deadline
    from ..errors import BatchProcessingError, ExceptionInfo
    from .base import ProcessingResult

    KeyFunction = Callable[[Mapping[str, Any]], Hashable]

#: A failure holds nothing back.
CONTINUE = "continue"
#: A failure returns every later record of the batch unprocessed.
STOP_BATCH = "stop-batch"
#: A failure returns the later records that share its ordering key.
SKIP_KEY = "skip-key"


class Ordering:
    """The rule for one batch.

    ``key`` maps a record to its ordering key (records with equal keys keep their
    relative order under concurrency); ``None`` means every record stands alone.
    ``on_failure`` is `CONTINUE`, `STOP_BATCH` or `SKIP_KEY`;
    ``fifo`` says the batch comes from an SQS FIFO queue.
    """

    __slots__ = ("fifo", "key", "on_failure")

    def __init__(self, on_failure: str, key: Optional[KeyFunction], fifo: bool) -> None:
        self.on_failure = on_failure
        self.key = key
        self.fifo = fifo

    def __repr__(self) -> str:
        return f"Ordering(on_failure={self.on_failure!r}, fifo={self.fifo})"


def _group_key(event_type: EventType) -> KeyFunction:
    """The FIFO ordering key of ``event_type``, from the module its spec row names (loaded once)."""
    key = _GROUP_KEYS.get(event_type.value)
    if key is None:
        from importlib import import_module

        module, name = event_type.spec.group_key  # type: ignore[misc]
        key = _GROUP_KEYS[event_type.value] = getattr(
            import_module(module, "lambda_batch.processing.events"), name
        )
    return key


_GROUP_KEYS: Dict[str, KeyFunction] = {}


def _kinesis_shard_key(record: Mapping[str, Any]) -> Hashable:
    return shard_id(record, EventType.KinesisDataStreams)


def _dynamodb_shard_key(record: Mapping[str, Any]) -> Hashable:
    return shard_id(record, EventType.DynamoDBStreams)


def _kafka_partition_key(record: Mapping[str, Any]) -> Hashable:
    return (record.get("topic"), str(record.get("partition")))


#: The default ordering key of each kind of stream (``EventSpec.ordering``).
DEFAULT_KEYS: Dict[str, KeyFunction] = {
    KINESIS_SHARD: _kinesis_shard_key,
    STREAM_SHARD: _dynamodb_shard_key,
    TOPIC_PARTITION: _kafka_partition_key,
}


def _any_fifo(records: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any record comes from an SQS FIFO queue (its name ends in ``.fifo``)."""
    try:
        arns = {record.get("eventSourceARN") for record in records}  # usually one queue
    except TypeError:  # an unhashable ARN: not a queue ARN anyway
        arns = {
            record.get("eventSourceARN")
            for record in records
            if isinstance(record.get("eventSourceARN"), str)
        }
    for arn in arns:  # noqa: SIM110 - a loop, not any(<generator>): no generator frame at the first failure
        if isinstance(arn, str) and arn.endswith(".fifo"):
            return True
    return False


def ordering_for(
    event_type: EventType,
    records: Sequence[Mapping[str, Any]],
    *,
    skip_group_on_error: bool = False,
    stop_on_first_failure: bool = False,
    concurrency_key: Optional[KeyFunction] = None,
    always_fifo: bool = False,
) -> Ordering:
    """The ordering rule for ``records`` (already validated) of ``event_type``.

    ``concurrency_key`` replaces the default key (message group, shard) for
    standard queues and streams; FIFO queues always order by message group.
    ``always_fifo`` treats an SQS batch as FIFO whatever its queue ARN says.

    Example:
        ```python
        ordering_for(
            EventType.SQS, [{"eventSourceARN": "arn:aws:sqs:r:1:q.fifo"}]
        ).on_failure  # 'stop-batch'
        ```
    """
    ordering = event_type.spec.ordering  # the event-spec table
    if ordering == MESSAGE_GROUP:  # SQS: FIFO queues keep order per message group
        if always_fifo or (records and _any_fifo(records)):
            return Ordering(SKIP_KEY if skip_group_on_error else STOP_BATCH, _group_key(event_type), True)
        return Ordering(STOP_BATCH if stop_on_first_failure else CONTINUE, concurrency_key, False)
    default_key = DEFAULT_KEYS[ordering]
    return Ordering(
        STOP_BATCH if stop_on_first_failure else CONTINUE,
        concurrency_key if concurrency_key is not None else default_key,
        False,
    )


class BatchOptions:
    """What a processor decides about every batch it binds (set once, when it is made)."""

    __slots__ = (
        "always_fifo",
        "concurrency_key",
        "deadline_margin",
        "event_type",
        "kpl_deaggregation",
        "make_record",
        "model",
        "needs_receipt_handle",
        "objects_up_front",
        "skip_group_on_error",
        "stop_on_first_failure",
    )

    def __init__(self, event_type: EventType, **options: Any) -> None:
        self.event_type = event_type
        self.model: Any = options.get("model")
        self.deadline_margin: Optional[float] = options.get("deadline_margin")
        self.skip_group_on_error = bool(options.get("skip_group_on_error", False))
        self.stop_on_first_failure = bool(options.get("stop_on_first_failure", False))
        self.concurrency_key: Optional[KeyFunction] = options.get("concurrency_key")
        self.always_fifo = bool(options.get("always_fifo", False))
        self.needs_receipt_handle = bool(options.get("needs_receipt_handle", False))
        self.kpl_deaggregation = bool(options.get("kpl_deaggregation", True))
        #: Record objects made before the batch runs (a model, or a feature that reads the records
        #: the handler receives) rather than one at a time as each handler is called.
        self.objects_up_front = bool(options.get("objects_up_front", False))
        #: The record class of the event type, looked up with the first batch.
        self.make_record: Optional[Callable[[Any], Any]] = None


class Batch:
    """The records of one invocation, as the handler receives them, and what binds them.

    ``records``: what ``process()`` hands on (record objects, or raw dicts made into record
    objects one at a time by ``make_record``); ``ids``: each record's id for logs;
    ``identifiers``: what Lambda reads back (``None``: the ids); ``partial``: whether the
    invoker takes partial failures; ``kept``: what results keep per position when it is not the
    record (de-aggregated KPL records keep their aggregate's); ``guard``: a converter wrapper
    failing corrupt KPL aggregates; ``cutoff``: no record starts on the monotonic clock after it.
    """

    __slots__ = (
        "_ordering",
        "context",
        "cutoff",
        "event_type",
        "guard",
        "identifiers",
        "ids",
        "kept",
        "make_record",
        "options",
        "partial",
        "records",
        "remaining_at",
    )

    def __init__(self, records: Any, options: BatchOptions, context: Any = None) -> None:
        self.options = options
        self.event_type = event_type = options.event_type
        self.context = context
        self.identifiers: Optional[List[Any]] = None
        self.partial = True
        self.guard: Optional[Callable[[Any], Any]] = None
        self.kept: Optional[Sequence[Any]] = None
        self._ordering: Optional[Ordering] = None
        # The deadline, read once: the Lambda context's remaining time on the monotonic clock.
        remaining = getattr(context, "get_remaining_time_in_millis", None) if context is not None else None
        self.remaining_at = math.inf if remaining is None else time.monotonic() + float(remaining()) / 1000.0
        margin = options.deadline_margin
        self.cutoff = math.inf if margin is None else self.remaining_at - margin
        if type(records) is list and not event_type.spec.prepared:  # SQS, DynamoDB lists
            self.ids = validate_records(records, event_type, need_receipt_handle=options.needs_receipt_handle)
            if options.model is None and not options.objects_up_front:
                # each record object is made as its handler is called, and goes when the call ends
                make = options.make_record
                if make is None:
                    make = options.make_record = _record_class(event_type)
                self.make_record = make
                self.records: List[Any] = records
                return
            self.make_record = None
            self.records = _handler_records(records, event_type, options.model)
            return
        self._prepare(records)

    def _prepare(self, records: Any) -> None:
        """Streams (KPL aggregates), Kafka and EventBridge Pipes batches: see ``events.prepare``."""
        from .events.prepare import prepare_batch

        options = self.options
        source = prepare_batch(
            records,
            self.event_type,
            need_receipt_handle=options.needs_receipt_handle,
            deaggregate=options.kpl_deaggregation,
        )
        self.ids = source.ids
        self.identifiers, self.partial = source.identifiers, source.partial
        self.make_record = None
        self.records = handled = _handler_records(source.records, self.event_type, options.model)
        self.kept = getattr(handled, "kept", None)
        if source.corrupt:
            self.guard = source.guard(handled)

    @property
    def ordering(self) -> Ordering:
        """The ordering rule of this batch, worked out when first needed (a failure, concurrency)."""
        rule = self._ordering
        if rule is None:
            options = self.options
            rule = self._ordering = ordering_for(
                self.event_type,
                self.records,
                skip_group_on_error=options.skip_group_on_error,
                stop_on_first_failure=options.stop_on_first_failure,
                concurrency_key=options.concurrency_key,
                always_fifo=options.always_fifo,
            )
        return rule

    @property
    def deadline(self) -> Deadline:
        """The invocation's deadline (a `Deadline`)."""
        from ..core.deadline import Deadline

        return Deadline(None if self.remaining_at == math.inf else self.remaining_at)

    @property
    def fifo(self) -> bool:
        """Whether this batch comes from an SQS FIFO queue."""
        return self.ordering.fifo

    @classmethod
    def empty(cls, options: BatchOptions) -> Batch:
        """The batch of a processor that has not been called yet (or whose records were refused)."""
        batch = cls.__new__(cls)
        batch.options = options
        batch.event_type = options.event_type
        batch.context = None
        batch.records, batch.ids = [], []
        batch.identifiers, batch.partial, batch.guard, batch.kept = None, True, None, None
        batch.make_record = None
        batch._ordering = None
        batch.remaining_at = batch.cutoff = math.inf
        return batch


def _record_class(event_type: EventType) -> Optional[Callable[[Any], Any]]:
    from .events.record import record_class  # the event-spec table names the source's module

    return record_class(event_type)


def _handler_records(records: Any, event_type: EventType, model: Any) -> List[Any]:
    from .events.record import handler_records

    return handler_records(records, event_type, model)


class Outcome:
    """What a batch came to.

    ``results``: one result per record once the batch ran (``None`` before); ``failures``: the
    failed (or held back) positions in order, when ``failures_known``; ``skipped``: how many were
    held back; ``stopped_by``/``failed_keys``: what holds later records back; ``success_messages``,
    ``fail_messages``, ``exceptions``: as Powertools names them. ``preset``: outcomes a feature
    decided before the batch ran (position -> ``(True, result)`` for a success, ``(False,
    exc_info)`` for a failure): those records are not handed to the handler. ``counters`` and
    ``visibility_failures``: what the features did.
    """

    __slots__ = (
        "_success_messages",
        "counters",
        "deleted",
        "exceptions",
        "fail_messages",
        "failed_keys",
        "failures",
        "failures_known",
        "holds",
        "pending_successes",
        "preset",
        "results",
        "skipped",
        "started",
        "stopped_by",
        "visibility_failures",
    )

    def __init__(self) -> None:
        self.results: Optional[List[ProcessingResult]] = None
        self.failures: List[int] = []
        self.failures_known = True
        self.skipped = 0
        self.stopped_by: Optional[int] = None
        self.failed_keys: Dict[Hashable, int] = {}
        self._success_messages: List[Any] = []
        #: After a sequential batch: the records and the failed positions ``success_messages`` is
        #: made from when first read (a batch whose successes nobody reads never lists them).
        self.pending_successes: Optional[Tuple[Sequence[Any], List[int]]] = None
        self.fail_messages: List[Any] = []
        self.exceptions: List[ExceptionInfo] = []
        self.preset: Dict[int, Tuple[bool, Any]] = {}
        self.counters: Dict[str, float] = {}
        self.visibility_failures: List[Any] = []
        self.holds: Dict[int, int] = {}
        #: The positions whose messages are deleted (by Lambda, or by the layer in delete mode).
        self.deleted: Optional[List[int]] = None
        self.started = time.monotonic()

    def reset_run(self) -> None:
        """Forget a previous ``process()`` of the same batch."""
        self.failures = []
        self.failures_known = True
        self.skipped = 0
        self.stopped_by = None
        self.failed_keys = {}

    @property
    def success_messages(self) -> List[Any]:
        """The records that succeeded, in order."""
        pending = self.pending_successes
        if pending is not None:
            self.pending_successes = None
            records, failed = pending
            if not failed:
                self._success_messages.extend(records)
            else:
                skip = set(failed)
                self._success_messages.extend(
                    record for index, record in enumerate(records) if index not in skip
                )
        return self._success_messages

    @success_messages.setter
    def success_messages(self, messages: List[Any]) -> None:
        self.pending_successes = None
        self._success_messages = messages

    @property
    def processed(self) -> bool:
        """Whether the batch ran."""
        return self.results is not None

    def failed_positions(self) -> List[int]:
        """Positions of the failed (or returned unprocessed) records, in order."""
        if self.failures_known:
            return self.failures
        return [
            index
            for index, entry in enumerate(self.results or ())
            if not (isinstance(entry, tuple) and entry and entry[0] == SUCCESS)
        ]

    def succeeded_positions(self, count: int) -> List[int]:
        """Positions of the succeeded records of a batch of ``count``."""
        failed = set(self.failed_positions())
        return [index for index in range(count) if index not in failed]

    def failed_after_run(
        self,
        batch: Batch,
        error_type: Type[BatchProcessingError],
        not_done: str,
        all_succeeded: str,
        logger: Any,
    ) -> List[int]:
        """Positions of the failed records of the batch just processed (empty when every record
        succeeded, logged with ``all_succeeded``, or when the batch was empty).

        Raises ``error_type`` when ``process()`` was never called on a non-empty batch: a
        forgotten ``process()`` must not pass for a success.
        """
        if self.results is None:
            records = batch.records
            if not records:
                return []
            raise error_type(f"process() was not called: none of the {len(records)} records was {not_done}")
        failed = self.failures if self.failures_known else self.failed_positions()
        if not failed:
            logger.debug(all_succeeded, len(batch.records))
        return failed

    def batch_error(
        self,
        batch: Batch,
        error_type: Type[BatchProcessingError],
        msg: str,
        failed: List[int],
        exception_messages: bool,
    ) -> Any:
        """``error_type`` for the failed positions: record ids, types and body-free reasons."""
        exceptions = self.exceptions
        ids = [batch.ids[index] for index in failed] if len(failed) == len(exceptions) else []
        return error_type(msg, exceptions, record_ids=ids, exception_messages=exception_messages)

    def log_skipped(self, batch: Batch, logger: Any, margin: Optional[float]) -> None:
        """Say once how many records were returned unprocessed, and why."""
        if self.stopped_by is not None or self.failed_keys:
            cause = "after an earlier failure, to keep order"
        else:
            cause = f"with under {margin}s of the invocation left"
        logger.warning("%d of %d records returned unprocessed %s", self.skipped, len(batch.records), cause)

    def count(self, name: str, value: float) -> None:
        """Add ``value`` to a feature's counter (``DeleteCalls``, ``VisibilityCalls``...)."""
        self.counters[name] = self.counters.get(name, 0) + value


__all__ = [
    "CONTINUE",
    "FAIL",
    "SKIP_KEY",
    "STOP_BATCH",
    "SUCCESS",
    "Batch",
    "BatchOptions",
    "Ordering",
    "Outcome",
    "ordering_for",
]
