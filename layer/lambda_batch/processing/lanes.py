"""Lanes: records that keep their order run one after another, lanes side by side.

Records are grouped into *lanes*: the records that share an ordering key (a FIFO
message group, a stream shard), in their original order. At most ``max_concurrency``
workers (threads, or asyncio tasks for ``async def`` handlers) each take a whole lane
and run its records one after another, so records of a lane never overtake each other,
while different lanes run side by side. Loaded with the first concurrent or async batch.

Example:
    ```python
    run_in_threads(build_lanes(records, key), step, max_concurrency=4)
    ```
"""

from __future__ import annotations

import threading
from collections import deque

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Awaitable, Callable, Deque, Dict, Hashable, List, Mapping, Optional, Sequence

    LaneKey = Optional[Callable[[Mapping[str, Any]], Hashable]]


def build_lanes(records: Sequence[Mapping[str, Any]], key: LaneKey) -> Deque[List[int]]:
    """Group record positions into lanes: equal keys share a lane, in record order.

    With ``key=None`` every record is a lane of its own.

    Example:
        ```python
        list(build_lanes([{"g": "a"}, {"g": "b"}, {"g": "a"}], lambda r: r["g"]))
        # [[0, 2], [1]]
        ```
    """
    if key is None:
        return deque([index] for index in range(len(records)))
    lanes: Dict[Hashable, List[int]] = {}
    for index, record in enumerate(records):
        lane_key = key(record)
        lane = lanes.get(lane_key)
        if lane is None:
            lanes[lane_key] = [index]
        else:
            lane.append(index)
    return deque(lanes.values())


def run_in_threads(lanes: Deque[List[int]], step: Callable[[int], None], max_concurrency: int) -> None:
    """Run ``step(index)`` for every position of every lane on at most ``max_concurrency`` threads.

    ``step`` is expected to catch its own exceptions; anything that escapes it (a bug,
    ``KeyboardInterrupt``) stops that worker and is raised here once all workers end.
    """
    escaped: List[BaseException] = []

    def worker() -> None:
        try:
            while True:
                try:
                    lane = lanes.popleft()
                except IndexError:
                    return
                for index in lane:
                    step(index)
        except BaseException as exc:  # re-raised in the calling thread below
            escaped.append(exc)

    count = max(1, min(max_concurrency, len(lanes)))
    threads = [
        threading.Thread(target=worker, name=f"lambda-batch-worker-{n}", daemon=True) for n in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if escaped:
        raise escaped[0]


async def run_in_tasks(
    lanes: Deque[List[int]], step: Callable[[int], Awaitable[None]], max_concurrency: int
) -> None:
    """The asyncio twin of `run_in_threads`: at most ``max_concurrency`` tasks."""
    import asyncio  # only async handlers pay for it

    async def worker() -> None:
        while lanes:
            lane = lanes.popleft()
            for index in lane:
                await step(index)

    count = max(1, min(max_concurrency, len(lanes)))
    await asyncio.gather(*(worker() for _ in range(count)))


__all__ = ["build_lanes", "run_in_tasks", "run_in_threads"]
