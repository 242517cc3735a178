"""Kinesis Data Streams: PutRecords, 500 records and 10 MiB per call."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.limits import SERVICE_LIMITS, KiB, MiB
from ..core.retry import ErrorInfo, entry_results
from ..core.unprocessed import PARTITION_KEY_HALTED
from ..engine.dispatcher import BaseDispatcher, target_arn
from ..engine.packing import Entry
from ..errors import ConfigurationError, PayloadError
from ..payloads.kpl_aggregation import AggregateBuilder, hash_key_of
from .kinesis_aggregation import (
    BY_PARTITION_KEY,
    BY_SHARD,
    Aggregate,
    Aggregator,
    ShardMap,
    expand_failed,
    shared_shard_map,
)
from .kinesis_keys import check_explicit_hash_key, check_partition_key
from .serialization import JSON, check_encoding, payload_to_bytes, utf8_len

logger = logging.getLogger("lambda_batch.dispatchers.kinesis")


class KinesisBatchDispatcher(BaseDispatcher):
    """Puts records on a Kinesis data stream with PutRecords: 500 records and 10 MiB per call.

    ``stream_name`` is the stream's name or ARN. Each record's partition key is, in order of
    preference: ``partition_key=`` given to `submit_payload`, the payload's field named
    by ``partition_key_identifier``, or a random UUID. A record is sized as Kinesis sizes it
    (data plus partition key) and may be 1 MiB, or more when the stream's MaxRecordSizeInKiB
    allows (read once, only when a larger record comes). Records with the same partition key
    are sent in order, even with ``max_workers`` > 1; but when PutRecords fails a record and
    accepts a later one of its key, the retried record is stored after it. ``ordered=True``
    keeps the order under partial failure too: a call carries at most one unresolved record of
    a key (other keys fill it), and a record not put halts its key until the next flush (its
    later records come back with code ``PartitionKeyHalted``). It costs a call per record of a
    hot key; see docs/BENCHMARKS.md.

    ``aggregate=True`` packs the submitted records (user records) into KPL aggregated records,
    as the Kinesis Producer Library does, read back by the KCL, ``aws-kinesis-agg`` and
    this layer's processors: up to 1 MiB each (partition keys included), never mixing user
    records of different shards (the stream's shard map is read with ListShards once per
    process); ``aggregate="partition_key"`` aggregates per partition key without ListShards.
    Retries, the deadline and ordering apply per aggregated record; what comes back from
    `flush_payloads` is the user records not put, as submitted. `stats` counts
    Kinesis records (aggregates). See `lambda_batch.dispatchers.kinesis_aggregation`.

    Example:
        ```python
        kinesis = KinesisBatchDispatcher("clicks", partition_key_identifier="user_id")
        kinesis.submit_payload({"user_id": "u-1", "page": "/"})
        kinesis.flush_payloads()
        ```
    """

    def __init__(
        self,
        stream_name: str,
        partition_key_identifier: Optional[str] = None,
        max_batch_size: int = 500,
        *,
        ordered: bool = False,
        aggregate: Any = False,
        payload_encoding: str = JSON,
        **kwargs: Any,
    ) -> None:
        #: How a payload becomes the data: ``"json"`` (boto3-batch-utils' ``json.dumps``) or ``"raw"``.
        self.payload_encoding = check_encoding(payload_encoding)
        if not isinstance(ordered, bool):
            raise ConfigurationError("ordered must be True or False")
        if aggregate is True:
            aggregate = BY_SHARD
        if aggregate not in (False, BY_SHARD, BY_PARTITION_KEY):
            raise ConfigurationError('aggregate must be True, False or "partition_key"')
        #: How user records are grouped into aggregated records; None: no aggregation.
        self._aggregation: Optional[str] = aggregate or None
        self._aggregator = Aggregator()
        self._user_numbers = 0
        self._shard_map: Optional[ShardMap] = None
        self._shard_map_read = False
        self._shard_map_stale = False
        # Ordered mode: at most one unresolved record per key in a call; a record not put halts
        # its key's later records until the next flush (code PartitionKeyHalted).
        self._ordered = self._halts_groups = ordered
        self._halt_code, self._halt_noun = PARTITION_KEY_HALTED, "partition key"
        if not isinstance(stream_name, str) or not stream_name:
            raise ConfigurationError("stream_name must be a stream name or ARN")
        self.stream_name = stream_name
        self.partition_key_identifier = partition_key_identifier
        self._stream_param: Dict[str, str]
        region = None
        if stream_name.startswith("arn:"):
            arn = target_arn(stream_name, "kinesis", "Kinesis stream")
            region = arn.region or None
            self._stream_param = {"StreamARN": stream_name}
            name = arn.resource.split("/", 1)[-1]
        else:
            self._stream_param = {"StreamName": stream_name}
            name = stream_name
        self.target_description = f"Kinesis stream {name}"
        self._max_record_size: Optional[int] = None
        self._stream_lock = threading.Lock()
        super().__init__(
            "kinesis",
            SERVICE_LIMITS["kinesis"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )
        if self._aggregation is not None:  # hand back the user records, not aggregates
            self._ledger.after_fail = self._expand_failed

    def submit_payload(
        self,
        payload: Any,
        partition_key: Optional[str] = None,
        explicit_hash_key: Optional[str] = None,
    ) -> None:
        """Buffer one record: ``bytes`` as is, anything else ``json.dumps``-ed (a ``str`` included).

        With ``payload_encoding="raw"``, a ``str`` is put as its UTF-8 and other payloads as compact JSON.

        Raises `PayloadError` for a record that cannot be put,
        naming the record (``record #n``, counted per dispatcher) and never quoting its key: not
        serialisable, no partition key field or one that is None, a partition key of 0 or more
        than 256 characters (UTF-16 code units, as Kinesis counts), an ``explicit_hash_key``
        that is not a decimal integer from 0 to 2**128 - 1, over the record size limit.
        """
        done = self._user_numbers if self._aggregation is not None else self._buffer.submitted
        record = f"record #{done + 1}"  # names it in errors (never its key)
        if partition_key is None:
            partition_key = self._partition_key_of(payload, record)
        partition_key = check_partition_key(partition_key, record)
        if explicit_hash_key is not None:
            explicit_hash_key = check_explicit_hash_key(explicit_hash_key, record)
        data = payload_to_bytes(payload, self.payload_encoding)
        if self._aggregation is not None:
            self._submit_user_record(payload, partition_key, explicit_hash_key, data, record)
            return
        size = len(data) + utf8_len(partition_key)
        request: Dict[str, Any] = {"Data": data, "PartitionKey": partition_key}
        if explicit_hash_key is not None:
            request["ExplicitHashKey"] = explicit_hash_key
        if size > self.limits.max_item_bytes and self._max_record_size is None:
            self._read_stream_record_size()
        self._add(
            payload,
            request,
            size,
            # by its number; its key only when asked (keys are often personal data)
            record_id=f"{record} (partition key {partition_key})" if self.log_exception_messages else record,
            order_key=explicit_hash_key if explicit_hash_key is not None else partition_key,
        )

    # ------------------------------------------------------------------ aggregation

    def _submit_user_record(
        self, payload: Any, key: str, hash_key: Optional[str], data: bytes, record: str
    ) -> None:
        if self._buffer.closed:
            raise ConfigurationError(f"{type(self).__name__} is closed")
        key_bytes = key.encode("utf-8")
        alone = AggregateBuilder()
        size = alone.data_size + alone.added_size(key, key_bytes, len(data), hash_key) + len(key_bytes)
        if size > self.limits.max_item_bytes and self._max_record_size is None:
            self._read_stream_record_size()
        self._check_size(size, f"{record} (as an aggregated record)")
        with self._buffer.lock:
            group: Any = hash_key if hash_key is not None else key
            shard = None
            if self._aggregation == BY_SHARD:
                shard_map = self._current_shard_map()
                if shard_map is not None:
                    point = int(hash_key) if hash_key is not None else hash_key_of(key_bytes)
                    shard = group = shard_map.shard_for(point)
            self._user_numbers += 1
            closed = self._aggregator.add(
                payload,
                self._user_numbers,
                key=key,
                key_bytes=key_bytes,
                data=data,
                hash_key=hash_key,
                group=group,
                shard=shard,
                limit=max(min(MiB, self._item_limit()), size),  # 1 MiB: a shard's writes a second
            )
            for aggregate in closed:
                self._add_aggregate(aggregate)

    def _current_shard_map(self) -> Optional[ShardMap]:
        """The stream's shard map (read once per process; again after a put landed elsewhere)."""
        if self._shard_map_read and not self._shard_map_stale:
            return self._shard_map
        refresh = self._shard_map_stale
        if refresh:  # aggregates placed with the old map may mix shards of the new one
            for aggregate in self._aggregator.close_all():
                self._add_aggregate(aggregate)
        client = self.client
        key = (str(self.stream_name), str(client.meta.region_name), str(client.meta.endpoint_url))
        self._shard_map = shared_shard_map(
            key, client, self._stream_param, self.retry_policy, self._deadline, refresh=refresh
        )
        self._shard_map_read, self._shard_map_stale = True, False
        return self._shard_map

    def _add_aggregate(self, aggregate: Aggregate) -> None:
        data = aggregate.builder.encode()
        request: Dict[str, Any] = {"Data": data, "PartitionKey": aggregate.first_key}
        if aggregate.hash_key is not None:
            request["ExplicitHashKey"] = aggregate.hash_key
        self._add(
            aggregate,
            request,
            len(data) + utf8_len(aggregate.first_key),
            record_id=aggregate.record_id,
            order_key=aggregate.group,
        )

    def flush_payloads(self) -> List[Any]:
        """Send everything buffered (open aggregates too); return the records not put, as submitted.

        Example:
            ```python
            failed = kinesis.flush_payloads()
            ```
        """
        if self._aggregation is not None:
            with self._buffer.lock:
                for aggregate in self._aggregator.close_all():
                    self._add_aggregate(aggregate)
        return super().flush_payloads()

    def close(self) -> None:
        """Flush what is left (open aggregates too), then stop the sending threads."""
        if self._aggregation is not None and len(self._aggregator):
            self.flush_payloads()
        super().close()

    def _expand_failed(self, failures: Sequence[Tuple[Entry, ErrorInfo]]) -> None:
        """Hand back the user records of the aggregates not put, not the aggregates."""
        with self._ledger.lock:
            self._ledger.failed = expand_failed(self._ledger.failed)

    def _partition_key_of(self, payload: Any, record: str) -> str:
        field = self.partition_key_identifier
        if field is None:
            return uuid.uuid4().hex
        if not isinstance(payload, Mapping) or field not in payload:
            raise PayloadError(
                f"{record}: payload has no partition key field {field!r} (partition_key_identifier)"
            )
        value = payload[field]
        if value is None:
            raise PayloadError(f"{record}: partition key field {field!r} is None, not a key")
        return value if isinstance(value, str) else str(value)

    def _read_stream_record_size(self) -> None:
        """Read the stream's MaxRecordSizeInKiB (once): streams may allow records up to 10 MiB."""
        with self._stream_lock:
            if self._max_record_size is not None:
                return
            try:
                summary = self.client.describe_stream_summary(**self._stream_param)[
                    "StreamDescriptionSummary"
                ]
                size_kib = summary.get("MaxRecordSizeInKiB")
                self._max_record_size = int(size_kib) * KiB if size_kib else self.limits.max_item_bytes
            except Exception as exc:
                logger.info(
                    "%s: cannot read MaxRecordSizeInKiB (%s); records are limited to %d bytes",
                    self.target_description,
                    type(exc).__name__,
                    self.limits.max_item_bytes,
                )
                self._max_record_size = self.limits.max_item_bytes
            self._limits_changed()

    def _item_limit(self) -> int:
        record_limit = self._max_record_size or self.limits.max_item_bytes
        return min(record_limit, self.limits.max_item_bytes_ceiling, self.max_batch_bytes)

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        response = client.put_records(Records=[entry.request for entry in entries], **self._stream_param)
        outcomes = response.get("Records") or []
        if self._aggregation == BY_SHARD:
            self._check_shards(entries, outcomes)
        return entry_results(outcomes, len(entries))

    def _check_shards(self, entries: Sequence[Entry], outcomes: Sequence[Dict[str, Any]]) -> None:
        """Note a put stored on another shard than the map said: the map is read again."""
        for entry, outcome in zip(entries, outcomes, strict=False):
            expected = getattr(entry.payload, "shard", None)
            landed = outcome.get("ShardId")
            if expected is not None and landed and landed != expected and not outcome.get("ErrorCode"):
                logger.warning(
                    "%s: %s was stored on %s, not %s: the stream was resharded; its shards are read again",
                    self.target_description,
                    entry.record_id,
                    landed,
                    expected,
                )
                self._shard_map_stale = True
