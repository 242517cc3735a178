"""Duplicate deliveries, as SQS and Lambda make them, injected by the demo's event source.

SQS standard queues deliver at least once, and Lambda's pollers can hold the same message at the
same time when its visibility timeout lapses. `DuplicatingEventSource` is the local event
source (`local_lambda.event_source.SQSEventSourceMapping`) doing both on purpose:

* **a message handed twice**: after a batch, up to `PER_BATCH` of its messages that were
  handled and deleted (by the event source, or by the function deleting a partial batch's
  successes: `handled`), and not sent through S3, are handed again with the next batch (alone,
  if the queue has nothing more): the same message id and body, the receipt handle it had;
* **one batch to two pollers at once**: the first `concurrent_batches` batches are also handed,
  at the same moment, to a second poller: another execution environment of the consumer
  (`second_handler`), whose outcome is applied as Lambda applies any (deletes, or nothing).

The consumer's idempotency has to keep every effect single: a message handed twice counts as
succeeded without running its handler again; of two pollers, one handles each record, and the
other reports it failed while it is in progress (it comes back later) or succeeded once completed.
`DuplicateCounts` says what was injected; the demo reads the effects back.

Example:
    ```python
    source = DuplicatingEventSource(handler, queue_url, sqs_client=sqs, second_handler=twin,
                                    duplicates=5, concurrent_batches=1, batch_size=10)
    source.poll_once(wait_seconds=1)
    source.duplicates.delivered        # extra deliveries so far
    ```
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from demo.ledger import is_pointer
from local_lambda.event_source import BatchOutcome, Handler, SQSEventSourceMapping

#: The most messages of one batch handed again with the next one (spreads them over the run).
PER_BATCH = 2


@dataclass
class DuplicateCounts:
    """What was delivered twice: messages handed again, and batches handed to two pollers at once."""

    #: Messages handed a second time after their batch (they were handled and deleted already).
    redelivered: int = 0
    #: Batches handed to two pollers at once, and the records in them.
    concurrent_batches: int = 0
    concurrent_records: int = 0
    #: Of the second poller's invocations: how many ended in an error (records it reported failed:
    #: in progress at the other poller, or failing on their own) and the records it had deleted.
    second_poller_errors: int = 0
    second_poller_deleted: int = 0

    @property
    def delivered(self) -> int:
        """Extra deliveries in all: each one a chance to run an effect twice."""
        return self.redelivered + self.concurrent_records


class DuplicatingEventSource(SQSEventSourceMapping):
    """An SQS event source mapping that delivers some messages twice (see the module's documentation).

    `duplicates` is how many messages to hand twice over the run; `concurrent_batches` how many
    batches (the first ones) to hand to `second_handler` too, at the same time. `handled(message
    id)` says whether a message was deleted after handling, whoever deleted it (default: only the
    deletes of the event source itself are known). Other arguments are
    `local_lambda.event_source.SQSEventSourceMapping`'s.

    Example:
        ```python
        source = DuplicatingEventSource(handler, url, sqs_client=sqs, second_handler=twin,
                                        duplicates=3, concurrent_batches=1)
        ```
    """

    def __init__(
        self,
        handler: Handler,
        queue_url: str,
        *,
        second_handler: Optional[Handler] = None,
        duplicates: int = 0,
        concurrent_batches: int = 0,
        handled: Optional[Callable[[str], bool]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, queue_url, **kwargs)
        if duplicates < 0 or concurrent_batches < 0:
            raise ValueError("duplicates and concurrent_batches must be 0 or more")
        if concurrent_batches and second_handler is None:
            raise ValueError("concurrent_batches needs a second_handler (the second poller)")
        self.duplicates_left = duplicates
        self.concurrent_left = concurrent_batches
        self.duplicates = DuplicateCounts()
        self.handled = handled
        #: Messages waiting to be handed again, as they were received.
        self.pending: List[Dict[str, Any]] = []
        #: Message ids handed twice already (never a third time).
        self.handed_twice: Set[str] = set()
        self.second_poller: Optional[SQSEventSourceMapping] = None
        if second_handler is not None:
            self.second_poller = SQSEventSourceMapping(second_handler, queue_url, **kwargs)

    def poll_once(self, wait_seconds: Optional[int] = None) -> Optional[BatchOutcome]:
        """One batch (with the messages waiting to be handed again), or the waiting ones alone."""
        messages = self.receive_batch(self.poll_wait_seconds if wait_seconds is None else wait_seconds)
        if not messages and not self.pending:
            self.stats.idle_polls += 1
            return None
        self.stats.idle_polls = 0
        ids = {message["MessageId"] for message in messages}
        room = max(0, self.batch_size - len(messages)) if messages else self.batch_size
        again = [m for m in self.pending if m["MessageId"] not in ids][:room]
        self.pending = [m for m in self.pending if m not in again]
        self.duplicates.redelivered += len(again)
        batch = messages + again
        if self.concurrent_left and self.second_poller is not None and messages:
            self.concurrent_left -= 1
            outcome = self._deliver_twice(batch)
        else:
            outcome = self.deliver(batch)
        self._hold_for_later(batch, outcome)
        return outcome

    def _deliver_twice(self, messages: Sequence[Dict[str, Any]]) -> BatchOutcome:
        """Hand `messages` to this poller and to the second one at the same moment."""
        assert self.second_poller is not None
        self.second_poller._queue_arn = self.queue_arn  # one GetQueueAttributes for both
        outcomes: Dict[str, BatchOutcome] = {}
        start = threading.Barrier(2)

        def second() -> None:
            start.wait()
            assert self.second_poller is not None
            outcomes["second"] = self.second_poller.deliver(messages)

        thread = threading.Thread(target=second, name="second-poller", daemon=True)
        thread.start()
        start.wait()
        outcome = self.deliver(messages)
        thread.join()
        twin = outcomes.get("second")
        self.duplicates.concurrent_batches += 1
        self.duplicates.concurrent_records += len(messages)
        if twin is not None:
            self.duplicates.second_poller_errors += 1 if twin.error else 0
            self.duplicates.second_poller_deleted += len(twin.deleted)
        return outcome

    def _hold_for_later(self, batch: Sequence[Dict[str, Any]], outcome: BatchOutcome) -> None:
        """Keep up to `PER_BATCH` of the batch's deleted messages to hand again next time."""
        if self.duplicates_left <= 0:
            return
        deleted = set(outcome.deleted)
        handled = self.handled or (lambda message_id: False)
        chosen = [
            message
            for message in batch
            if (message["MessageId"] in deleted or handled(message["MessageId"]))
            and message["MessageId"] not in self.handed_twice
            and not is_pointer(message.get("Body"))  # its payload was deleted with it
        ][: min(PER_BATCH, self.duplicates_left)]
        self.pending.extend(chosen)
        self.handed_twice.update(m["MessageId"] for m in chosen)
        self.duplicates_left -= len(chosen)
