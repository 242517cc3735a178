"""Kinesis records: the record objects, and KPL aggregated records handed to the handler one user
record at a time.

Lambda delivers an aggregated record (the Kinesis Producer Library's, ``aws-kinesis-agg``'s, or
``KinesisBatchDispatcher(aggregate=True)``'s) as one record. Each of its user records becomes a
record of its own, a copy of the aggregate's with, under ``record["kinesis"]``:

- ``data``: the base64 of that user record's data; ``partitionKey``: its own partition key;
  ``explicitHashKey``: its own, or ``None`` when it has none (as ``aws-kinesis-agg`` gives it);
- ``sequenceNumber``: the aggregate's, and ``subSequenceNumber``: its position in it (0, 1...);
  ``aggregated``: ``True``.

The user records are made one at a time, as the handler is called (`Deaggregated`):
each aggregate is checked whole and indexed first (4 bytes per user record), but a user record
exists only while it is handled, so memory does not grow with the number of user records. The
results and ``success_messages`` keep, for a succeeded user record, its aggregate's record (one
object per aggregate), not a copy per user record.

Lambda checkpoints per Kinesis record, so a failed user record reports its aggregate's
sequence number, once: the aggregate's user records that succeeded come again with it.

- A record whose data starts with the KPL magic but whose MD5 digest does not match is not an
  aggregate: it is handed on as a plain record, as the KCL and ``aws-kinesis-agg`` do (logged
  once at WARNING by its sequence number).
- An aggregate whose message is malformed (with a matching digest), or that holds no user
  record, is one record that fails with
  `AggregateError` naming the reason, the handler
  not called; the other records of the batch go on.
- Records that are not aggregated pass as they are.

Example:
    ```python
    batch = Deaggregated(records, ids, ids)
    len(batch), batch.ids[3], batch.corrupt
    ```
"""

from __future__ import annotations

import json
import logging
from base64 import b64decode, b64encode
from bisect import bisect_right

from ...payloads.kpl_aggregation import (
    MAGIC_BASE64_PREFIX,
    AggregateError,
    AggregateIndex,
    DigestMismatch,
    is_aggregate,
    scan_aggregate,
)
from .record import _Dict, _key, _Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Optional, Union

    Converter = Optional[Callable[[Any], Any]]

logger = logging.getLogger("lambda_batch.processing")


# -- Kinesis -----------------------------------------------------------------------------


class KinesisStreamRecordPayload(_Dict):
    """The ``kinesis`` part of a Kinesis record: the data and its position in the stream."""

    __slots__ = ()
    _repr_keys = (("sequence_number", "sequenceNumber"), ("sub_sequence_number", "subSequenceNumber"))

    data = _key("data", "The data, base64-encoded as the event carries it.")
    partition_key = _key("partitionKey", "The partition key it was put with.")
    sequence_number = _key("sequenceNumber", "Its position in its shard.")
    kinesis_schema_version = _key("kinesisSchemaVersion", "The schema version.")

    @property
    def approximate_arrival_timestamp(self) -> float:
        """When the record reached the stream (epoch seconds)."""
        return float(self["approximateArrivalTimestamp"])

    def data_as_bytes(self) -> bytes:
        """The data, decoded from base64."""
        from base64 import b64decode

        return b64decode(self["data"])

    def data_as_text(self) -> str:
        """The data as UTF-8 text."""
        return self.data_as_bytes().decode("utf-8")

    def data_as_json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data_as_text())

    def data_zlib_compressed_as_json(self) -> Any:
        """The data decompressed (zlib or gzip, as from CloudWatch Logs) and parsed as JSON."""
        import zlib

        return json.loads(zlib.decompress(self.data_as_bytes(), zlib.MAX_WBITS | 32))


class KinesisStreamRecord(_Record):
    """A Kinesis Data Streams record, as Lambda delivers it.

    Example:
        ```python
        KinesisStreamRecord(
            {"kinesis": {"data": "eyJuIjogMX0="}}
        ).kinesis.data_as_json()  # {'n': 1}
        ```
    """

    __slots__ = ()
    _repr_keys = (("event_id", "eventID"),)

    event_id = _key("eventID", "``<shard id>:<sequence number>``.")
    event_name = _key("eventName", "``aws:kinesis:record``.")
    event_version = _key("eventVersion", "The event format version.")
    invoke_identity_arn = _key("invokeIdentityArn", "The role Lambda read with.")

    @property
    def kinesis(self) -> KinesisStreamRecordPayload:
        """The data and its position: ``data_as_json()``, ``sequence_number``, ``partition_key``..."""
        return KinesisStreamRecordPayload(self["kinesis"])

    def __repr__(self) -> str:
        text = super().__repr__()
        kinesis = self.get("kinesis")
        sub = kinesis.get("subSequenceNumber") if isinstance(kinesis, dict) else None
        if sub is None:  # not a user record of a KPL aggregate
            return text
        return f"{text[:-1]}, sub_sequence_number={sub!r})"


def has_aggregates(records: List[Any]) -> bool:
    """Whether any record's data starts like an aggregated record (one pass, no decoding)."""
    prefix = MAGIC_BASE64_PREFIX
    for record in records:
        data = record["kinesis"].get("data")
        if isinstance(data, str) and data.startswith(prefix):
            return True
    return False


def _aggregate_bytes(record: Any) -> Optional[bytes]:
    """The record's data when it starts like an aggregated record (magic and room for a digest)."""
    data = record["kinesis"].get("data")
    if not (isinstance(data, str) and data.startswith(MAGIC_BASE64_PREFIX)):
        return None
    try:
        raw = b64decode(data)
    except ValueError:
        return None
    return raw if is_aggregate(raw) else None


def _index_of(record: Any, rid: str) -> Union[str, AggregateIndex, None]:
    """The record's aggregate index; ``None`` for a plain record; the reason for a bad aggregate."""
    raw = _aggregate_bytes(record)
    if raw is None:
        return None
    try:
        index = scan_aggregate(raw)
    except DigestMismatch:
        logger.warning(
            "record %s starts with the KPL aggregation magic but its MD5 digest does not match:"
            " handed on as a plain record",
            rid,
        )
        return None
    except AggregateError as exc:
        logger.warning("record %s is a corrupt KPL aggregated record: %s", rid, exc)
        return f"record {rid}: {exc}"
    if not len(index):
        reason = f"record {rid}: the KPL aggregated record holds no user record"
        logger.warning("%s", reason)
        return reason
    return index


class _Segment:
    """One record of the event: plain (or a corrupt aggregate), or an aggregate's user records."""

    __slots__ = ("aggregate", "identifier", "made", "record", "rid")

    def __init__(self, record: Any, rid: str, identifier: Any, aggregate: Optional[AggregateIndex]) -> None:
        self.record = record
        self.rid = rid
        self.identifier = identifier
        self.aggregate = aggregate
        self.made: Any = None  # the event record as the handler receives it, made once


class Deaggregated:
    """The records of a (validated) Kinesis batch with its aggregates expanded, made when read.

    A sequence: ``len()``, ``batch[i]`` and iteration give the records the handler receives
    (user records made as they are read; the other records made once). ``ids`` (for logs:
    ``<sequence number> (user record <n>)``), ``identifiers`` (what Lambda is told: the
    aggregate's for each of its user records) and ``kept`` (what results keep: the event's own
    record) are sequences alike; ``corrupt`` is ``{position: reason}`` of the aggregates that fail.

    Example:
        ```python
        batch = Deaggregated(records, ids, ids)
        for record in batch:
            handle(record)
        ```
    """

    def __init__(self, records: List[Any], ids: List[str], identifiers: List[Any]) -> None:
        self._segments: List[_Segment] = []
        self._starts: List[int] = []  # the position of each segment's first record
        self._make: Converter = None
        self.corrupt: Dict[int, str] = {}
        total = 0
        for record, rid, identifier in zip(records, ids, identifiers, strict=False):
            index = _index_of(record, rid)
            if isinstance(index, str):
                self.corrupt[total] = index
                index = None
            self._segments.append(_Segment(record, rid, identifier, index))
            self._starts.append(total)
            total += 1 if index is None else len(index)
        self._total = total

    # The views refer to the batch, never the other way round: no reference cycle, so a batch
    # (and its aggregates' bytes) goes as soon as the processor lets it go.
    @property
    def ids(self) -> _View:
        """The record ids for logs: ``<sequence number> (user record <n>)`` for a user record."""
        return _View(self, _record_id)

    @property
    def identifiers(self) -> _View:
        """The item identifiers Lambda is told: the aggregate's for each of its user records."""
        return _View(self, _identifier)

    @property
    def kept(self) -> _View:
        """What results and ``success_messages`` keep: the event's own record (made once)."""
        return _View(self, _kept)

    def made_with(self, make: Converter) -> Deaggregated:
        """These records as ``make`` turns each (a record class): what the handler receives."""
        self._make = make
        for segment in self._segments:
            segment.made = None
        return self

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, position: int) -> Any:
        segment, sub = self._locate(position)
        return self._build(segment, sub)

    def __iter__(self) -> Iterator[Any]:
        for segment in self._segments:
            aggregate = segment.aggregate
            if aggregate is None:
                yield self._made(segment)
                continue
            for sub in range(len(aggregate)):
                yield self._build(segment, sub)

    def _locate(self, position: int) -> Any:
        if position < 0:
            position += self._total
        if not 0 <= position < self._total:
            raise IndexError("record position out of range")
        slot = bisect_right(self._starts, position) - 1
        return self._segments[slot], position - self._starts[slot]

    def _made(self, segment: _Segment) -> Any:
        made = segment.made
        if made is None:
            made = segment.made = segment.record if self._make is None else self._make(segment.record)
        return made

    def _build(self, segment: _Segment, sub: int) -> Any:
        aggregate = segment.aggregate
        if aggregate is None:
            return self._made(segment)
        key, hash_key, payload = aggregate[sub]
        record = segment.record
        user_kinesis = dict(record["kinesis"])
        user_kinesis["data"] = b64encode(payload).decode("ascii")
        user_kinesis["partitionKey"] = key
        user_kinesis["explicitHashKey"] = hash_key
        user_kinesis["subSequenceNumber"] = sub
        user_kinesis["aggregated"] = True
        user_record = dict(record)
        user_record["kinesis"] = user_kinesis
        return user_record if self._make is None else self._make(user_record)


def _record_id(batch: Deaggregated, segment: _Segment, sub: int) -> str:
    if segment.aggregate is None:
        return segment.rid
    return f"{segment.rid} (user record {sub})"  # logs name the user record


def _identifier(batch: Deaggregated, segment: _Segment, sub: int) -> Any:
    return segment.identifier


def _kept(batch: Deaggregated, segment: _Segment, sub: int) -> Any:
    return batch._made(segment)


class _View:
    """A read-only sequence of ``value(batch, segment, position in it)`` over a `Deaggregated`."""

    __slots__ = ("_batch", "_value")

    def __init__(self, batch: Deaggregated, value: Callable[[Deaggregated, _Segment, int], Any]) -> None:
        self._batch = batch
        self._value = value

    def __len__(self) -> int:
        return len(self._batch)

    def __getitem__(self, position: int) -> Any:
        segment, sub = self._batch._locate(position)
        return self._value(self._batch, segment, sub)

    def __iter__(self) -> Iterator[Any]:
        value, batch = self._value, self._batch
        for segment in batch._segments:
            count = 1 if segment.aggregate is None else len(segment.aggregate)
            for sub in range(count):
                yield value(batch, segment, sub)


def corrupt_guard(records: Any, corrupt: Dict[int, str]) -> Callable[[Converter], Callable[[Any], Any]]:
    """A wrapper of the record converter that fails the corrupt aggregates before the handler runs.

    ``records`` are the records the handler's calls receive (identity marks the corrupt ones:
    a corrupt aggregate is one record, made once).
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


__all__ = [
    "Deaggregated",
    "KinesisStreamRecord",
    "KinesisStreamRecordPayload",
    "corrupt_guard",
    "has_aggregates",
]
