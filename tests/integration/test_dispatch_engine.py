"""The dispatcher engine against the moto server, with faults from botocore event hooks.

One retry loop (no botocore retries under the layer's), a deadline that bounds a call in
flight, an attempt budget per item across splits, a bare HTTP 413 split like any request too
large, and Kinesis order per partition key under partial failure (``ordered=True``).
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import socket
import threading
import time
from collections import Counter, defaultdict

import pytest

from lambda_batch import (
    KinesisBatchDispatcher,
    RetryPolicy,
    SNSBatchDispatcher,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.core.unprocessed import DEADLINE_EXCEEDED, PARTITION_KEY_HALTED
from tests.faults import OK, Fault, FaultInjector, _http, drain_queue, fast_policy, queue_arn, read_stream

pytestmark = pytest.mark.integration


@pytest.fixture()
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture()
def queue(sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("engine"))["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture()
def kinesis(aws_client):
    return aws_client("kinesis")


@pytest.fixture()
def stream(kinesis, unique_name):
    name = unique_name("ordered")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    yield name
    kinesis.delete_stream(StreamName=name)


class _Raw:
    def __init__(self, body: bytes = b"") -> None:
        self._body = body

    def stream(self, **_):
        return iter([self._body] if self._body else [])

    def read(self, *_):
        return self._body


def _response(status: int, body: bytes = b""):
    from botocore.awsrequest import AWSResponse

    return AWSResponse("http://fault-injection/", status, {}, _Raw(body))


# -- defect 3: one retry loop --------------------------------------------------------------------


@pytest.mark.parametrize("how", ["shared", "boto3_session", "config"])
def test_botocore_retries_never_stack_under_the_layers(boto3_session, endpoint_url, queue, how):
    """Every send answered 503: the layer's 5 attempts are 5 HTTP sends, whatever client it made."""
    from botocore.config import Config

    kwargs = {"endpoint_url": endpoint_url, "region_name": "us-east-1", "retry_policy": fast_policy(5)}
    if how == "boto3_session":
        kwargs["boto3_session"] = boto3_session
    elif how == "config":
        kwargs["boto3_session"] = boto3_session
        kwargs["config"] = Config(retries={"max_attempts": 4, "mode": "standard"}, connect_timeout=5)
    dispatcher = SQSBatchDispatcher(queue, **kwargs)
    dispatcher._attributes_read = True  # no GetQueueAttributes: count SendMessageBatch only
    sends = []

    def unavailable(request, **_):
        sends.append(request.url)
        return _response(503)

    events = dispatcher.client.meta.events
    events.register("before-send.sqs.SendMessageBatch", unavailable)
    try:
        dispatcher.submit_payload({"job": 1})
        assert dispatcher.flush_payloads() == [{"job": 1}]
    finally:
        events.unregister("before-send.sqs.SendMessageBatch", unavailable)
    assert len(sends) == 5
    assert dispatcher.unprocessed_details[0].attempts == 5
    if how == "config":
        assert dispatcher.client.meta.config.connect_timeout == 5  # the user's other settings stay


def test_a_given_client_is_logged_once_as_stacking_its_retries(boto3_session, endpoint_url, queue, caplog):
    client = boto3_session.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        for _ in range(3):
            SQSBatchDispatcher(queue, client=client)
    warnings = [r for r in caplog.records if "own botocore retries" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


# -- defect 4: the deadline bounds a call in flight ----------------------------------------------


@pytest.fixture()
def silent_endpoint():
    """A TCP server on loopback that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.realtime
def test_a_hung_endpoint_cannot_hold_the_dispatcher_past_its_deadline(boto3_session, silent_endpoint):
    started = time.monotonic()
    dispatcher = SQSBatchDispatcher(
        f"{silent_endpoint}/123456789012/jobs",
        boto3_session=boto3_session,
        endpoint_url=silent_endpoint,
        region_name="us-east-1",
        deadline=3.0,
    )
    dispatcher.submit_payload({"job": 1})
    dispatcher.submit_payload({"job": 2})
    assert dispatcher.flush_payloads() == [{"job": 1}, {"job": 2}]
    elapsed = time.monotonic() - started
    # A hang would last botocore's 60 s read timeout; the 3 s deadline ends it, and the 7 s beyond
    # it are room for a busy machine's scheduling, not for another attempt.
    assert elapsed < 10.0, f"took {elapsed:.1f}s with a 3 s deadline"
    # Each attempt's read timeout shrinks with the time left. Usually the deadline stops the
    # retries (DeadlineExceeded); on a loaded machine the five attempts can all time out first,
    # and the items then come back with the timeout as their reason. Either way: in time, all back.
    codes = {item.code for item in dispatcher.unprocessed_details}
    assert codes <= {DEADLINE_EXCEEDED, "ReadTimeoutError"}, codes


# -- defect 8: the attempt budget is per item, across splits -------------------------------------


def test_one_bad_record_among_25_is_sent_at_most_the_budget_under_throttling(
    boto3_session, endpoint_url, kinesis, stream
):
    """Every other call is throttled; a call carrying the bad record is refused whole."""
    calls = []
    bad_sends = []

    def look(params, context, **_):
        context["has_bad"] = any(record["PartitionKey"] == "bad" for record in params["Records"])
        calls.append(len(params["Records"]))
        if context["has_bad"]:
            bad_sends.append(len(params["Records"]))

    def fault(context, **_):
        if len(calls) % 2 == 1:
            return _http(400), {
                "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        if context["has_bad"]:
            return _http(400), {
                "Error": {"Code": "ValidationException", "Message": "1 validation error"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    boto3_session.events.register("before-parameter-build.kinesis.PutRecords", look)
    boto3_session.events.register("before-call.kinesis.PutRecords", fault)
    dispatcher = KinesisBatchDispatcher(
        stream,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        retry_policy=fast_policy(5),
    )
    payloads = [{"n": i} for i in range(25)]
    for i, payload in enumerate(payloads):
        dispatcher.submit_payload(payload, partition_key="bad" if i == 12 else f"k{i}")
    returned = dispatcher.flush_payloads()
    assert len(bad_sends) <= 5, f"the bad record was sent {len(bad_sends)} times: {bad_sends}"
    assert {"n": 12} in returned
    assert len(calls) > 2 and len(bad_sends) >= 3  # throttled, refused whole, then split
    arrived = [json.loads(r["Data"]) for r in read_stream(kinesis, stream)]
    assert len(arrived) >= 9  # the parts without the bad record went through
    assert sorted(arrived + returned, key=lambda p: p["n"]) == payloads  # nothing lost, nothing twice
    assert all(item.attempts <= 5 for item in dispatcher.unprocessed_details)


# -- issue 15 point 2: a bare 413 is a call to split --------------------------------------------


def _too_large_above(limit, seen):
    def hook(request, **_):
        size = len(request.body or b"")
        seen.append(size)
        return _response(413) if size > limit else None

    return hook


def test_a_bare_413_splits_an_sqs_batch(boto3_session, endpoint_url, sqs, queue):
    seen = []
    boto3_session.events.register("before-send.sqs.SendMessageBatch", _too_large_above(2500, seen))
    dispatcher = SQSBatchDispatcher(
        queue, boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=fast_policy()
    )
    payloads = [{"n": i, "pad": "x" * 300} for i in range(10)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    assert dispatcher.flush_payloads() == []
    assert max(seen) > 2500 and dispatcher.stats.splits >= 1
    arrived = sorted((json.loads(m["Body"]) for m in drain_queue(sqs, queue)), key=lambda p: p["n"])
    assert arrived == payloads


def test_a_bare_413_splits_an_sns_batch(boto3_session, endpoint_url, aws_client, unique_name):
    """SNS speaks XML: an empty 413 body is still read as a request too large, and split."""
    sns, sqs = aws_client("sns"), aws_client("sqs")
    arn = sns.create_topic(Name=unique_name("big"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique_name("big-sub"))["QueueUrl"]
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"}
    )
    seen = []
    boto3_session.events.register("before-send.sns.PublishBatch", _too_large_above(3000, seen))
    dispatcher = SNSBatchDispatcher(
        arn, boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=fast_policy()
    )
    for i in range(10):
        dispatcher.submit_payload({"n": i, "pad": "y" * 300})
    assert dispatcher.flush_payloads() == []
    assert max(seen) > 3000
    assert sorted(json.loads(m["Body"])["n"] for m in drain_queue(sqs, url)) == list(range(10))
    sqs.delete_queue(QueueUrl=url)


# -- issue 15 point 4: a FIFO message's own deduplication id ------------------------------------


def test_identical_payloads_to_a_fifo_queue_both_arrive(boto3_session, endpoint_url, sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("twins") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dispatcher = SQSFifoBatchDispatcher(
        url, boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=fast_policy()
    )
    dispatcher.submit_payload({"order": 7}, message_group_id="g")
    dispatcher.submit_payload({"order": 7}, message_group_id="g")
    assert dispatcher.flush_payloads() == []
    assert [json.loads(m["Body"]) for m in drain_queue(sqs, url)] == [{"order": 7}, {"order": 7}]
    sqs.delete_queue(QueueUrl=url)


def test_a_fifo_message_keeps_its_deduplication_id_across_retries(
    boto3_session, endpoint_url, sqs, unique_name
):
    url = sqs.create_queue(QueueName=unique_name("retry") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    sent = []
    boto3_session.events.register(
        "before-parameter-build.sqs.SendMessageBatch",
        lambda params, **_: sent.extend(e["MessageDeduplicationId"] for e in params["Entries"]),
    )
    FaultInjector(
        boto3_session, "sqs", lambda call, n: OK, fail_entries=lambda e: True if len(sent) <= 2 else None
    )
    dispatcher = SQSFifoBatchDispatcher(
        url, boto3_session=boto3_session, endpoint_url=endpoint_url, retry_policy=fast_policy()
    )
    dispatcher.submit_payload({"order": 1}, message_group_id="a")
    dispatcher.submit_payload({"order": 1}, message_group_id="b")
    assert dispatcher.flush_payloads() == []
    assert len(sent) == 4 and sent[:2] == sent[2:] and sent[0] != sent[1]
    assert len(drain_queue(sqs, url)) == 2
    sqs.delete_queue(QueueUrl=url)


def test_content_deduplication_when_asked_or_done_by_the_queue(boto3_session, endpoint_url, sqs, unique_name):
    plain = sqs.create_queue(QueueName=unique_name("hash") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    by_queue = sqs.create_queue(
        QueueName=unique_name("cbd") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sent = []
    boto3_session.events.register(
        "before-parameter-build.sqs.SendMessageBatch", lambda params, **_: sent.append(params["Entries"])
    )
    asked = SQSFifoBatchDispatcher(
        plain, boto3_session=boto3_session, endpoint_url=endpoint_url, deduplicate_by_content=True
    )
    queue_does_it = SQSFifoBatchDispatcher(by_queue, boto3_session=boto3_session, endpoint_url=endpoint_url)
    for dispatcher in (asked, queue_does_it):
        dispatcher.submit_payload({"order": 7}, message_group_id="g")
        dispatcher.submit_payload({"order": 7}, message_group_id="g")
        assert dispatcher.flush_payloads() == []
    assert len({e["MessageDeduplicationId"] for e in sent[0]}) == 1
    assert all("MessageDeduplicationId" not in e for e in sent[1])
    assert len(drain_queue(sqs, plain)) == 1 and len(drain_queue(sqs, by_queue)) == 1
    for url in (plain, by_queue):
        sqs.delete_queue(QueueUrl=url)


# -- issue 15 point 1: Kinesis order per partition key under partial failure --------------------


def _inversions(records):
    by_key = defaultdict(list)
    for record in records:
        by_key[record["PartitionKey"]].append(json.loads(record["Data"])["n"])
    return sum(sum(1 for a, b in itertools.pairwise(ns) if b < a) for ns in by_key.values())


def _put_with_partial_failures(boto3_session, endpoint_url, stream, ordered, seed, max_workers=1):
    rng = random.Random(seed)
    injector = FaultInjector(  # 5 % of calls answered 500, 30 % of records failed in the others
        boto3_session,
        "kinesis",
        lambda call, n: Fault("server") if rng.random() < 0.05 else OK,
        fail_entries=lambda e: True if rng.random() < 0.3 else None,
    )
    dispatcher = KinesisBatchDispatcher(
        stream,
        partition_key_identifier="key",
        ordered=ordered,
        max_workers=max_workers,
        boto3_session=boto3_session,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        retry_policy=RetryPolicy(max_attempts=8, base_delay=0.0, max_delay=0.0),
    )
    payloads = [{"key": f"k{i % 12}", "n": i} for i in range(600)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    returned = dispatcher.flush_payloads()
    return dispatcher, injector, payloads, returned


@pytest.mark.parametrize("max_workers", [1, 4])
def test_ordered_mode_keeps_each_partition_keys_order_under_partial_failure(
    boto3_session, endpoint_url, kinesis, stream, max_workers
):
    dispatcher, injector, payloads, returned = _put_with_partial_failures(
        boto3_session, endpoint_url, stream, True, seed=15, max_workers=max_workers
    )
    records = read_stream(kinesis, stream)
    assert _inversions(records) == 0
    arrived = [json.loads(r["Data"]) for r in records]
    assert sorted(arrived + returned, key=lambda p: p["n"]) == payloads  # stored + returned = submitted
    # A record handed back halts its key: nothing later of that key was put after it.
    for item in dispatcher.unprocessed_details:
        later = [p for p in arrived if p["key"] == item.item["key"] and p["n"] > item.item["n"]]
        assert later == [], item
    assert all(
        item.code == PARTITION_KEY_HALTED for item in dispatcher.unprocessed_details if item.attempts == 0
    )
    counts = Counter(c.entries for c in injector.calls)
    assert max(counts) <= 12  # never two records of one key in a call


def test_unordered_mode_can_invert_a_key_under_partial_failure(boto3_session, endpoint_url, kinesis, stream):
    """The same workload without ordered=True: the fault really inverts (the test above can fail)."""
    _put_with_partial_failures(boto3_session, endpoint_url, stream, False, seed=15)
    assert _inversions(read_stream(kinesis, stream)) > 0


def test_sns_fifo_messages_get_their_own_deduplication_ids(
    boto3_session, endpoint_url, aws_client, unique_name
):
    sns = aws_client("sns")
    arn = sns.create_topic(Name=unique_name("twins") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    sent = []
    boto3_session.events.register(
        "before-parameter-build.sns.PublishBatch",
        lambda params, **_: sent.append(
            [e["MessageDeduplicationId"] for e in params["PublishBatchRequestEntries"]]
        ),
    )
    for by_content in (False, True):
        dispatcher = SNSBatchDispatcher(
            arn, boto3_session=boto3_session, endpoint_url=endpoint_url, deduplicate_by_content=by_content
        )
        dispatcher.submit_payload({"order": 7}, message_group_id="g")
        dispatcher.submit_payload({"order": 7}, message_group_id="g")
        assert dispatcher.flush_payloads() == []
    assert len(set(sent[0])) == 2 and len(set(sent[1])) == 1
