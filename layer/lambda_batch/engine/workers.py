"""The ordered worker pool: batches sent by up to ``max_workers`` threads, in order per key.

Used by a dispatcher with ``max_workers`` > 1 only (the module is not loaded otherwise). A
batch that shares an order key (a Kinesis partition key, a FIFO message group, a DynamoDB
item key) with a batch still in flight waits for it, so items of one key are sent in the
order they were submitted; batches of other keys overtake freely. At most
``2 * max_workers`` batches wait or fly at once, so memory stays bounded. The threads live
from the first batch sent to the end of the flush (`OrderedWorkers.end`): a dispatcher
made per invocation and never closed leaves no idle thread behind.

Example:
    ```python
    pool = OrderedWorkers(4, deliver=send_one_batch)
    pool.submit(batch)       # returns at once; sends in the background
    pool.wait()              # every batch submitted so far is resolved
    pool.end()               # the threads end (a later batch starts new ones)
    ```
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Callable, Dict, Hashable, List, Optional, Set

from .packing import Entry


class OrderedWorkers:
    """A bounded thread pool that keeps batches of one order key in submission order."""

    def __init__(self, max_workers: int, deliver: Callable[[List[Entry]], None]) -> None:
        self.max_workers = max_workers
        self._deliver_batch = deliver
        self._executor: Optional[ThreadPoolExecutor] = None
        self._slots = threading.BoundedSemaphore(2 * max_workers)
        self._order_lock = threading.Lock()
        self._last_by_key: Dict[Hashable, Future[None]] = {}
        self._inflight: Set[Future[None]] = set()

    def submit(self, batch: List[Entry]) -> None:
        """Send ``batch`` on a thread, after the batches in flight that share a key with it."""
        self._slots.acquire()  # bounded: at most 2 * max_workers batches waiting or in flight
        try:
            keys = {entry.order_key for entry in batch if entry.order_key is not None}
            with self._order_lock:  # the executor is made and ended under this lock
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        max_workers=self.max_workers, thread_name_prefix="lambda-batch-dispatch"
                    )
                deps = {self._last_by_key[key] for key in keys if key in self._last_by_key}
                future = self._executor.submit(self._run_after, batch, list(deps))
                for key in keys:
                    self._last_by_key[key] = future
                self._inflight.add(future)
        except BaseException:
            self._slots.release()
            raise

        def done(fut: Future[None], keys: Set[Hashable] = keys) -> None:
            with self._order_lock:
                self._inflight.discard(fut)
                for key in keys:
                    if self._last_by_key.get(key) is fut:
                        del self._last_by_key[key]

        future.add_done_callback(done)

    def _run_after(self, batch: List[Entry], deps: List[Future[None]]) -> None:
        # Earlier batches sharing a partition key / message group / item key go first. They were
        # submitted earlier to a FIFO pool, so they are already running: waiting cannot deadlock.
        try:
            if deps:
                wait_futures(deps)
            self._deliver_batch(batch)
        finally:
            self._slots.release()

    def wait(self) -> None:
        """Wait until every batch submitted so far is resolved."""
        with self._order_lock:
            pending = list(self._inflight)
        if pending:
            wait_futures(pending)

    def busy(self) -> bool:
        """Whether a batch is still being sent (a finished one may not have left ``_inflight`` yet)."""
        with self._order_lock:
            return any(not future.done() for future in self._inflight)

    def end(self) -> None:
        """End the threads once nothing is in flight (after a flush): they are not left idle.

        A batch submitted meanwhile by another thread keeps them; its flush ends them.
        """
        with self._order_lock:
            # A done future may still be listed: its callback runs after its waiters wake.
            if any(not future.done() for future in self._inflight):
                return
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)  # idle: its threads exit at once

    def stop(self) -> None:
        """End the threads (the dispatcher is closed)."""
        with self._order_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
