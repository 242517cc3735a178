"""Dispatcher behaviour with the network answered in place (no emulator needed).

Each service's request shape is still built and validated by botocore; only the HTTP round
trip is replaced by an answer (tests.faults.CannedNetwork / FaultInjector).
"""

from __future__ import annotations

import datetime
import decimal
import random
import threading
import time

import pytest

import lambda_batch.dispatchers.serialization as serialization
from lambda_batch import (
    ConfigurationError,
    Deadline,
    DynamoBatchDispatcher,
    EventBridgeBatchDispatcher,
    KinesisBatchDispatcher,
    PayloadError,
    SQSBatchDispatcher,
)
from tests.faults import CannedNetwork, Fault, FaultInjector, fast_policy


def kinesis(session, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return KinesisBatchDispatcher("stream", boto3_session=session, region_name="us-east-1", **kwargs)


def test_each_item_is_serialised_once(boto3_session, monkeypatch):
    calls = []
    original = serialization._default
    monkeypatch.setattr(serialization, "_default", lambda value: calls.append(1) or original(value))
    CannedNetwork(boto3_session, "kinesis")
    FaultInjector  # noqa: B018 - retries below re-send without re-serialising
    dispatcher = kinesis(boto3_session, max_batch_size=7)
    for i in range(100):
        dispatcher.submit_payload({"n": decimal.Decimal(i)})
    dispatcher.flush_payloads()
    assert len(calls) == 100


def test_a_retry_does_not_serialise_again(boto3_session, monkeypatch):
    calls = []
    original = serialization._default
    monkeypatch.setattr(serialization, "_default", lambda value: calls.append(1) or original(value))
    injector = FaultInjector(
        boto3_session, "kinesis", lambda call, n: Fault("throttle") if call < 3 else Fault()
    )
    CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session)
    dispatcher.submit_payload({"n": decimal.Decimal(1)})
    assert dispatcher.flush_payloads() == []
    assert injector.call_count == 4 and len(calls) == 1


def test_a_full_batch_is_sent_at_once(boto3_session):
    network = CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session, max_batch_size=5)
    for i in range(12):
        dispatcher.submit_payload({"n": i})
    assert network.batches == [5, 5]  # sent while submitting; at most one batch is held
    dispatcher.flush_payloads()
    assert network.batches == [5, 5, 2]


def test_sizes_are_measured_as_the_service_measures_them(boto3_session):
    network = CannedNetwork(boto3_session, "sqs")
    sqs = SQSBatchDispatcher(
        "jobs",
        boto3_session=boto3_session,
        region_name="us-east-1",
        max_batch_bytes=100,
        payload_encoding="raw",
    )
    # strings as they are (payload_encoding="raw"): body 40 + attribute "k" (1) + "String" (6)
    # + "v" (1) = 48 bytes; two fit in 100, three do not.
    for _ in range(3):
        sqs.submit_payload("b" * 40, message_attributes={"k": "v"})
    sqs.submit_payload("é" * 50)  # 100 UTF-8 bytes: a batch of its own
    with pytest.raises(PayloadError, match="max_batch_bytes setting"):
        sqs.submit_payload("é" * 51)
    sqs.flush_payloads()
    assert network.batches == [2, 1, 1]


def test_eventbridge_entries_use_the_putevents_formula(boto3_session):
    network = CannedNetwork(boto3_session, "events")
    events = EventBridgeBatchDispatcher(
        "bus",
        source="src",
        detail_type="type",
        boto3_session=boto3_session,
        region_name="us-east-1",
        max_batch_bytes=100,
    )
    at = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    # 3 + 4 + len('{"k":"xxxxxxxxxxxxxxxxxxx"}') (27) + 14 (Time) + 2 ("r1") = 50: two per call.
    for _ in range(3):
        events.submit_payload({"k": "x" * 19}, time=at, resources=["r1"])
    events.flush_payloads()
    assert network.batches == [2, 1]


def test_kinesis_counts_the_partition_key(boto3_session):
    network = CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session, max_batch_bytes=20)
    for _ in range(3):
        dispatcher.submit_payload(b"12345678", partition_key="ab")  # 10 bytes each
    dispatcher.flush_payloads()
    assert network.batches == [2, 1]


def test_submitting_from_many_threads_loses_and_duplicates_nothing(boto3_session):
    network = CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session, max_batch_size=50)

    def produce(worker):
        for i in range(400):
            dispatcher.submit_payload(f"{worker}:{i}".encode(), partition_key=str(worker))

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dispatcher.flush_payloads() == []
    sent = [record["Data"] for record in network.sent]
    assert len(sent) == len(set(sent)) == 3200
    assert max(network.batches) <= 50
    assert dispatcher.stats.entries_sent == 3200


def test_concurrent_sending_is_bounded_and_keeps_order_per_key(boto3_session):
    active = []
    peak = []
    lock = threading.Lock()

    def slow(**_):
        with lock:
            active.append(1)
            peak.append(len(active))
        time.sleep(random.uniform(0.001, 0.01))
        with lock:
            active.pop()

    boto3_session.events.register("before-call.kinesis.PutRecords", slow)  # runs before the canned answer
    network = CannedNetwork(boto3_session, "kinesis")
    with kinesis(boto3_session, max_batch_size=10, max_workers=4) as dispatcher:
        for i in range(600):
            # batches of 10 with one key each: batches of different keys may overlap
            dispatcher.submit_payload(f"{i}".encode(), partition_key=f"k{(i // 10) % 7}")
    assert max(peak) <= 4 and max(peak) > 1
    total = 0
    for key in range(7):
        seq = [int(r["Data"]) for r in network.sent if r["PartitionKey"] == f"k{key}"]
        assert seq == sorted(seq)
        total += len(seq)
    assert total == 600


def test_batches_sharing_a_key_never_overlap(boto3_session):
    active = []
    overlaps = []
    lock = threading.Lock()

    def slow(**_):
        with lock:
            active.append(1)
            overlaps.append(len(active))
        time.sleep(0.002)
        with lock:
            active.pop()

    boto3_session.events.register("before-call.kinesis.PutRecords", slow)
    network = CannedNetwork(boto3_session, "kinesis")
    with kinesis(boto3_session, max_batch_size=10, max_workers=4) as dispatcher:
        for i in range(200):
            dispatcher.submit_payload(f"{i}".encode(), partition_key=f"k{i % 7}")  # every batch has every key
    assert max(overlaps) == 1
    assert [int(r["Data"]) for r in network.sent] == list(range(200))


def test_dynamodb_dedupes_in_a_batch_without_touching_the_caller(boto3_session):
    network = CannedNetwork(boto3_session, "dynamodb", key_schema={"pk": "S", "sk": "N"})
    table = DynamoBatchDispatcher(
        "t", partition_key="pk", sort_key="sk", boto3_session=boto3_session, region_name="us-east-1"
    )
    first = {"pk": "a", "sk": 1, "v": 1.25}
    table.submit_payload(first)
    table.submit_payload({"pk": "a", "sk": 2, "v": 0})
    table.submit_payload({"pk": "a", "sk": 1.0, "v": 2})  # same key: 1 == 1.0 as a DynamoDB number
    table.submit_delete({"pk": "a", "sk": 2})
    assert table.flush_payloads() == []
    assert first == {"pk": "a", "sk": 1, "v": 1.25}
    assert network.batches == [2]
    assert [r.get("PutRequest", r.get("DeleteRequest")) for r in network.sent] == [
        {"Item": {"pk": {"S": "a"}, "sk": {"N": "1.0"}, "v": {"N": "2"}}},
        {"Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}},
    ]
    assert table.stats.superseded == 2


def test_deadline_can_be_set_per_invocation():
    class Context:
        def get_remaining_time_in_millis(self):
            return 5000

    dispatcher = SQSBatchDispatcher("jobs", context=Context())
    assert 4.0 < dispatcher.deadline.remaining() <= 5.0
    dispatcher.set_deadline(Deadline.after(1.0))
    assert dispatcher.deadline.remaining() <= 1.0
    dispatcher.set_deadline(None)
    assert dispatcher.deadline.remaining() == float("inf")


@pytest.mark.parametrize("workers", [1, 4])
def test_nothing_is_sent_once_the_deadline_is_within_the_margin(boto3_session, workers):
    network = CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session, max_batch_size=10, max_workers=workers, deadline=0.9)  # margin 1 s
    payloads = [{"n": i} for i in range(35)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    returned = dispatcher.flush_payloads()
    assert network.batches == []
    assert len(returned) == 35 and all(a is b for a, b in zip(returned, payloads, strict=False))
    assert {(d.code, d.attempts) for d in dispatcher.unprocessed_details} == {("DeadlineExceeded", 0)}
    assert dispatcher.stats.failures == 35 and dispatcher.stats.calls == 0
    dispatcher.close()


def test_close_after_a_flush_keeps_what_the_flush_returned(boto3_session):
    # Batches that fail at once finish just as the flush returns: close must not flush again.
    FaultInjector(boto3_session, "kinesis", lambda call, n: Fault("denied"))
    client = boto3_session.client("kinesis", region_name="us-east-1")
    for _ in range(200):  # a race, so many runs
        dispatcher = kinesis(boto3_session, client=client, max_batch_size=1, max_workers=3)
        for i in range(6):
            dispatcher.submit_payload(b"x", partition_key=str(i))
        returned = dispatcher.flush_payloads()
        dispatcher.close()
        assert len(returned) == 6
        assert dispatcher.unprocessed_items == returned


def test_closed_dispatcher_refuses_more(boto3_session):
    CannedNetwork(boto3_session, "kinesis")
    dispatcher = kinesis(boto3_session)
    dispatcher.close()
    with pytest.raises(ConfigurationError, match="closed"):
        dispatcher.submit_payload("late")


def test_errors_never_carry_the_body(boto3_session, caplog):
    FaultInjector(boto3_session, "kinesis", lambda call, n: Fault("denied"))
    dispatcher = kinesis(boto3_session)
    dispatcher.submit_payload({"secret": "hunter2"}, partition_key="user-7")
    with caplog.at_level("INFO", logger="lambda_batch"):
        dispatcher.flush_payloads()
    assert "hunter2" not in caplog.text
    assert "record #1" in caplog.text and "AccessDenied" in caplog.text
    assert "user-7" not in caplog.text  # keys only with log_exception_messages=True
