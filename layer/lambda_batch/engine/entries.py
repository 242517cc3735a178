"""What a dispatcher keeps per submitted item, and the counters it keeps per dispatcher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Hashable, Optional


class Entry:
    """One submitted item on its way: the submitted object, the request entry made from it, its size.

    ``attempts`` counts the calls that carried it, across retries and splits: the retry
    policy's ``max_attempts`` bounds it.
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


@dataclass(frozen=True)
class DispatcherStats:
    """Counters of one dispatcher since it was made.

    ``calls`` counts batch calls made (retries included), ``retries`` the calls that were
    retries, ``entries_sent`` the items delivered, ``failures`` the items handed back,
    ``superseded`` the DynamoDB writes replaced by a later write of the same key in one batch.
    """

    submitted: int = 0
    calls: int = 0
    entries_sent: int = 0
    retries: int = 0
    failures: int = 0
    superseded: int = 0
    splits: int = 0
