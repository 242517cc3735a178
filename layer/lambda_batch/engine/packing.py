"""The buffer: submitted items kept as entries and cut into batches under two caps, entries and bytes.

Packing is next-fit: items keep the order they were submitted in, and a batch is sealed
(handed to the delivery) the moment the next item would not fit or it is full, so no
order-keeping packing makes fewer calls and memory stays bounded by one batch. Each item is
measured once, when it is submitted; the batch's size is a running total, so submitting is
O(1). Items with a ``dedupe_key`` (DynamoDB writes of one item key) replace an earlier one in
the open batch. The buffer counts what it took in (``submitted``, ``superseded``).

Example:
    ```python
    buffer = Packing(
        limits,
        max_batch_size=10,
        max_batch_bytes=1_048_576,
        item_limit=1_048_576,
        deliver=send_batch,
        deliver_wave=None,
        owner=dispatcher,
    )
    # seals and delivers a full batch
    buffer.add(payload, {"MessageBody": body}, size=len(body))
    # delivers what is open
    buffer.seal()
    ```
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Set, Tuple

from ..core.limits import ServiceLimits
from ..errors import ConfigurationError, PayloadError

logger = logging.getLogger("lambda_batch.dispatchers")

Deliver = Callable[[List["Entry"]], None]


class Entry:
    """One submitted item on its way: the submitted object, the request entry made from it, its size.

    ``attempts`` counts the calls that carried it, across retries and splits: the retry
    policy's ``max_attempts`` bounds it. ``done`` is set once it is delivered or handed back.
    """

    __slots__ = ("attempts", "done", "order_key", "payload", "record_id", "request", "seq", "size")

    def __init__(
        self,
        payload: Any,
        request: Dict[str, Any],
        size: int,
        *,
        seq: int,
        record_id: str,
        order_key: Optional[Hashable],
    ) -> None:
        self.payload = payload
        self.request = request
        self.size = size
        self.seq = seq
        self.record_id = record_id
        self.order_key = order_key
        self.attempts = 0
        self.done = False


def next_wave[T](entries: Sequence[T]) -> Tuple[List[T], List[T]]:
    """The earliest entry of each order key (and every entry without one), and the rest, in order.

    Example:
        ```python
        wave, rest = next_wave(entries)     # a call carries at most one entry per key
        ```
    """
    seen: Set[Hashable] = set()
    wave: List[T] = []
    rest: List[T] = []
    for entry in entries:
        key = getattr(entry, "order_key", None)
        if key is None:
            wave.append(entry)
        elif key in seen:
            rest.append(entry)
        else:
            seen.add(key)
            wave.append(entry)
    return wave, rest


class Packing:
    """The open batch: items buffered until a batch is full, then sealed and delivered.

    ``deliver(batch)`` takes a sealed batch (the delivery loop, or the worker pool).
    ``deliver_wave`` is set in ordered mode with one worker: a seal then sends the earliest
    open entry of each key in one call (``deliver_wave(wave)``) and keeps the others open,
    ahead of what is submitted next, so the next call is filled with other keys' entries too.
    ``owner`` is the dispatcher (named in errors and logs; its ``_check_size`` words the error
    of an item too large). ``item_limit`` (the largest item accepted) and ``max_batch_bytes``
    may be lowered by the dispatcher once it has read its resource's settings.
    """

    def __init__(
        self,
        limits: ServiceLimits,
        *,
        max_batch_size: int,
        max_batch_bytes: int,
        item_limit: int,
        deliver: Deliver,
        deliver_wave: Optional[Deliver],
        owner: Any,
    ) -> None:
        self.limits = limits
        self.max_batch_size = max_batch_size
        self.max_batch_bytes = max_batch_bytes
        self.item_limit = item_limit
        self.lock = threading.RLock()  # the open batch and the sequence
        self.open: List[Entry] = []
        self.open_bytes = 0
        self.submitted = 0
        self.superseded = 0
        self.closed = False
        self._open_keys: Dict[Hashable, Entry] = {}
        self._seq = itertools.count()
        self._deliver = deliver
        self._deliver_wave = deliver_wave
        self._owner = owner

    def check_size(self, size: int, record_id: str) -> None:
        """Raise PayloadError when an item of ``size`` bytes is over the largest accepted now."""
        limit = self.item_limit
        if size > limit:
            if size <= self.limits.max_item_bytes and limit == self.max_batch_bytes:
                name = f"max_batch_bytes setting ({limit} bytes)"
            else:
                name = f"{self.limits.item_limit_name}: {limit} bytes"
            raise PayloadError(f"{record_id} is {size} bytes, over the {name}")

    def add(
        self,
        payload: Any,
        request: Dict[str, Any],
        size: int,
        *,
        record_id: Optional[str] = None,
        order_key: Optional[Hashable] = None,
        dedupe_key: Optional[Hashable] = None,
    ) -> None:
        """Buffer one measured item; deliver the open batch when the item does not fit or it is full."""
        if self.closed:
            raise ConfigurationError(f"{type(self._owner).__name__} is closed")
        with self.lock:
            seq = next(self._seq)
            rid = record_id if record_id is not None else f"item #{seq}"
            if size > self.item_limit:
                self._owner._check_size(size, rid)  # raises, naming the limit
            key = dedupe_key if dedupe_key is not None else order_key
            entry = Entry(payload, request, size, seq=seq, record_id=rid, order_key=key)
            self.submitted += 1
            if dedupe_key is not None:
                self._supersede(dedupe_key, rid)
            while self.open and (
                len(self.open) >= self.max_batch_size or self.open_bytes + size > self.max_batch_bytes
            ):
                self.seal()  # sends at least one entry: the loop ends
            self.open.append(entry)
            self.open_bytes += size
            if dedupe_key is not None:
                self._open_keys[dedupe_key] = entry
            if len(self.open) >= self.max_batch_size or self.open_bytes >= self.max_batch_bytes:
                self.seal()

    def _supersede(self, dedupe_key: Hashable, record_id: str) -> None:
        """Drop the open entry of ``dedupe_key``: a later write of the same key replaces it."""
        old = self._open_keys.pop(dedupe_key, None)
        if old is None:
            return
        self.open.remove(old)  # at most max_batch_size entries: bounded work
        self.open_bytes -= old.size
        self.superseded += 1
        logger.debug(
            "%s: %s supersedes %s (same key)", self._owner.target_description, record_id, old.record_id
        )

    def seal(self) -> None:
        """Deliver the open batch (in ordered mode, its first wave: the rest stays open)."""
        batch = self.open
        self.open = []
        self.open_bytes = 0
        self._open_keys = {}
        if self._deliver_wave is not None:
            wave, rest = next_wave(batch)
            self.open = rest
            self.open_bytes = sum(entry.size for entry in rest)
            self._deliver_wave(wave)
            return
        self._deliver(batch)
