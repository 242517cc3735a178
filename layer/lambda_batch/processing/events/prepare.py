"""How a batch reaches the record handler, and how its failures go back, beyond SQS and stream events.

The processors validate an SQS event's records directly (the common case costs nothing more).
Every other batch comes through `prepare_batch`:

- Kinesis and DynamoDB stream events: validated; KPL aggregated records are de-aggregated
  (`lambda_batch.processing.events.kinesis`), one failure reported per aggregate;
- Kafka (Amazon MSK, self-managed): validated, identified by topic-partition and offset
  (`lambda_batch.processing.events.kafka`);
- EventBridge Pipes batches (`lambda_batch.processing.events.pipes`): validated as their
  source's records, identified as Pipes reads them back; a Kafka source takes no partial failures.

Example:
    ```python
    source = prepare_batch(
        records, EventType.Kafka, need_receipt_handle=False, deaggregate=True
    )
    source.ids, source.identifiers
    ```
"""

from __future__ import annotations

from .intake import validate_records
from .pipes import PipesBatch
from .spec import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional


class BatchSource:
    """A prepared batch: its records, ids for logs, item identifiers for Lambda (``None``: the ids),
    corrupt KPL aggregates by position, and whether the invoker takes partial failures."""

    __slots__ = ("corrupt", "identifiers", "ids", "partial", "records")

    def __init__(
        self,
        records: List[Any],
        ids: List[str],
        identifiers: Optional[List[Any]] = None,
        corrupt: Optional[Dict[int, str]] = None,
        partial: bool = True,
    ) -> None:
        self.records = records
        self.ids = ids
        self.identifiers = identifiers
        self.corrupt = corrupt or {}
        self.partial = partial

    def guard(self, handler_records: List[Any]) -> Optional[Callable[[Any], Any]]:
        """The converter wrapper failing the corrupt aggregates (``None`` when there are none)."""
        if not self.corrupt:
            return None
        from .kinesis import corrupt_guard

        return corrupt_guard(handler_records, self.corrupt)


def prepare_batch(
    records: Any, event_type: EventType, *, need_receipt_handle: bool, deaggregate: bool
) -> BatchSource:
    """Validate ``records`` of ``event_type`` (`MalformedEventError` on any bad
    one, nothing handled) and prepare them for the handler."""
    pipes = isinstance(records, PipesBatch)
    spec = event_type.spec  # the event-spec table
    if spec.own_identifiers:  # Kafka: topic-partition and offset
        from .kafka import kafka_ids

        ids, kafka_identifiers = kafka_ids(records, pipes=pipes)
        return BatchSource(list(records), ids, kafka_identifiers, partial=not pipes)
    if pipes and spec.kpl_aggregates:  # Kinesis records, as Pipes hands them over
        from .pipes import kinesis_in_lambda_shape

        records = kinesis_in_lambda_shape(records)
    ids = validate_records(records, event_type, need_receipt_handle=need_receipt_handle)
    identifiers: Optional[List[Any]] = None
    if pipes and event_type.is_stream:
        from .pipes import event_ids

        identifiers = event_ids(records)
    if spec.kpl_aggregates and deaggregate:
        from .kinesis import Deaggregated, has_aggregates

        if has_aggregates(records):  # user records made as they are read: see kinesis_deaggregation
            batch = Deaggregated(records, ids, identifiers if identifiers is not None else ids)
            return BatchSource(batch, batch.ids, batch.identifiers, batch.corrupt)  # type: ignore[arg-type]
    return BatchSource(records, ids, identifiers)


def failure_identifiers(identifiers: List[Any], failed: List[int]) -> List[Dict[str, Any]]:
    """``[{"itemIdentifier": ...}]`` for the failed positions, each identifier once (the user
    records of one KPL aggregate share theirs), in order.

    Example:
        ```python
        failure_identifiers(["1", "1", "2"], [0, 1, 2])
        # [{'itemIdentifier': '1'}, {'itemIdentifier': '2'}]
        ```
    """
    seen = set()
    out: List[Dict[str, Any]] = []
    for index in failed:
        identifier = identifiers[index]
        marker = (
            (identifier["partition"], identifier["offset"]) if isinstance(identifier, dict) else identifier
        )
        if marker not in seen:
            seen.add(marker)
            out.append({"itemIdentifier": identifier})
    return out


__all__ = ["BatchSource", "failure_identifiers", "prepare_batch"]
