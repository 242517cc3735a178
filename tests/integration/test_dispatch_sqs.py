"""SQS dispatchers against the moto server: what arrives is read back from the queue."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from lambda_batch import (
    Deadline,
    PayloadError,
    RetryPolicy,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.core.unprocessed import DEADLINE_EXCEEDED, FIFO_GROUP_HALTED
from tests.faults import OK, Fault, FaultInjector, drain_queue, fast_policy, min_calls, queue_arn

pytestmark = pytest.mark.integration


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture()
def queue(sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("jobs"))["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def make(boto3_session, endpoint_url, target, cls=SQSBatchDispatcher, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return cls(
        target, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def bodies(messages):
    return [json.loads(m["Body"]) for m in messages]


def test_every_message_arrives_in_the_fewest_calls(boto3_session, endpoint_url, sqs, queue):
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, queue)
    payloads = [{"job": i} for i in range(23)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [10, 10, 3]
    assert sorted(bodies(drain_queue(sqs, queue)), key=lambda b: b["job"]) == payloads
    stats = dispatcher.stats
    assert (stats.calls, stats.entries_sent, stats.failures, stats.retries) == (3, 23, 0, 0)


@pytest.mark.parametrize("naming", ["name", "url", "arn"])
def test_queue_named_by_name_url_or_arn(boto3_session, endpoint_url, sqs, unique_name, naming):
    name = unique_name("named")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    target = {"name": name, "url": url, "arn": queue_arn(sqs, url)}[naming]
    dispatcher = make(boto3_session, endpoint_url, target)
    dispatcher.submit_payload("hello")
    assert dispatcher.flush_payloads() == []
    assert [m["Body"] for m in drain_queue(sqs, url)] == ['"hello"']  # json.dumps, as boto3-batch-utils


def test_attributes_and_delay_arrive(boto3_session, endpoint_url, sqs, queue):
    dispatcher = make(boto3_session, endpoint_url, queue)
    dispatcher.submit_payload(
        {"a": 1},
        message_id="m-1",
        delay_seconds=0,
        message_attributes={"tenant": "acme", "n": 3, "raw": b"\x00\x01"},
    )
    dispatcher.flush_payloads()
    (message,) = drain_queue(sqs, queue, attributes=True)
    attributes = message["MessageAttributes"]
    assert attributes["tenant"] == {"StringValue": "acme", "DataType": "String"}
    assert attributes["n"] == {"StringValue": "3", "DataType": "Number"}
    assert attributes["raw"]["BinaryValue"] == b"\x00\x01"


def test_mixed_sizes_take_the_lower_bound_of_calls(boto3_session, endpoint_url, sqs, queue):
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, queue, payload_encoding="raw")  # strings as they are
    sizes = [300_000, 10, 10, 700_000, 500_000, 20, 600_000, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 400_000, 1_000_000]
    payloads = ["x" * size for size in sizes]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert injector.call_count == min_calls(sizes, 10, 1024 * 1024) == 5
    received = drain_queue(sqs, queue)
    assert Counter(len(m["Body"]) for m in received) == Counter(sizes)


def test_message_over_the_queue_limit_is_refused_at_submit_and_nothing_else_is_lost(
    boto3_session, endpoint_url, sqs, unique_name
):
    url = sqs.create_queue(QueueName=unique_name("small"), Attributes={"MaximumMessageSize": "2048"})[
        "QueueUrl"
    ]
    dispatcher = make(boto3_session, endpoint_url, url)
    dispatcher.submit_payload("before")
    with pytest.raises(PayloadError, match=r"2048 bytes") as raised:
        dispatcher.submit_payload("y" * 3000)
    assert "MaximumMessageSize" in str(raised.value)
    with pytest.raises(PayloadError, match="JSON"):
        dispatcher.submit_payload({"not": object()})
    dispatcher.submit_payload("after")
    assert dispatcher.flush_payloads() == []
    assert sorted(bodies(drain_queue(sqs, url))) == ["after", "before"]


def test_missing_queue_returns_every_item_without_raising(boto3_session, endpoint_url, unique_name):
    dispatcher = make(boto3_session, endpoint_url, unique_name("absent"))
    payloads = [{"n": i} for i in range(12)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert len(failed) == 12
    assert all(a is b for a, b in zip(failed, payloads, strict=False))
    assert dispatcher.unprocessed_items == failed
    details = dispatcher.unprocessed_details
    assert {d.code for d in details} == {"AWS.SimpleQueueService.NonExistentQueue"}
    assert not any(d.retryable for d in details)


def test_throttled_calls_are_retried_until_delivered(boto3_session, endpoint_url, sqs, queue):
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: Fault("throttle") if call < 2 else OK)
    dispatcher = make(boto3_session, endpoint_url, queue)
    for i in range(5):
        dispatcher.submit_payload({"i": i})
    assert dispatcher.flush_payloads() == []
    assert [c.kind for c in injector.calls] == ["throttle", "throttle", "ok"]
    assert dispatcher.stats.retries == 2
    assert len(drain_queue(sqs, queue)) == 5


def test_partial_failures_retry_the_retryable_and_return_the_rest_at_once(
    boto3_session, endpoint_url, sqs, queue
):
    # First call: entry 1 fails for good, entries 2 and 3 fail retryably. Later calls succeed.
    plan = {0: Fault("partial", {1: False, 2: True, 3: True})}
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, queue)
    payloads = [{"i": i} for i in range(6)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert len(failed) == 1 and failed[0] is payloads[1]
    (detail,) = dispatcher.unprocessed_details
    assert (detail.code, detail.attempts, detail.retryable) == ("InvalidParameterValue", 1, False)
    assert [c.entries for c in injector.calls] == [6, 2]  # the two retryable ones, re-batched together
    assert sorted(b["i"] for b in bodies(drain_queue(sqs, queue))) == [0, 2, 3, 4, 5]


@pytest.mark.parametrize("kind", ["connection", "timeout", "server"])
def test_transient_errors_give_up_after_five_attempts(boto3_session, endpoint_url, sqs, queue, kind):
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: Fault(kind))
    dispatcher = make(boto3_session, endpoint_url, queue)
    payload = {"only": 1}
    dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert failed == [payload] and failed[0] is payload
    assert injector.call_count == 5
    assert dispatcher.unprocessed_details[0].attempts == 5
    assert drain_queue(sqs, queue) == []


def test_access_denied_is_not_retried(boto3_session, endpoint_url, queue):
    injector = FaultInjector(boto3_session, "sqs", lambda call, n: Fault("denied"))
    dispatcher = make(boto3_session, endpoint_url, queue)
    dispatcher.submit_payload("x")
    assert dispatcher.flush_payloads() == ["x"]
    assert injector.call_count == 1
    assert dispatcher.unprocessed_details[0].code == "AccessDenied"


def test_retries_stop_before_the_deadline(boto3_session, endpoint_url, queue):
    FaultInjector(boto3_session, "sqs", lambda call, n: Fault("throttle"))
    policy = RetryPolicy(max_attempts=5, base_delay=0.4, max_delay=0.4, deadline_margin=1.0)
    dispatcher = make(boto3_session, endpoint_url, queue, retry_policy=policy)
    dispatcher.submit_payload("late")
    dispatcher.set_deadline(Deadline.after(1.2))  # 0.2 s beyond the margin: the first call goes
    assert dispatcher.flush_payloads() == ["late"]
    # Stopped by the deadline, not by max_attempts (5): counted, so a busy machine cannot break it.
    (detail,) = dispatcher.unprocessed_details
    assert (detail.code, detail.retryable) == (DEADLINE_EXCEEDED, True) and 1 <= detail.attempts < 5
    assert "deadline" in detail.message and "ThrottlingException" in detail.message


class LambdaContext:
    def __init__(self, millis):
        self.millis = millis

    def get_remaining_time_in_millis(self):
        return self.millis


@pytest.mark.parametrize("given", ["context", "deadline", "set_deadline"])
def test_no_call_starts_within_the_deadline_margin(boto3_session, endpoint_url, sqs, unique_name, given):
    name = unique_name("late")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    calls = []
    boto3_session.events.register("before-call.sqs", lambda model, **_: calls.append(model.name))
    # 0.5 s left, under fast_policy's 1 s margin; the queue is named, so even GetQueueUrl would be a call
    kwargs = {
        "context": {"context": LambdaContext(500)},
        "deadline": {"deadline": 0.5},
        "set_deadline": {},
    }[given]
    dispatcher = make(boto3_session, endpoint_url, name, **kwargs)
    if given == "set_deadline":
        dispatcher.set_deadline(LambdaContext(500))
    payloads = [{"n": i} for i in range(25)]
    for payload in payloads:
        dispatcher.submit_payload(payload)  # two full batches are due while submitting
    returned = dispatcher.flush_payloads()
    assert calls == []  # no call started: nothing to wait for, whatever the machine's load
    assert len(returned) == 25 and all(a is b for a, b in zip(returned, payloads, strict=False))
    details = dispatcher.unprocessed_details
    assert {(d.code, d.retryable, d.attempts) for d in details} == {(DEADLINE_EXCEEDED, True, 0)}
    assert "deadline_margin" in details[0].message
    # nothing was dropped: with time again, the very same items go through
    dispatcher.set_deadline(None)
    for payload in returned:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert sorted(b["n"] for b in bodies(drain_queue(sqs, url))) == list(range(25))
    sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("workers", [1, 3])
def test_the_deadline_arriving_mid_flush_stops_the_later_batches(
    boto3_session, endpoint_url, sqs, queue, workers
):
    holder = {}

    def plan(call, n):
        if call == 1:  # the clock runs out while the second call is on its way
            holder["dispatcher"].set_deadline(Deadline.after(0.0))
        return OK

    injector = FaultInjector(boto3_session, "sqs", plan)
    dispatcher = make(boto3_session, endpoint_url, queue, max_batch_size=5, max_workers=workers)
    holder["dispatcher"] = dispatcher
    payloads = [{"n": i} for i in range(30)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    returned = dispatcher.flush_payloads()
    dispatcher.close()
    delivered = sorted(b["n"] for b in bodies(drain_queue(sqs, queue)))
    assert injector.call_count == len(delivered) // 5 >= 2
    assert len(delivered) + len(returned) == 30
    assert sorted(delivered + [p["n"] for p in returned]) == list(range(30))
    assert all(item is payloads[item["n"]] for item in returned)
    assert {d.code for d in dispatcher.unprocessed_details} == {DEADLINE_EXCEEDED}


def test_context_manager_flushes_on_exit(boto3_session, endpoint_url, sqs, queue):
    with make(boto3_session, endpoint_url, queue) as dispatcher:
        dispatcher.submit_payload("in the block")
    assert dispatcher.unprocessed_items == []
    assert bodies(drain_queue(sqs, queue)) == ["in the block"]


def test_concurrent_sending_delivers_everything(boto3_session, endpoint_url, sqs, queue):
    with make(boto3_session, endpoint_url, queue, max_workers=4) as dispatcher:
        for i in range(95):
            dispatcher.submit_payload({"i": i})
    assert dispatcher.stats.entries_sent == 95
    assert sorted(b["i"] for b in bodies(drain_queue(sqs, queue))) == list(range(95))


@pytest.fixture()
def fifo_queue(sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("orders") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("workers", [1, 4])
def test_fifo_keeps_order_per_group(boto3_session, endpoint_url, sqs, fifo_queue, workers):
    dispatcher = make(
        boto3_session, endpoint_url, fifo_queue, cls=SQSFifoBatchDispatcher, max_workers=workers
    )
    for i in range(60):
        dispatcher.submit_payload({"group": i % 3, "seq": i}, message_group_id=f"g{i % 3}")
    assert dispatcher.flush_payloads() == []
    dispatcher.close()
    received = bodies(drain_queue(sqs, fifo_queue))
    assert len(received) == 60
    for group in range(3):
        seqs = [b["seq"] for b in received if b["group"] == group]
        assert seqs == sorted(seqs) and len(seqs) == 20


def test_fifo_deduplicates_by_body_only_when_asked(boto3_session, endpoint_url, sqs, fifo_queue):
    dispatcher = make(boto3_session, endpoint_url, fifo_queue, cls=SQSFifoBatchDispatcher)
    dispatcher.submit_payload("same", message_group_id="g")
    dispatcher.submit_payload("same", message_group_id="g")
    assert dispatcher.flush_payloads() == []
    assert bodies(drain_queue(sqs, fifo_queue)) == ["same", "same"]  # two messages
    by_content = make(
        boto3_session, endpoint_url, fifo_queue, cls=SQSFifoBatchDispatcher, deduplicate_by_content=True
    )
    by_content.submit_payload("twin", message_group_id="g")
    by_content.submit_payload("twin", message_group_id="g")
    by_content.submit_payload("twin", message_group_id="g", message_deduplication_id="explicit")
    assert by_content.flush_payloads() == []
    assert bodies(drain_queue(sqs, fifo_queue)) == ["twin", "twin"]


def test_fifo_without_a_group_uses_the_documented_default_group(boto3_session, endpoint_url, sqs, fifo_queue):
    """boto3-batch-utils 5.x documents the group 'unset' for a message submitted without one."""
    dispatcher = make(boto3_session, endpoint_url, fifo_queue, cls=SQSFifoBatchDispatcher)
    dispatcher.submit_payload("no group")
    assert dispatcher.flush_payloads() == []
    (message,) = drain_queue(sqs, fifo_queue, attributes=True)
    assert message["Attributes"]["MessageGroupId"] == "unset"
    with pytest.raises(PayloadError, match="message_group_id"):
        dispatcher.submit_payload("bad group", message_group_id="")


def fifo_make(boto3_session, endpoint_url, url, **kwargs):
    return make(boto3_session, endpoint_url, url, cls=SQSFifoBatchDispatcher, **kwargs)


def submit_groups(dispatcher, per_group=6, groups="ab", batch=2):
    """a0 a1 | b0 b1 | a2 a3 | b2 b3 ...: with batches of 2, each call carries one group."""
    payloads = []
    for start in range(0, per_group, batch):
        for group in groups:
            for seq in range(start, start + batch):
                payload = {"group": group, "seq": seq}
                payloads.append(payload)
                dispatcher.submit_payload(payload, message_id=f"{group}-{seq}", message_group_id=group)
    return payloads


def by_group(messages):
    groups = {}
    for body in bodies(messages):
        groups.setdefault(body["group"], []).append(body["seq"])
    return groups


def fail_message(group, seq, retryable):
    def rule(entry):
        body = json.loads(entry["MessageBody"])
        return retryable if (body["group"], body["seq"]) == (group, seq) else None

    return rule


@pytest.mark.parametrize("workers", [1, 4])
def test_fifo_failure_halts_the_rest_of_its_group_only(boto3_session, endpoint_url, sqs, fifo_queue, workers):
    injector = FaultInjector(boto3_session, "sqs", lambda c, n: OK, fail_entries=fail_message("a", 1, False))
    dispatcher = fifo_make(boto3_session, endpoint_url, fifo_queue, max_batch_size=2, max_workers=workers)
    payloads = submit_groups(dispatcher)
    returned = dispatcher.flush_payloads()
    a = [p for p in payloads if p["group"] == "a"]
    assert len(returned) == 5 and all(x is y for x, y in zip(returned, a[1:], strict=False))
    first, *halted = dispatcher.unprocessed_details
    assert (first.code, first.attempts, first.retryable) == ("InvalidParameterValue", 1, False)
    assert {(d.code, d.attempts, d.retryable) for d in halted} == {(FIFO_GROUP_HALTED, 0, True)}
    assert all("a-1" in d.message for d in halted)
    # the halted batches made no call: one for a0 a1, three for group b
    assert sorted(c.entries for c in injector.calls) == [2, 2, 2, 2]
    assert by_group(drain_queue(sqs, fifo_queue)) == {"a": [0], "b": [0, 1, 2, 3, 4, 5]}
    # the next flush opens the group again
    dispatcher.submit_payload({"group": "a", "seq": 6}, message_group_id="a")
    assert dispatcher.flush_payloads() == []
    assert by_group(drain_queue(sqs, fifo_queue)) == {"a": [6]}
    dispatcher.close()


def test_fifo_group_halts_when_retries_run_out(boto3_session, endpoint_url, sqs, fifo_queue):
    injector = FaultInjector(boto3_session, "sqs", lambda c, n: OK, fail_entries=fail_message("a", 1, True))
    dispatcher = fifo_make(boto3_session, endpoint_url, fifo_queue, max_batch_size=2)
    payloads = submit_groups(dispatcher)
    returned = dispatcher.flush_payloads()
    a = [p for p in payloads if p["group"] == "a"]
    assert len(returned) == 5 and all(x is y for x, y in zip(returned, a[1:], strict=False))
    first, *halted = dispatcher.unprocessed_details
    assert (first.record_id, first.code, first.attempts) == ("a-1", "InternalError", 5)
    assert [d.code for d in halted] == [FIFO_GROUP_HALTED] * 4 and all("a-1" in d.message for d in halted)
    assert [c.entries for c in injector.calls] == [2, 1, 1, 1, 1, 2, 2, 2]  # a1 retried alone, then b only
    assert by_group(drain_queue(sqs, fifo_queue)) == {"a": [0], "b": [0, 1, 2, 3, 4, 5]}


def test_fifo_message_overtaken_in_its_call_is_returned_not_resent(
    boto3_session, endpoint_url, sqs, fifo_queue
):
    # SQS refuses a0 (retryably) but accepts a1 in the same call: resending a0 would put it behind a1.
    injector = FaultInjector(boto3_session, "sqs", lambda c, n: OK, fail_entries=fail_message("a", 0, True))
    dispatcher = fifo_make(boto3_session, endpoint_url, fifo_queue, max_batch_size=2)
    payloads = submit_groups(dispatcher, per_group=4)
    returned = dispatcher.flush_payloads()
    a = [p for p in payloads if p["group"] == "a"]
    assert returned == [a[0], a[2], a[3]] and returned[0] is a[0]
    first, *halted = dispatcher.unprocessed_details
    assert (first.code, first.retryable, first.attempts) == ("InternalError", True, 1)
    assert "not retried" in first.message
    assert [d.code for d in halted] == [FIFO_GROUP_HALTED] * 2 and all("a-0" in d.message for d in halted)
    assert injector.call_count == 3  # a0 a1, b0 b1, b2 b3: no resend of a0
    assert by_group(drain_queue(sqs, fifo_queue)) == {"a": [1], "b": [0, 1, 2, 3]}


def test_standard_queue_sends_the_rest_after_a_failure(boto3_session, endpoint_url, sqs, queue):
    FaultInjector(boto3_session, "sqs", lambda c, n: OK, fail_entries=fail_message("a", 1, False))
    dispatcher = make(boto3_session, endpoint_url, queue, max_batch_size=2)
    payloads = [{"group": "a", "seq": i} for i in range(4)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == [payloads[1]]
    assert sorted(by_group(drain_queue(sqs, queue))["a"]) == [0, 2, 3]


def test_queue_attributes_are_read_once_per_process(boto3_session, endpoint_url, sqs, queue):
    # A function that makes its dispatcher on every invocation reads the queue's settings once.
    calls = Counter()
    boto3_session.events.register(
        "before-call.sqs.*", lambda model, **_: calls.update([model.name]), unique_id="count-sqs-calls"
    )
    for invocation in range(3):
        dispatcher = make(boto3_session, endpoint_url, queue)
        dispatcher.submit_payload({"invocation": invocation})
        assert dispatcher.flush_payloads() == []
    assert calls["GetQueueAttributes"] == 1
    assert calls["SendMessageBatch"] == 3
    assert sorted(json.loads(m["Body"])["invocation"] for m in drain_queue(sqs, queue)) == [0, 1, 2]
