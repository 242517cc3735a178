"""The producer's request: what to send, checked in full before anything is sent.

A request is a JSON object; every field is optional::

    {
      "count": 20,                     # items to produce, 1 to 5000 (default 10)
      "targets": ["sqs", "dynamodb"],  # any of sqs, dynamodb, kinesis, cloudwatch
                                       #   (default: every target the stack deployed)
      "queue": "standard",             # "standard" or "fifo": the work queue sqs sends to
      "poison_rate": 0.25,             # share of SQS messages marked {"poison": true}, 0 to 1;
                                       #   the consumer rejects those, so they end in the DLQ
      "message_groups": 2,             # FIFO message groups the items are spread over, 1 to 100
      "tenants": {"noisy": 18, "a": 1, "b": 1},  # standard queue only: each item's "tenant"
                                       #   field, by these counts in this order (they sum to
                                       #   count); sent as its MessageGroupId (SQS fair queues)
      "large_count": 2,                # items padded past SQS's 1 MiB, 0 to count (default 0): sent
                                       #   through the stack's payload bucket (S3 pointers)
      "slow_count": 1,                 # the first items (not poison) that take the consumer
      "work_seconds": 5,               #   work_seconds each (0 to 10, default 4): slow records
      "run_id": "demo-1"               # names this run's items (default: the request id)
    }

Poison items (and large items) are spread evenly: item ``i`` is poison when ``floor((i + 1) * rate)``
exceeds ``floor(i * rate)``, so exactly ``floor(count * rate)`` items are poison and the
same request always marks the same items.

Example::

    >>> parse_request({"count": 4, "targets": ["sqs"], "poison_rate": 0.5}, {"sqs"}).poison_ids()
    ['run-00001', 'run-00003']
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

TARGETS = ("sqs", "dynamodb", "kinesis", "cloudwatch")
MAX_COUNT = 5000
_FIELDS = {
    "count",
    "targets",
    "queue",
    "poison_rate",
    "message_groups",
    "run_id",
    "large_count",
    "slow_count",
    "work_seconds",
    "tenants",
}
#: The longest a slow item may make the consumer work (its timeout is 20 s).
MAX_WORK_SECONDS = 10
#: The padding of a large item: with the rest of the item, over SQS's 1 MiB message limit.
LARGE_PADDING = 1024 * 1024 + 1
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: A tenant's name: it becomes a MessageGroupId (at most 128 ASCII letters, digits or punctuation).
_TENANT = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class InvalidRequestError(ValueError):
    """The request cannot be carried out; nothing has been sent. The message names the field."""


@dataclass(frozen=True)
class ProducerRequest:
    """A checked request (see the module's documentation for each field)."""

    count: int
    targets: Tuple[str, ...]
    fifo: bool
    poison_rate: float
    message_groups: int
    run_id: str
    large_count: int = 0
    slow_count: int = 0
    work_seconds: float = 4.0
    #: (tenant, item count) in order: the first count items are the first tenant's, and so on.
    tenants: Tuple[Tuple[str, int], ...] = ()

    def tenant(self, index: int) -> Optional[str]:
        """The tenant of item ``index`` (its fair-queue message group), or None without tenants."""
        end = 0
        for name, count in self.tenants:
            end += count
            if index < end:
                return name
        return None

    def item_id(self, index: int) -> str:
        """The id of item ``index``: ``<run_id>-<index, 5 digits>``."""
        return f"{self.run_id}-{index:05d}"

    def is_poison(self, index: int) -> bool:
        """True when item ``index`` is marked poison."""
        return math.floor((index + 1) * self.poison_rate) > math.floor(index * self.poison_rate)

    def is_large(self, index: int) -> bool:
        """True when item ``index`` is padded past the SQS message limit (sent through S3)."""
        share = self.large_count / self.count
        return math.floor((index + 1) * share) > math.floor(index * share)

    def poison_ids(self) -> List[str]:
        """The ids of the poison items, in order."""
        return [self.item_id(i) for i in range(self.count) if self.is_poison(i)]

    def items(self) -> List[Dict[str, Any]]:
        """The items to send, in order."""
        produced = []
        for index in range(self.count):
            item: Dict[str, Any] = {"id": self.item_id(index), "run_id": self.run_id, "seq": index}
            if self.is_poison(index):
                item["poison"] = True
            if self.is_large(index):
                item["padding"] = "x" * LARGE_PADDING
            if index < self.slow_count and not self.is_poison(index):
                item["work_seconds"] = self.work_seconds
            tenant = self.tenant(index)
            if tenant is not None:
                item["tenant"] = tenant
            produced.append(item)
        return produced

    def message_group(self, index: int) -> str:
        """The FIFO message group of item ``index``."""
        return f"{self.run_id}-g{index % self.message_groups}"


def parse_request(event: Any, deployed: Set[str], default_run_id: str = "run") -> ProducerRequest:
    """Check ``event`` against the targets the stack ``deployed``; raise :class:`InvalidRequestError`."""
    if event is None:
        event = {}
    if not isinstance(event, Mapping):
        raise InvalidRequestError(f"the request must be a JSON object, not {type(event).__name__}")
    unknown = sorted(set(event) - _FIELDS)
    if unknown:
        raise InvalidRequestError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(_FIELDS))}"
        )

    count = event.get("count", 10)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidRequestError(f"count must be an integer from 1 to {MAX_COUNT}, not {count!r}")

    targets_value: Optional[Any] = event.get("targets")
    if targets_value is None:
        targets = tuple(t for t in TARGETS if t in deployed)
    else:
        if not isinstance(targets_value, list) or not targets_value:
            raise InvalidRequestError("targets must be a non-empty list")
        bad = [t for t in targets_value if t not in TARGETS]
        if bad:
            raise InvalidRequestError(f"unknown target(s) {bad}; known: {', '.join(TARGETS)}")
        missing = [t for t in targets_value if t not in deployed]
        if missing:
            hint = " (deploy with EnableKinesis=true)" if "kinesis" in missing else ""
            raise InvalidRequestError(f"target(s) {missing} are not deployed in this stack{hint}")
        targets = tuple(t for t in TARGETS if t in targets_value)

    queue = event.get("queue", "standard")
    if queue not in ("standard", "fifo"):
        raise InvalidRequestError(f"queue must be 'standard' or 'fifo', not {queue!r}")

    rate = event.get("poison_rate", 0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise InvalidRequestError(f"poison_rate must be a number from 0 to 1, not {rate!r}")

    groups = event.get("message_groups", 1)
    if isinstance(groups, bool) or not isinstance(groups, int) or not 1 <= groups <= 100:
        raise InvalidRequestError(f"message_groups must be an integer from 1 to 100, not {groups!r}")

    run_id = event.get("run_id", default_run_id)
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidRequestError("run_id must be 1 to 64 letters, digits, '-' or '_'")

    large = event.get("large_count", 0)
    if isinstance(large, bool) or not isinstance(large, int) or not 0 <= large <= count:
        raise InvalidRequestError(f"large_count must be an integer from 0 to count ({count}), not {large!r}")

    slow = event.get("slow_count", 0)
    if isinstance(slow, bool) or not isinstance(slow, int) or not 0 <= slow <= count:
        raise InvalidRequestError(f"slow_count must be an integer from 0 to count ({count}), not {slow!r}")
    work = event.get("work_seconds", 4.0)
    if isinstance(work, bool) or not isinstance(work, (int, float)) or not 0 <= work <= MAX_WORK_SECONDS:
        raise InvalidRequestError(f"work_seconds must be a number from 0 to {MAX_WORK_SECONDS}, not {work!r}")

    tenants = _parse_tenants(event.get("tenants"), count, fifo=queue == "fifo")

    return ProducerRequest(
        count=count,
        targets=targets,
        fifo=queue == "fifo",
        poison_rate=float(rate),
        message_groups=groups,
        run_id=run_id,
        large_count=large,
        slow_count=slow,
        work_seconds=float(work),
        tenants=tenants,
    )


def _parse_tenants(value: Any, count: int, *, fifo: bool) -> Tuple[Tuple[str, int], ...]:
    """``{"tenant": items, ...}`` checked: names a message group may carry, counts summing to ``count``."""
    if value is None:
        return ()
    if fifo:
        raise InvalidRequestError("tenants are for the standard queue (FIFO uses message_groups)")
    if not isinstance(value, Mapping) or not value:
        raise InvalidRequestError("tenants must be a non-empty object of tenant names to item counts")
    tenants = []
    for name, items in value.items():
        if not isinstance(name, str) or not _TENANT.fullmatch(name):
            raise InvalidRequestError("tenant names must be 1 to 64 letters, digits, '_', '.', ':' or '-'")
        if isinstance(items, bool) or not isinstance(items, int) or items < 1:
            raise InvalidRequestError(f"tenants: each count must be a positive integer, not {items!r}")
        tenants.append((name, items))
    if sum(items for _, items in tenants) != count:
        raise InvalidRequestError(f"tenants: the counts must sum to count ({count})")
    return tuple(tenants)
