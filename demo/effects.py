"""What the consumer did, read back: its job counters in the results table.

The consumer's record handler adds 1 to `handled` of the item `<job id>#handled` in the stack's
results table for each record it handles (`functions/consumer/app.py`, `count_job`): an effect a
duplicate delivery would double if the handler ran twice. After a run the demo reads every counter
of the messages it saw handled (`BatchGetItem`, 100 keys a call) and compares.

Example:
    ```python
    effects = read_effects(dynamodb, "lambda-batch-ResultsTable-X", ["demo1-w000-00000", ...])
    effects.duplicated, effects.missing          # 0, 0
    ```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List

#: The most keys one BatchGetItem call reads.
BATCH_GET_MAX_KEYS = 100
#: Rounds of UnprocessedKeys read again before giving up (the demo's own reads, on an idle table).
MAX_ROUNDS = 20


@dataclass
class EffectCounts:
    """The effects of the handled messages: each job counted once, more than once, or never."""

    #: Jobs (item ids of the messages deleted after handling) whose counter was read.
    checked: int = 0
    #: Jobs counted exactly once.
    once: int = 0
    #: Item ids counted more than once (the handler ran twice), and those never counted.
    duplicated_ids: List[str] = field(default_factory=list)
    missing_ids: List[str] = field(default_factory=list)
    #: Runs of the handler in all (the counters added up).
    handler_runs: int = 0

    @property
    def duplicated(self) -> int:
        """Jobs whose effect happened more than once: 0, or a duplicate delivery got through."""
        return len(self.duplicated_ids)

    @property
    def missing(self) -> int:
        """Jobs deleted from the queue without their effect: 0, or a record was skipped wrongly."""
        return len(self.missing_ids)


def job_key(item_id: str) -> Dict[str, Any]:
    """The key of a job's counter (the consumer's `count_job`)."""
    return {"pk": {"S": f"{item_id}#handled"}}


def read_job_counts(dynamodb: Any, table_name: str, item_ids: Iterable[str]) -> Dict[str, int]:
    """Item id -> its `handled` counter (absent: never counted), read with BatchGetItem."""
    wanted = sorted(set(item_ids))
    counts: Dict[str, int] = {}
    for start in range(0, len(wanted), BATCH_GET_MAX_KEYS):
        request: Dict[str, Any] = {
            table_name: {
                "Keys": [job_key(i) for i in wanted[start : start + BATCH_GET_MAX_KEYS]],
                "ProjectionExpression": "pk, handled",
            }
        }
        for _ in range(MAX_ROUNDS):
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table_name, []):
                item_id = item["pk"]["S"].rsplit("#handled", 1)[0]
                counts[item_id] = int(item.get("handled", {}).get("N", "0"))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError(f"{table_name}: keys still unprocessed after {MAX_ROUNDS} rounds")
    return counts


def read_effects(dynamodb: Any, table_name: str, handled_item_ids: Iterable[str]) -> EffectCounts:
    """The effects of the jobs in `handled_item_ids` (the messages deleted after handling)."""
    wanted = sorted(set(handled_item_ids))
    counts = read_job_counts(dynamodb, table_name, wanted)
    return EffectCounts(
        checked=len(wanted),
        once=sum(1 for i in wanted if counts.get(i) == 1),
        duplicated_ids=[i for i in wanted if counts.get(i, 0) > 1],
        missing_ids=[i for i in wanted if counts.get(i, 0) == 0],
        handler_runs=sum(counts.values()),
    )
