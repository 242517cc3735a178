"""Warm reuse: no thread outlives the work that needed it, with or without ``close()``.

A function that makes a dispatcher per invocation and never closes it must not collect idle
threads over warm invocations, whether or not the cyclic garbage collector runs: the loops
below run with ``gc.disable()``. The moto server runs in this process, and its connection
threads come and go with the clients' pooled connections: they are not counted.
"""

from __future__ import annotations

import gc
import threading
from typing import Iterator, List, Set

import pytest

from lambda_batch import (
    BatchProcessor,
    EventType,
    KinesisBatchDispatcher,
    SQSBatchDispatcher,
    process_partial_response,
)
from tests.processing_events import sqs_record

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

INVOCATIONS = 45


def live_threads() -> Set[threading.Thread]:
    """The live threads of this process but the in-process moto server's connection handlers."""
    return {
        thread
        for thread in threading.enumerate()
        if "process_request" not in thread.name and not thread.name.startswith("moto")
    }


def started_since(before: Set[threading.Thread]) -> List[str]:
    """The names of the threads alive now that were not alive at ``before`` (a thread of an earlier
    test that ends meanwhile changes nothing here)."""
    return sorted(thread.name for thread in live_threads() - before)


@pytest.fixture()
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off: a leak cannot hide behind a collection."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_a_dispatcher_never_closed_leaves_no_thread_after_its_flush(
    boto3_session, endpoint_url, aws_client, unique_name, no_gc
):
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("warm-threads"))["QueueUrl"]
    try:
        before = live_threads()
        start_count = threading.active_count()
        leftovers, counts = [], []
        for invocation in range(INVOCATIONS):
            dispatcher = SQSBatchDispatcher(
                url, max_batch_size=2, max_workers=4, boto3_session=boto3_session, endpoint_url=endpoint_url
            )
            for n in range(8):  # four calls, sent by up to four threads at once (few messages: moto's
                # SQS slows with queue depth)
                dispatcher.submit_payload({"invocation": invocation, "n": n})
            assert dispatcher.flush_payloads() == []
            assert dispatcher.stats.calls >= 4
            leftovers.append(started_since(before))
            counts.append(threading.active_count())
            # never closed: the next invocation makes another one (the old one is unreachable
            # only through reference cycles the disabled collector does not break)
        assert leftovers == [[]] * INVOCATIONS
        # threading.active_count() stays flat: a leak would add 4 threads per invocation (180 in
        # all); the margin of 8 is for the in-process moto server's connection threads, up to one
        # per call in flight, which may still be ending when the flush returns
        assert max(counts) <= start_count + 8, counts
    finally:
        sqs.delete_queue(QueueUrl=url)


def test_a_kinesis_dispatcher_in_ordered_mode_leaves_no_thread_either(
    boto3_session, endpoint_url, aws_client, unique_name, no_gc
):
    kinesis = aws_client("kinesis")
    stream = unique_name("warm-threads")
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    try:
        before = live_threads()
        for invocation in range(INVOCATIONS):
            dispatcher = KinesisBatchDispatcher(
                stream,
                partition_key_identifier="k",
                max_batch_size=5,
                max_workers=4,
                boto3_session=boto3_session,
                endpoint_url=endpoint_url,
            )
            for n in range(20):
                dispatcher.submit_payload({"k": f"key-{n % 3}", "n": n, "invocation": invocation})
            assert dispatcher.flush_payloads() == []
            assert started_since(before) == [], invocation
    finally:
        kinesis.delete_stream(StreamName=stream)


def test_threaded_processors_leave_no_thread_over_warm_invocations(no_gc):
    before = live_threads()
    processor = BatchProcessor(EventType.SQS, max_concurrency=4, raise_on_entire_batch_failure=False)
    # the visibility heartbeat runs a thread of its own while the batch runs (its first extension
    # is due long after these records are done: no SQS call)
    heartbeat = BatchProcessor(
        EventType.SQS, max_concurrency=4, extend_visibility=True, visibility_timeout=600
    )
    for invocation in range(INVOCATIONS):
        # processors kept warm, and one made per invocation
        fresh = BatchProcessor(EventType.SQS, max_concurrency=4)
        for proc in (processor, heartbeat, fresh):
            response = process_partial_response(
                {"Records": [sqs_record(n) for n in range(8)]}, lambda record: None, proc
            )
            assert response == {"batchItemFailures": []}
        assert started_since(before) == [], invocation
