"""Packing: submitted items buffered and cut into batches under two caps, entries and bytes.

Packing is next-fit: items keep the order they were submitted in, and a batch is sealed
(sent) the moment the next item would not fit or it is full, so no order-keeping packing
makes fewer calls and memory stays bounded by one batch. Each item is measured once, when
it is submitted; the batch's size is a running total, so submitting is O(1). Items with a
``dedupe_key`` (DynamoDB writes of one item key) replace an earlier one in the open batch.

Example::

    dispatcher._add(payload, {"Data": data}, size=len(data), order_key=partition_key)
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TYPE_CHECKING, Any, Dict, Hashable, Iterator, List, Optional

from ..core.limits import ServiceLimits
from ..errors import ConfigurationError, PayloadError
from .delivery import next_wave
from .entries import Entry

logger = logging.getLogger("lambda_batch.dispatchers")


class Packing:
    """The open batch: items buffered until a batch is full, then sealed and sent."""

    target_description = "target"
    _ordered = False

    limits: ServiceLimits
    max_batch_size: int
    max_batch_bytes: int
    max_workers: int
    _closed: bool
    _lock: threading.RLock
    _seq: Iterator[int]
    _open: List[Entry]
    _open_bytes: int
    _open_keys: Dict[Hashable, Entry]

    def _init_packing(self) -> None:
        self._lock = threading.RLock()  # the open batch and the sequence
        self._seq = itertools.count()
        self._open = []
        self._open_bytes = 0
        self._open_keys = {}
        self._closed = False

    def _item_limit(self) -> int:
        """The largest item accepted now (subclasses lower or raise it from the resource's settings)."""
        return min(self.limits.max_item_bytes, self.max_batch_bytes)

    def _check_size(self, size: int, record_id: str) -> None:
        limit = self._item_limit()
        if size > limit:
            if size <= self.limits.max_item_bytes and limit == self.max_batch_bytes:
                name = f"max_batch_bytes setting ({limit} bytes)"
            else:
                name = f"{self.limits.item_limit_name}: {limit} bytes"
            raise PayloadError(f"{record_id} is {size} bytes, over the {name}")

    def _add(
        self,
        payload: Any,
        request: Dict[str, Any],
        size: int,
        *,
        record_id: Optional[str] = None,
        order_key: Optional[Hashable] = None,
        dedupe_key: Optional[Hashable] = None,
    ) -> None:
        """Buffer one measured item; send the open batch when the item does not fit or it is full."""
        if self._closed:
            raise ConfigurationError(f"{type(self).__name__} is closed")
        with self._lock:
            seq = next(self._seq)
            rid = record_id if record_id is not None else f"item #{seq}"
            self._check_size(size, rid)
            entry = Entry(
                payload,
                request,
                size,
                seq=seq,
                record_id=rid,
                order_key=dedupe_key if dedupe_key is not None else order_key,
            )
            superseded = self._supersede(dedupe_key, rid) if dedupe_key is not None else 0
            self._count(submitted=1, superseded=superseded)
            while self._open and (
                len(self._open) >= self.max_batch_size or self._open_bytes + size > self.max_batch_bytes
            ):
                self._seal()  # sends at least one entry: the loop ends
            self._open.append(entry)
            self._open_bytes += size
            if dedupe_key is not None:
                self._open_keys[dedupe_key] = entry
            if len(self._open) >= self.max_batch_size or self._open_bytes >= self.max_batch_bytes:
                self._seal()

    def _supersede(self, dedupe_key: Hashable, record_id: str) -> int:
        """Drop the open entry of ``dedupe_key`` (a later write of the same key replaces it); 1 if one was."""
        old = self._open_keys.pop(dedupe_key, None)
        if old is None:
            return 0
        self._open.remove(old)  # at most max_batch_size entries: bounded work
        self._open_bytes -= old.size
        logger.debug("%s: %s supersedes %s (same key)", self.target_description, record_id, old.record_id)
        return 1

    def _seal(self) -> None:
        batch = self._open
        self._open = []
        self._open_bytes = 0
        self._open_keys = {}
        if self._ordered and self.max_workers == 1:
            # One call carries the earliest open entry of each key; the others stay open, ahead of
            # what is submitted next, so the next call is filled with other keys' entries too.
            wave, rest = next_wave(batch)
            self._open = rest
            self._open_bytes = sum(entry.size for entry in rest)
            self._deliver_calls(wave)
            return
        if self.max_workers == 1:
            self._deliver(batch)
        else:
            self._submit_concurrent(batch)

    if TYPE_CHECKING:  # provided by the delivery loop and the worker pool the dispatcher is made of

        def _count(self, **increments: int) -> None: ...
        def _deliver(self, batch: List[Entry]) -> None: ...
        def _deliver_calls(self, batch: List[Entry]) -> None: ...
        def _submit_concurrent(self, batch: List[Entry]) -> None: ...
