"""KPL aggregated records in a Kinesis batch, handed to the handler one user record at a time.

Lambda delivers an aggregated record (the Kinesis Producer Library's, ``aws-kinesis-agg``'s, or
``KinesisBatchDispatcher(aggregate=True)``'s) as one record. Each of its user records becomes a
record of its own, a copy of the aggregate's with, under ``record["kinesis"]``:

- ``data``: the base64 of that user record's data; ``partitionKey``: its own partition key;
  ``explicitHashKey``: its own, when it has one;
- ``sequenceNumber``: the aggregate's, and ``subSequenceNumber``: its position in it (0, 1...);
  ``aggregated``: ``True``.

Lambda checkpoints per Kinesis record, so a failed user record reports its aggregate's
sequence number, once: the aggregate's user records that succeeded come again with it. An
aggregate whose MD5 digest does not match (or whose message is malformed) is one record that
fails with :class:`~lambda_batch.payloads.kpl_aggregation.AggregateError`, the handler not called; the
other records of the batch go on. Records that are not aggregated pass as they are.

Example::

    records, ids, identifiers, corrupt = deaggregate(records, ids, ids)
"""

from __future__ import annotations

import logging
from base64 import b64decode, b64encode

from ..payloads.kpl_aggregation import MAGIC_BASE64_PREFIX, AggregateError, decode_aggregate, is_aggregate

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    Converter = Optional[Callable[[Any], Any]]

logger = logging.getLogger("lambda_batch.processing")


def has_aggregates(records: List[Any]) -> bool:
    """Whether any record's data starts like an aggregated record (one pass, no decoding)."""
    prefix = MAGIC_BASE64_PREFIX
    for record in records:
        data = record["kinesis"].get("data")
        if isinstance(data, str) and data.startswith(prefix):
            return True
    return False


def deaggregate(
    records: List[Any], ids: List[str], identifiers: List[Any]
) -> Tuple[List[Any], List[str], List[Any], Dict[int, str]]:
    """Expand the aggregated records of a (validated) Kinesis batch.

    Returns the records, their ids for logs (``<sequence number> (user record <n>)``), their item
    identifiers (the aggregate's for each of its user records), and ``{position: reason}`` of the
    corrupt aggregates.
    """
    out_records: List[Any] = []
    out_ids: List[str] = []
    out_identifiers: List[Any] = []
    corrupt: Dict[int, str] = {}
    prefix = MAGIC_BASE64_PREFIX
    for record, rid, identifier in zip(records, ids, identifiers):
        kinesis = record["kinesis"]
        data = kinesis.get("data")
        users = None
        if isinstance(data, str) and data.startswith(prefix):
            try:
                raw = b64decode(data)
            except ValueError:
                raw = b""
            if is_aggregate(raw):
                try:
                    users = decode_aggregate(raw)
                except AggregateError as exc:
                    corrupt[len(out_records)] = f"record {rid}: {exc}"
                    logger.warning("record %s is a corrupt KPL aggregated record: %s", rid, exc)
        if not users:
            out_records.append(record)
            out_ids.append(rid)
            out_identifiers.append(identifier)
            continue
        for position, (key, hash_key, payload) in enumerate(users):
            user_kinesis = dict(kinesis)
            user_kinesis["data"] = b64encode(payload).decode("ascii")
            user_kinesis["partitionKey"] = key
            if hash_key is not None:
                user_kinesis["explicitHashKey"] = hash_key
            user_kinesis["subSequenceNumber"] = position
            user_kinesis["aggregated"] = True
            user_record = dict(record)
            user_record["kinesis"] = user_kinesis
            out_records.append(user_record)
            out_ids.append(f"{rid} (user record {position})")  # logs name the user record
            out_identifiers.append(identifier)  # Lambda is told the aggregate's
    return out_records, out_ids, out_identifiers, corrupt


def corrupt_guard(records: List[Any], corrupt: Dict[int, str]) -> Callable[[Converter], Callable[[Any], Any]]:
    """A wrapper of the record converter that fails the corrupt aggregates before the handler runs.

    ``records`` are the records the handler's calls receive (identity marks the corrupt ones).
    """
    reasons = {id(records[position]): reason for position, reason in corrupt.items()}

    def wrap(convert: Converter) -> Callable[[Any], Any]:
        def checked(record: Any) -> Any:
            reason = reasons.get(id(record))
            if reason is not None:
                raise AggregateError(reason)
            return record if convert is None else convert(record)

        return checked

    return wrap


__all__ = ["corrupt_guard", "deaggregate", "has_aggregates"]
