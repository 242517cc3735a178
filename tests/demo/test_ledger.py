"""The demo ledger's accounting, fed with call records as the counting proxy makes them: it catches a loss."""

from __future__ import annotations

import json
import time

from demo.ledger import Ledger
from emulator.call_counter import CallRecord

QUEUE = "http://127.0.0.1:1/123456789012/work"


def _record(operation, request, response, role="event-source"):
    return CallRecord(role, "sqs", operation, 200, 0, 0.0, {"QueueUrl": QUEUE, **request}, response)


def _feed(ledger, bodies, deleted):
    entries = [{"Id": str(i), "MessageBody": json.dumps(body)} for i, body in enumerate(bodies)]
    ledger.observe(
        _record(
            "SendMessageBatch",
            {"Entries": entries},
            {"Successful": [{"Id": str(i), "MessageId": f"m{i}"} for i in range(len(bodies))]},
            role="producer",
        )
    )
    ledger.observe(
        _record(
            "ReceiveMessage",
            {},
            {"Messages": [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}"} for i in range(len(bodies))]},
        )
    )
    ledger.observe(
        _record(
            "DeleteMessageBatch",
            {"Entries": [{"Id": str(i), "ReceiptHandle": f"r{i}"} for i in deleted]},
            {"Successful": [{"Id": str(i)} for i in deleted]},
            role="consumer",
        )
    )


def test_ledger_accounts_for_every_message():
    ledger = Ledger(QUEUE)
    ledger.add_request(3, 0)
    _feed(ledger, [{"id": "a"}, {"id": "b", "poison": True}, {"id": "c"}], deleted=[0, 2])
    counts = ledger.summary({"m1"}, in_queue=0)
    assert (counts.sent, counts.processed, counts.dlq, counts.lost) == (3, 2, 1, 0)
    assert counts.dlq_item_ids == counts.poison_item_ids == ["b"]


def test_ledger_reports_a_message_deleted_nowhere_and_absent_from_the_dlq_as_lost():
    ledger = Ledger(QUEUE)
    ledger.add_request(3, 0)
    _feed(ledger, [{"id": "a"}, {"id": "b", "poison": True}, {"id": "c"}], deleted=[0])
    counts = ledger.summary({"m1"}, in_queue=0)
    assert counts.lost == 1 and counts.lost_ids == ["c"]
    # Still on the queue is not lost.
    assert ledger.summary({"m1"}, in_queue=1).lost == 0


def test_ledger_flags_a_poison_message_that_was_deleted_instead_of_dead_lettered():
    ledger = Ledger(QUEUE)
    ledger.add_request(2, 0)
    _feed(ledger, [{"id": "a"}, {"id": "b", "poison": True}], deleted=[0, 1])
    counts = ledger.summary(set(), in_queue=0)
    assert counts.poison_processed == 1 and counts.poison_in_dlq == 0


def test_ledger_ignores_other_queues():
    ledger = Ledger(QUEUE)
    other = CallRecord(
        "producer", "sqs", "SendMessage", 200, 1, 0.0, {"QueueUrl": QUEUE + "-dlq"}, {"MessageId": "x"}
    )
    ledger.observe(other)
    assert ledger.progress()["sent"] == 0


def test_each_tenants_receive_delay_is_in_the_summary():
    """--tenants: messages carrying a tenant (their fair-queue group) are timed from send to first
    delivery, per tenant (counts and order asserted, not durations)."""
    ledger = Ledger(QUEUE)
    ledger.add_request(4, 0)
    bodies = [
        {"id": "n1", "tenant": "noisy"},
        {"id": "n2", "tenant": "noisy"},
        {"id": "q1", "tenant": "quiet-1"},
    ]
    _feed(ledger, [*bodies, {"id": "plain"}], deleted=[0, 1, 2, 3])
    delays = ledger.summary(set(), in_queue=0).tenant_receive_delays
    assert sorted(delays) == ["noisy", "quiet-1"]  # the message without a tenant is in no line
    assert (delays["noisy"]["messages"], delays["quiet-1"]["messages"]) == (2, 1)
    for tenant in delays.values():
        assert 0 <= tenant["mean_seconds"] <= tenant["max_seconds"]


def test_a_tenant_message_never_delivered_has_no_delay():
    ledger = Ledger(QUEUE)
    entries = [{"Id": "0", "MessageBody": json.dumps({"id": "n1", "tenant": "noisy"})}]
    response = {"Successful": [{"Id": "0", "MessageId": "m0"}]}
    ledger.observe(_record("SendMessageBatch", {"Entries": entries}, response, role="producer"))
    assert ledger.summary(set(), in_queue=1).tenant_receive_delays == {}


def test_the_waiting_estimate_adds_each_receive_to_the_retry_delays():
    """A message delivered once comes back after 1, 2 and 4 s, each return needing a receive (its
    batching window): 3 receives still to come; FIFO adds up the group's messages."""
    ledger = Ledger(QUEUE)
    ledger.add_request(2, 0)
    _feed(ledger, [{"id": "a", "poison": True}, {"id": "b", "poison": True}], deleted=[])
    last = max(state.received_at[-1] for state in ledger.messages.values())

    def delay(n):
        return float(2 ** (n - 1))

    assert ledger.retry_deadline(3, delay, False, per_receive=0.5) == (2, last + 8.5)
    assert ledger.retry_deadline(3, delay, False) == (2, last + 7.0)
    before = time.monotonic()
    pending, until = ledger.retry_deadline(3, delay, True, per_receive=0.5)
    after = time.monotonic()
    assert pending == 2 and before + 17.0 <= until <= after + 17.0
