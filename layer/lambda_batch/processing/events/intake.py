"""Lambda events and their records: the checks made before any record is handled, and record ids.

A malformed event must never look like a success (a success deletes messages), so
every problem is found up front and reported in one `MalformedEventError`
that names each bad record by position and id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...errors import MalformedEventError, UnexpectedBatchTypeError
from .spec import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

#: At most this many problems are spelled out in one error message.
_MAX_REPORTED_PROBLEMS = 10


def extract_records(event: Any, event_type: Optional[EventType] = None) -> List[Dict[str, Any]]:
    """The ``Records`` list of a Lambda event; `UnexpectedBatchTypeError` when there is none.

    A Kafka event's ``records`` (grouped by topic-partition) come as one list, and an
    EventBridge Pipes event (the bare list of the source's records) as a ``PipesBatch``.
    Given the processor's ``event_type``, the error names the key that type uses (``records``
    for Kafka, which must hold at least one topic-partition, as Powertools requires).

    Example:
        ```python
        extract_records({"Records": []})  # []
        ```
    """
    if event_type is not None and event_type.spec.grouped_records and not isinstance(event, list):
        return _grouped_records(event, event_type.spec.records_key)
    if isinstance(event, list) and event:  # EventBridge Pipes: the records themselves
        from .pipes import PipesBatch

        return PipesBatch(event)
    if not isinstance(event, Mapping):
        raise UnexpectedBatchTypeError(
            f"the event is {'an empty list' if event == [] else 'a ' + type(event).__name__}, not an object"
            " with 'Records' (nor a Pipes batch of records)"
        )
    if "Records" not in event and "records" in event and event_type is None:  # Amazon MSK, self-managed Kafka
        from .kafka import kafka_event_records

        return kafka_event_records(event)
    return _records_list(event)


def _records_list(event: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The event's ``Records`` list; `UnexpectedBatchTypeError` naming ``Records`` when it has none."""
    if "Records" not in event:
        keys = ", ".join(sorted(str(k) for k in event)[:10]) or "none"
        kafka = "; a Kafka event takes EventType.Kafka" if "records" in event else ""
        raise UnexpectedBatchTypeError(f"the event has no 'Records' list (its keys: {keys}){kafka}")
    records = event["Records"]
    if not isinstance(records, list):
        raise UnexpectedBatchTypeError(f"the event's 'Records' is a {type(records).__name__}, not a list")
    return records


def _grouped_records(event: Any, key: str) -> List[Any]:
    """The records of a Kafka event, whose ``key`` (``records``) must be a non-empty object, as
    Powertools requires (with its words: "Invalid Kafka event structure")."""
    from .kafka import kafka_event_records

    kind = "Invalid Kafka event structure"
    if not isinstance(event, Mapping):
        raise UnexpectedBatchTypeError(f"{kind}: the event is a {type(event).__name__}, not an object")
    if key not in event:
        keys = ", ".join(sorted(str(k) for k in event)[:10]) or "none"
        raise UnexpectedBatchTypeError(
            f"{kind}: the event has no {key!r} object of topic-partitions (its keys: {keys})"
        )
    groups = event[key]
    if not isinstance(groups, Mapping):
        raise UnexpectedBatchTypeError(
            f"{kind}: the event's {key!r} is a {type(groups).__name__}, not an object"
        )
    if not groups:
        raise UnexpectedBatchTypeError(f"{kind}: {key!r} is empty (expected at least one topic-partition)")
    return kafka_event_records(event)


def record_id(record: Any, event_type: EventType) -> Optional[str]:
    """The item identifier Lambda expects back for ``record``, or ``None`` when it has none.

    SQS: ``messageId``; Kinesis: ``kinesis.sequenceNumber``; DynamoDB: ``dynamodb.SequenceNumber``.

    Example:
        ```python
        record_id({"messageId": "m-1"}, EventType.SQS)  # 'm-1'
        ```
    """
    value: Any = record
    for key in event_type.spec.id_path:  # the event-spec table: messageId, kinesis.sequenceNumber...
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if isinstance(value, str) and value else None


def _id_field(event_type: EventType) -> str:
    return event_type.spec.id_field


def validate_records(
    records: Any,
    event_type: EventType,
    *,
    need_receipt_handle: bool = False,
) -> List[str]:
    """Check every record and return their item identifiers, in order.

    Raises `MalformedEventError` naming each record that is not a mapping, carries
    another ``eventSource``, lacks its id, or (``need_receipt_handle``) lacks the
    ``receiptHandle`` or SQS ``eventSourceARN`` a delete needs. Nothing is handled or
    deleted when this raises.

    Example:
        ```python
        validate_records(
            [{"eventSource": "aws:sqs", "messageId": "m-1"}], EventType.SQS
        )  # ['m-1']
        ```
    """
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise MalformedEventError(f"records must be a list, not a {type(records).__name__}")
    source = event_type.event_source
    ids = _one_queue_ids(records, event_type, source) if need_receipt_handle else None
    if ids is None:
        ids = _fast_ids(records, event_type, source, need_receipt_handle)
    if ids is not None:
        return ids
    problems: List[str] = []
    count = 0
    for index, record in enumerate(records):
        problem = _describe_problem(index, record, event_type, need_receipt_handle)
        if problem is None:
            continue
        count += 1
        if len(problems) < _MAX_REPORTED_PROBLEMS:
            problems.append(problem)
    if not count:  # every record passed one by one after all
        return [str(record_id(record, event_type)) for record in records]
    more = f" (and {count - len(problems)} more)" if count > len(problems) else ""
    raise MalformedEventError(
        f"{count} of {len(records)} records are malformed{more}; nothing was processed: "
        + "; ".join(problems)
    )


_STR_ONLY = frozenset({str})


def _fast_ids(
    records: Sequence[Any], event_type: EventType, source: str, need_receipt_handle: bool
) -> Optional[List[str]]:
    # Whole-batch checks: one comprehension, then C-level passes (the common, well-formed
    # case costs about 60 ns a record); None sends the caller to the record-by-record
    # path, which names every problem.
    path = event_type.spec.id_path
    try:
        if len(path) == 1:  # messageId
            key = path[0]
            ids = [record[key] for record in records if record["eventSource"] == source]
        else:  # kinesis.sequenceNumber, dynamodb.SequenceNumber
            outer, inner = path
            ids = [record[outer][inner] for record in records if record["eventSource"] == source]
        # every record of this source, and every id a non-empty string
        ok = len(ids) == len(records) and "" not in ids and set(map(type, ids)) <= _STR_ONLY
        if ok and ids and need_receipt_handle:
            ok = _deletable(records)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):
        return None
    return ids if ok else None


def _one_queue_ids(records: Sequence[Any], event_type: EventType, source: str) -> Optional[List[str]]:
    # A batch from one queue (as Lambda delivers them), every record deletable: the ids and
    # the delete checks in one pass. None for anything else (another queue, a missing or
    # non-string receipt handle...), which _fast_ids and the record-by-record checks sort out.
    path = event_type.spec.id_path
    if len(path) != 1 or not records:
        return None
    key = path[0]
    try:
        arn = records[0]["eventSourceARN"]
        if not _is_sqs_arn(arn):
            return None
        ids = [
            record[key]
            for record in records
            if record["eventSource"] == source
            and record["eventSourceARN"] == arn
            and record["receiptHandle"] > ""  # TypeError for a handle that is not a string
        ]
        ok = len(ids) == len(records) and "" not in ids and set(map(type, ids)) <= _STR_ONLY
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):
        return None
    return ids if ok else None


def _deletable(records: Sequence[Any]) -> bool:
    """Every record has a receipt handle and an SQS queue ARN (raises for a missing key)."""
    handles = [record["receiptHandle"] for record in records]
    return (
        "" not in handles
        and set(map(type, handles)) <= _STR_ONLY
        and all(_is_sqs_arn(arn) for arn in {record["eventSourceARN"] for record in records})
    )


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_sqs_arn(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == "sqs"
        and bool(parts[3] and parts[4] and parts[5])
    )


def _describe_problem(
    index: int, record: Any, event_type: EventType, need_receipt_handle: bool
) -> Optional[str]:
    if not isinstance(record, Mapping):
        return f"record {index} is not an object (got {type(record).__name__})"
    rid = record_id(record, event_type)
    name = f"record {index}" + (f" ({_id_field(event_type)} {rid!r})" if rid else "")
    source = record.get("eventSource")
    if source != event_type.event_source:
        return f"{name} has eventSource {source!r}, expected {event_type.event_source!r}"
    if rid is None:
        return f"{name} has no {_id_field(event_type)}"
    if need_receipt_handle and not _non_empty_str(record.get("receiptHandle")):
        return f"{name} has no receiptHandle"
    if need_receipt_handle and not _is_sqs_arn(record.get("eventSourceARN")):
        return f"{name} has no SQS queue ARN in eventSourceARN (got {record.get('eventSourceARN')!r})"
    return None


def shard_id(record: Mapping[str, Any], event_type: EventType) -> str:
    """The shard a stream record came from.

    Kinesis writes it at the front of ``eventID`` (``shardId-000000000000:<sequence>``);
    a DynamoDB stream batch comes from one shard of the stream named by ``eventSourceARN``.
    """
    if event_type.spec.shard_in_event_id:
        event_id = record.get("eventID")
        if isinstance(event_id, str) and ":" in event_id:
            return event_id.split(":", 1)[0]
    return str(record.get("eventSourceARN", ""))
