"""KPL aggregation for the Kinesis dispatcher: which user records share an aggregated record.

A consumer that de-aggregates with the KCL drops a whole aggregated record when one of its user
records hashes outside the shard the record was stored on, so user records are only aggregated
with others of the same shard:

- per shard (``aggregate=True``): the stream's open shards and their hash key ranges are read
  with ListShards once per process (per stream and endpoint), under the dispatcher's retry
  policy and deadline; a user record goes to the aggregate of the shard its explicit hash key,
  or the MD5 of its partition key, falls in. When a put lands on another shard than expected
  (the stream was resharded), the map is read again before the next record is placed.
  When the map cannot be read, records are aggregated per partition key instead.
- per partition key (``aggregate="partition_key"``): records of one partition key (or one
  explicit hash key) share aggregates; no ListShards.

An aggregated record takes the partition key (and explicit hash key) of its first user record,
so it is stored on that record's shard, like every other record in it. At most 500 aggregates
(and 10 MiB) are open at once; past that the oldest is closed, so memory stays bounded.

Example:
    ```python
    aggregator = Aggregator("shard")
    closed = aggregator.add(
        user,
        key="user-1",
        key_bytes=b"user-1",
        data=b"...",
        hash_key=None,
        group="shardId-000000000000",
        limit=1024 * 1024,
    )
    ```
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import replace
from typing import Any, Dict, Hashable, List, Optional, Tuple

from ..core.retry import RetryPolicy, classify_exception
from ..core.unprocessed import UnprocessedItem
from ..payloads.kpl_aggregation import AggregateBuilder

logger = logging.getLogger("lambda_batch.dispatchers.kinesis")

#: How aggregate=True and aggregate="partition_key" group user records.
BY_SHARD = "shard"
BY_PARTITION_KEY = "partition_key"
#: At most this many aggregates are open at once (the oldest is closed past it) ...
MAX_OPEN_AGGREGATES = 500
#: ... and at most this many bytes in all.
MAX_OPEN_BYTES = 10 * 1024 * 1024

# (stream, region, endpoint) -> the open shards' hash key ranges, read once per process.
_SHARD_MAPS: Dict[Tuple[str, str, str], ShardMap] = {}
_SHARD_MAPS_LOCK = threading.Lock()


class ShardMap:
    """The open shards of a stream: ``shard_for(hash_key)`` names the shard a hash key goes to."""

    __slots__ = ("_ids", "_starts")

    def __init__(self, shards: List[Tuple[int, int, str]]) -> None:
        shards = sorted(shards)
        self._starts = [start for start, _, _ in shards]
        self._ids = [shard_id for _, _, shard_id in shards]

    def shard_for(self, hash_key: int) -> Optional[str]:
        """The id of the open shard whose range holds ``hash_key`` (``None`` for an empty map)."""
        index = bisect.bisect_right(self._starts, hash_key) - 1
        return self._ids[index] if index >= 0 else None

    def __len__(self) -> int:
        return len(self._ids)


def read_shard_map(client: Any, stream_param: Dict[str, str], policy: RetryPolicy, deadline: Any) -> ShardMap:
    """List the stream's open shards (every page), retrying as the policy allows within the deadline.

    Raises the last error when the shards cannot be listed, and a TimeoutError
    (``retry.DeadlineNear``) when the deadline is within the policy's margin before a call (no
    call starts then).
    """

    def list_shards(_attempt: int) -> ShardMap:
        shards: List[Tuple[int, int, str]] = []
        params: Dict[str, Any] = dict(stream_param)
        while True:
            page = client.list_shards(**params)
            for shard in page.get("Shards") or []:
                if "EndingSequenceNumber" in (shard.get("SequenceNumberRange") or {}):
                    continue  # closed by a reshard: its children hold its range now
                start = int(shard["HashKeyRange"]["StartingHashKey"])
                shards.append((start, int(shard["HashKeyRange"]["EndingHashKey"]), shard["ShardId"]))
            token = page.get("NextToken")
            if not token:
                return ShardMap(shards)
            params = {"NextToken": token}  # ListShards takes the token without the stream

    # The one retry loop; no ListShards call once the deadline is within the policy's margin.
    return policy.run(list_shards, deadline, start_margin=policy.deadline_margin)


def shared_shard_map(
    key: Tuple[str, str, str],
    client: Any,
    stream_param: Dict[str, str],
    policy: RetryPolicy,
    deadline: Any,
    *,
    refresh: bool = False,
) -> Optional[ShardMap]:
    """The process-wide shard map of a stream (read on first use or when ``refresh``);
    ``None`` when it cannot be read (logged once per attempt, with the error code only)."""
    with _SHARD_MAPS_LOCK:
        cached = _SHARD_MAPS.get(key)
        if cached is not None and not refresh:
            return cached
        try:
            shard_map = read_shard_map(client, stream_param, policy, deadline)
        except Exception as exc:
            logger.info(
                "Kinesis stream %s: cannot list its shards (%s); aggregating per partition key",
                key[0],
                classify_exception(exc).code,
            )
            return None
        if not len(shard_map):
            return None
        _SHARD_MAPS[key] = shard_map
        return shard_map


class Aggregate:
    """One aggregated record and the user records in it, as submitted (the dispatcher's item)."""

    __slots__ = ("builder", "first_key", "first_number", "group", "hash_key", "items", "numbers", "shard")

    def __init__(self, group: Hashable, shard: Optional[str]) -> None:
        self.builder = AggregateBuilder()
        self.group = group
        #: The shard it is expected on (per-shard mode), checked against PutRecords' answer.
        self.shard = shard
        self.items: List[Any] = []  # the submitted objects
        self.numbers: List[int] = []  # their "record #n" numbers, for order and error messages
        self.first_key = ""
        self.hash_key: Optional[str] = None
        self.first_number = 0

    @property
    def record_id(self) -> str:
        """How logs and errors name it: the user records it carries, never their keys."""
        first, last = self.numbers[0], self.numbers[-1]
        span = f"record #{first}" if first == last else f"records #{first} to #{last}"
        return f"aggregated record of {len(self.items)} user record(s) ({span})"


def expand_failed(failed: List[Tuple[int, UnprocessedItem]]) -> List[Tuple[int, UnprocessedItem]]:
    """The dispatcher's failures with each aggregate replaced by its user records, as submitted,
    keyed by their submission number (so a flush returns them in submission order)."""
    out: List[Tuple[int, UnprocessedItem]] = []
    for seq, item in failed:
        aggregate = item.item
        if not isinstance(aggregate, Aggregate):
            out.append((seq, item))
            continue
        for user, number in zip(aggregate.items, aggregate.numbers, strict=False):
            record_id = f"record #{number} (in an {item.record_id})"
            out.append((number, replace(item, item=user, record_id=record_id)))
    return out


class Aggregator:
    """The open aggregates, one per group (shard or partition key), filled up to a size limit."""

    def __init__(self) -> None:
        self._open: Dict[Hashable, Aggregate] = {}
        self._open_bytes = 0

    def add(
        self,
        item: Any,
        number: int,
        *,
        key: str,
        key_bytes: bytes,
        data: bytes,
        hash_key: Optional[str],
        group: Hashable,
        shard: Optional[str],
        limit: int,
    ) -> List[Aggregate]:
        """Add a user record to its group's aggregate; return the aggregates closed to make room.

        ``limit`` bounds an aggregate's Kinesis size: its data plus its partition key (the first
        user record's). A user record too large to share an aggregate goes alone in one.
        """
        closed: List[Aggregate] = []
        current = self._open.get(group)
        if current is not None:
            builder = current.builder
            grown = builder.data_size + builder.added_size(key, key_bytes, len(data), hash_key)
            if grown + len(current.first_key.encode("utf-8")) > limit:
                closed.append(self._close(group))
                current = None
        if current is None:
            current = self._open[group] = Aggregate(group, shard)
            current.first_key, current.hash_key, current.first_number = key, hash_key, number
        before = current.builder.data_size
        current.builder.add(key, key_bytes, data, hash_key)
        current.items.append(item)
        current.numbers.append(number)
        self._open_bytes += current.builder.data_size - before
        while len(self._open) > MAX_OPEN_AGGREGATES or self._open_bytes > MAX_OPEN_BYTES:
            closed.append(self._close(next(iter(self._open))))  # the oldest open aggregate
        return closed

    def close_all(self) -> List[Aggregate]:
        """Close every open aggregate, oldest first."""
        return [self._close(group) for group in list(self._open)]

    def _close(self, group: Hashable) -> Aggregate:
        aggregate = self._open.pop(group)
        self._open_bytes -= aggregate.builder.data_size
        return aggregate

    def __len__(self) -> int:
        return len(self._open)
