"""The demo's ledger: where every message is, kept from what was seen on the wire and read back.

Facts come from three independent places:

* the counting proxy (``emulator.call_counter``) sees every ``SendMessageBatch`` /
  ``SendMessage`` of the producer with the message ids SQS gave, every ``ReceiveMessage``
  of the event source (message id, receipt handle, receive count) and every
  ``DeleteMessageBatch`` / ``DeleteMessage`` of the consumer function and of the event
  source, with which entries SQS reported deleted;
* the producer's own response: how many items it was asked for and which it returned
  unsent (those are accounted for: the caller has them back);
* at the end, real reads: the dead-letter queue is received in full, and the work
  queue's message counts are read.

``lost`` is every message SQS accepted that was neither deleted after processing, nor
read from the DLQ, nor still on the work queue: it must be 0.

Example::

    ledger = Ledger()
    ledger.observe(record)            # a CallRecord of the proxy
    ledger.summary(dlq_ids, in_queue) # counts, lost, and the checks
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

#: Reads a large payload's S3 pointer body back into the payload (``None``: not readable).
Resolver = Callable[[str], Optional[str]]


@dataclass
class MessageState:
    """What is known of one message accepted by SQS."""

    message_id: str
    item_id: Optional[str] = None
    poison: bool = False
    deliveries: int = 0
    deleted_by: Optional[str] = None
    #: Sent through S3 (its body on the wire is a pointer to the payload).
    large: bool = False
    #: A slow record (``"work_seconds"``): the consumer's visibility heartbeat keeps it invisible.
    slow: bool = False
    #: When each delivery was seen (``time.monotonic()``): a failed message's retry delays.
    received_at: List[float] = field(default_factory=list)
    #: Its tenant (the item's ``"tenant"``: its fair-queue message group), and when SQS accepted it.
    tenant: Optional[str] = None
    sent_at: Optional[float] = None


def is_pointer(body: Any) -> bool:
    """Whether a message body is a large payload's S3 pointer (the AWS Extended Client format)."""
    return isinstance(body, str) and body.startswith('["') and '"s3BucketName"' in body


def is_slow(body: Any) -> bool:
    """Whether a message body is a slow item's (``"work_seconds"``: the consumer works that long)."""
    return isinstance(body, str) and '"work_seconds"' in body


def tenant_of(body: Any) -> Optional[str]:
    """The producer item's ``"tenant"`` from a message body (``None``: none, or a pointer body)."""
    try:
        payload = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None
    tenant = payload.get("tenant") if isinstance(payload, dict) else None
    return tenant if isinstance(tenant, str) else None


def item_of(body: Any, resolve: Optional[Resolver] = None) -> tuple[Optional[str], bool]:
    """The producer's item id and poison flag from a message body (``None, False``: not one of its items).

    A pointer body is read back through ``resolve`` first (the payload lives in S3).
    """
    if resolve is not None and is_pointer(body):
        body = resolve(body)
    try:
        payload = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        return None, False
    if not isinstance(payload, dict):
        return None, False
    item_id = payload.get("id")
    return (str(item_id) if item_id is not None else None), payload.get("poison") is True


@dataclass
class LedgerCounts:
    """The final accounting (see :meth:`Ledger.summary`)."""

    requested: int
    returned_unsent: int
    sent: int
    processed: int
    retried: int
    deliveries: int
    dlq: int
    in_queue: int
    lost: int
    poison_sent: int
    poison_in_dlq: int
    poison_processed: int
    good_in_dlq: int
    lost_ids: List[str] = field(default_factory=list)
    dlq_item_ids: List[str] = field(default_factory=list)
    poison_item_ids: List[str] = field(default_factory=list)
    #: Messages sent through S3 (their payloads past SQS's limit), and where they ended.
    large_sent: int = 0
    large_processed: int = 0
    large_in_dlq: int = 0
    #: Per poison message (by item id), the seconds between its successive deliveries: the
    #: consumer's retry delays (growing), where the queue alone would give its visibility timeout.
    poison_receive_gaps: Dict[str, List[float]] = field(default_factory=dict)
    #: Slow messages (longer than the visibility timeout to handle), and their deliveries in all.
    slow_sent: int = 0
    slow_deliveries: int = 0
    #: Per tenant (``--tenants``): its messages first delivered, and the mean and longest seconds
    #: from SQS accepting one to its first delivery (the proxy's clock).
    tenant_receive_delays: Dict[str, Dict[str, float]] = field(default_factory=dict)
    #: Item ids of the messages deleted after handling: the jobs whose effect the demo reads back.
    processed_item_ids: List[str] = field(default_factory=list)


class Ledger:
    """Every message of a run, from the wire (thread-safe: the proxy calls :meth:`observe` from its threads).

    Example::

        ledger = Ledger(work_queue_url, dlq_url)
        counter = CallCounter(endpoint, ["producer", "consumer"], observers=[ledger.observe])
    """

    def __init__(
        self, work_queue_url: str, dlq_url: Optional[str] = None, resolve: Optional[Resolver] = None
    ) -> None:
        self.resolve = resolve  # reads large payloads back from S3 (their bodies are pointers)
        self.work_queue = _queue_path(work_queue_url)
        self.dlq = _queue_path(dlq_url) if dlq_url else None
        self.messages: Dict[str, MessageState] = {}
        self.receipts: Dict[str, str] = {}
        self.requested = 0
        self.returned_unsent = 0
        self.duplicate_deliveries = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ facts

    def add_request(self, requested: int, unsent: int) -> None:
        """A producer invocation asked for ``requested`` items and returned ``unsent`` of them unsent."""
        with self._lock:
            self.requested += requested
            self.returned_unsent += unsent

    def observe(self, record: Any) -> None:
        """Take the facts of one proxied call (a :class:`emulator.call_counter.CallRecord`)."""
        if record.service != "sqs" or record.status >= 400 or not isinstance(record.request, dict):
            return
        if _queue_path(record.request.get("QueueUrl", "")) != self.work_queue:
            return
        response = record.response if isinstance(record.response, dict) else {}
        with self._lock:
            if record.operation == "SendMessageBatch":
                bodies = {
                    entry["Id"]: entry.get("MessageBody") for entry in record.request.get("Entries", [])
                }
                for entry in response.get("Successful", []):
                    self._sent(entry["MessageId"], bodies.get(entry["Id"]))
            elif record.operation == "SendMessage" and "MessageId" in response:
                self._sent(response["MessageId"], record.request.get("MessageBody"))
            elif record.operation == "ReceiveMessage":
                for message in response.get("Messages", []):
                    self._delivered(message)
            elif record.operation == "DeleteMessageBatch":
                handles = {entry["Id"]: entry["ReceiptHandle"] for entry in record.request.get("Entries", [])}
                for entry in response.get("Successful", []):
                    self._deleted(handles.get(entry["Id"], ""), record.role)
            elif record.operation == "DeleteMessage":
                self._deleted(record.request.get("ReceiptHandle", ""), record.role)

    def _sent(self, message_id: str, body: Any) -> None:
        item_id, poison = item_of(body, self.resolve)
        state = MessageState(message_id, item_id, poison, large=is_pointer(body), slow=is_slow(body))
        state.tenant, state.sent_at = tenant_of(body), time.monotonic()
        self.messages.setdefault(message_id, state)

    def _delivered(self, message: Dict[str, Any]) -> None:
        state = self.messages.get(message["MessageId"])
        if state is None:  # sent before the ledger started (or by someone else): learn it now
            item_id, poison = item_of(message.get("Body"), self.resolve)
            state = self.messages.setdefault(
                message["MessageId"],
                MessageState(
                    message["MessageId"],
                    item_id,
                    poison,
                    large=is_pointer(message.get("Body")),
                    slow=is_slow(message.get("Body")),
                ),
            )
        state.deliveries += 1
        state.received_at.append(time.monotonic())
        if state.deleted_by is not None:
            self.duplicate_deliveries += 1
        self.receipts[message["ReceiptHandle"]] = message["MessageId"]

    def _deleted(self, receipt_handle: str, role: str) -> None:
        message_id = self.receipts.get(receipt_handle)
        if message_id is not None and self.messages[message_id].deleted_by is None:
            self.messages[message_id].deleted_by = role

    # ------------------------------------------------------------ views

    def retry_deadline(
        self, max_receive_count: int, delay: Callable[[int], float], serial: bool, per_receive: float = 0.0
    ) -> Tuple[int, float]:
        """Failed messages not yet handled, and about when (``time.monotonic()``) the last is handled or
        moved to the DLQ.

        A message delivered ``d`` times comes back ``delay(d)`` seconds after its last delivery, and
        so on up to its ``max_receive_count``-th delivery (the next receive moves it); each of those
        receives adds ``per_receive`` (the event source's batching window). ``serial``
        (FIFO): one message group's failed messages come back one after the other, so the estimate
        adds up their waits rather than taking the longest.
        """
        with self._lock:
            states = [s for s in self.messages.values() if s.deliveries and s.deleted_by is None]
        now = time.monotonic()
        if not states:
            return 0, now
        waits = [
            sum(delay(k) + per_receive for k in range(s.deliveries, max_receive_count + 1)) for s in states
        ]
        if serial:
            return len(states), now + sum(waits)
        return len(states), max(s.received_at[-1] + wait for s, wait in zip(states, waits, strict=True))

    def was_deleted(self, message_id: str) -> bool:
        """Whether the message was deleted after handling (by the function or the event source)."""
        with self._lock:
            state = self.messages.get(message_id)
            return state is not None and state.deleted_by is not None

    def outstanding(self) -> int:
        """Messages sent and not yet deleted (still queued, in flight, or moved to the DLQ)."""
        with self._lock:
            return sum(1 for state in self.messages.values() if state.deleted_by is None)

    def progress(self) -> Dict[str, int]:
        """Counts so far: sent, delivered (distinct), processed, retried."""
        with self._lock:
            states = list(self.messages.values())
        return {
            "sent": len(states),
            "delivered": sum(1 for s in states if s.deliveries),
            "processed": sum(1 for s in states if s.deleted_by is not None),
            "retried": sum(1 for s in states if s.deliveries > 1),
        }

    def summary(
        self,
        dlq_message_ids: Set[str],
        in_queue: int,
        dlq_items: Optional[Dict[str, Any]] = None,
        wire: bool = True,
    ) -> LedgerCounts:
        """The final accounting, given the message ids read from the DLQ and the work queue's remaining count.

        ``dlq_items`` maps a DLQ message id to its body (messages the ledger never saw sent
        are recognised by it). Without ``wire`` (no proxy: sends and the function's own
        deletes were not seen), the sent count is the producer's (requested - returned
        unsent), and a message delivered, not in the DLQ, with the queue empty, counts as
        processed by the function: the only other place it could be is lost.
        """
        with self._lock:
            states = dict(self.messages)
        for message_id in dlq_message_ids:
            if message_id not in states and dlq_items is not None:
                body = dlq_items.get(message_id)
                item_id, is_poison = item_of(body, self.resolve)
                states[message_id] = MessageState(message_id, item_id, is_poison, large=is_pointer(body))
        processed = {m for m, s in states.items() if s.deleted_by is not None}
        in_dlq = {m for m in dlq_message_ids if m in states}
        if not wire and in_queue == 0:
            processed |= {m for m, s in states.items() if s.deliveries and m not in in_dlq}
        unaccounted = sorted(set(states) - processed - in_dlq)
        lost = max(0, len(unaccounted) - in_queue)
        sent = len(states)
        if not wire:
            sent = max(sent, self.requested - self.returned_unsent)
            lost = max(lost, sent - len(processed) - len(in_dlq) - in_queue)
        poison = {m for m, s in states.items() if s.poison}
        large = {m for m, s in states.items() if s.large}
        slow = [s for s in states.values() if s.slow]
        gaps = {
            states[m].item_id or m: [
                round(later - earlier, 1)
                for earlier, later in zip(states[m].received_at, states[m].received_at[1:], strict=False)
            ]
            for m in sorted(poison)
            if len(states[m].received_at) > 1
        }
        return LedgerCounts(
            requested=self.requested,
            returned_unsent=self.returned_unsent,
            sent=sent,
            processed=len(processed),
            retried=sum(1 for s in states.values() if s.deliveries > 1),
            deliveries=sum(s.deliveries for s in states.values()),
            dlq=len(in_dlq),
            in_queue=in_queue,
            lost=lost,
            poison_sent=len(poison),
            poison_in_dlq=len(poison & in_dlq),
            poison_processed=len(poison & processed),
            good_in_dlq=len(in_dlq - poison),
            lost_ids=[states[m].item_id or m for m in unaccounted] if lost else [],
            dlq_item_ids=sorted(states[m].item_id or m for m in in_dlq),
            poison_item_ids=sorted(states[m].item_id or m for m in poison),
            large_sent=len(large),
            large_processed=len(large & processed),
            large_in_dlq=len(large & in_dlq),
            poison_receive_gaps=gaps,
            slow_sent=len(slow),
            slow_deliveries=sum(s.deliveries for s in slow),
            tenant_receive_delays=_tenant_delays(states.values()),
            processed_item_ids=sorted(i for m in processed if (i := states[m].item_id) is not None),
        )


def _tenant_delays(states: Any) -> Dict[str, Dict[str, float]]:
    """Each tenant's messages first delivered, with the mean and longest delay from send to delivery."""
    delays: Dict[str, List[float]] = {}
    for state in states:
        if state.tenant is not None and state.sent_at is not None and state.received_at:
            delays.setdefault(state.tenant, []).append(max(0.0, state.received_at[0] - state.sent_at))
    return {
        tenant: {
            "messages": len(d),
            "mean_seconds": round(sum(d) / len(d), 2),
            "max_seconds": round(max(d), 2),
        }
        for tenant, d in sorted(delays.items())
    }


def _queue_path(url: str) -> str:
    """``/<account>/<name>`` of a queue URL (the host differs between the proxy's ports)."""
    if "://" in url:
        url = url.split("://", 1)[1]
        url = url[url.find("/") :] if "/" in url else ""
    return url.rstrip("/")
