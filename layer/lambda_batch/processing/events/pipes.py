"""EventBridge Pipes batches: a Lambda target gets a bare JSON array of the source's records.

Pipes sends no ``Records`` key: the event is the list itself. The records are those of the
source, with two differences from Lambda's own event source mappings:

- a Kinesis record is flat (``sequenceNumber``, ``data``, ``partitionKey``... beside
  ``eventSource``); it is handed to the handler in Lambda's shape, under ``record["kinesis"]``;
- a Kafka record carries ``eventSource``, ``eventSourceKey`` and its partition as text.

Pipes reads ``batchItemFailures`` back for SQS and stream sources: the item identifier is the
SQS ``messageId``, and the ``eventID`` of a Kinesis or DynamoDB stream record. For a Kafka
source Pipes retries the whole batch, so a Kafka batch with any failure raises
`BatchProcessingError` (a ``batchItemFailures`` list would be ignored and
the failed records lost).
Source: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-batching-concurrency.html

Example:
    ```python
    processor = BatchProcessor(event_type=EventType.SQS)

    def lambda_handler(event, context):        # event: [{"messageId": ...}, ...]
        return process_partial_response(event, record_handler, processor, context)
    ```
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import MalformedEventError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List

#: The keys of a flat Pipes Kinesis record that Lambda puts under ``record["kinesis"]``.
KINESIS_FIELDS = (
    "kinesisSchemaVersion",
    "partitionKey",
    "sequenceNumber",
    "data",
    "approximateArrivalTimestamp",
    "encryptionType",
)


class PipesBatch(list):  # type: ignore[type-arg]
    """The records of an EventBridge Pipes event, marked as such (a plain ``list`` otherwise).

    Example:
        ```python
        PipesBatch([{"messageId": "m-1"}])  # [{'messageId': 'm-1'}]
        ```
    """

    __slots__ = ()


def kinesis_in_lambda_shape(records: List[Any]) -> List[Any]:
    """Flat Pipes Kinesis records in Lambda's shape (``record["kinesis"]`` holds the stream fields).

    A record already in Lambda's shape, or not an object, is left as it is (validation names it).
    """
    out: List[Any] = []
    for record in records:
        if isinstance(record, Mapping) and "kinesis" not in record and "sequenceNumber" in record:
            inner = {name: record[name] for name in KINESIS_FIELDS if name in record}
            outer: Dict[str, Any] = {k: v for k, v in record.items() if k not in inner}
            outer["kinesis"] = inner
            out.append(outer)
        else:
            out.append(record)
    return out


def event_ids(records: List[Any]) -> List[str]:
    """Each stream record's ``eventID``: the item identifier Pipes reads back.

    Raises `MalformedEventError` naming the records without one.
    """
    ids = [record.get("eventID") if isinstance(record, Mapping) else None for record in records]
    missing = [str(index) for index, value in enumerate(ids) if not isinstance(value, str) or not value]
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise MalformedEventError(
            f"{len(missing)} of {len(records)} records of a Pipes batch have no eventID (records {shown});"
            " nothing was processed"
        )
    return ids  # type: ignore[return-value]


__all__ = ["PipesBatch", "event_ids", "kinesis_in_lambda_shape"]
