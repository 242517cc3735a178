"""Dispatcher benchmark: against a naive one-call-per-record loop and boto3's Table.batch_writer.

Measured in one run, as ratios (the machine's speed cancels out):

1. submit cost with the network stubbed: per-record cost at batch 500 against batch 10
   (goal: within 1.2 times, i.e. no work that grows with the batch);
2. API calls per 10,000 items of mixed sizes, against the lower bound for order-keeping
   packing (computed independently by dynamic programming) and the alternatives;
3. wall time against the moto server on loopback;
4. wall time with a simulated 20 ms round trip per call, serial against 8 concurrent senders
   (goal: at least 5 times faster);
5. Kinesis calls in ordered mode (``ordered=True``: a key never has a record in a call while an
   earlier record of it is unresolved) against the default, with and without 30 % of records
   failing retryably in each call, for keys from random to 10 hot ones.

Run: ``python -m benchmarks.dispatchers`` (``make bench``); ``--quick`` for a smaller run,
``--no-write`` to leave docs/BENCHMARKS.md alone.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from benchmarks.report import publish

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layer"))

from lambda_batch import (  # noqa: E402
    DynamoBatchDispatcher,
    FirehoseBatchDispatcher,
    KinesisBatchDispatcher,
    SQSBatchDispatcher,
)
from lambda_batch.limits import SERVICE_LIMITS  # noqa: E402

SECTION = "## Dispatchers"
REGION = "us-east-1"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/bench"

OPERATIONS = {
    "sqs": ("sqs", "SendMessageBatch", "Entries"),
    "kinesis": ("kinesis", "PutRecords", "Records"),
    "firehose": ("firehose", "PutRecordBatch", "Records"),
    "dynamodb": ("dynamodb", "BatchWriteItem", "RequestItems"),
}


def _stub_response() -> Any:
    """The HTTP response the stub network gives with every parsed answer (status 200, no headers)."""
    no_headers: Any = {}
    return AWSResponse("http://stub/", 200, no_headers, None)


def session() -> Any:
    return boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)


class StubNetwork:
    """Answers the batch calls of one service on a session with success, after ``latency`` seconds."""

    def __init__(self, s: Any, service: str, latency: float = 0.0) -> None:
        self.service = service
        self.latency = latency
        self.calls = 0
        self._lock = threading.Lock()
        service_id, operation, _ = OPERATIONS[service]
        s.events.register(f"before-parameter-build.{service_id}.{operation}", self._capture)
        s.events.register(f"before-call.{service_id}.{operation}", self._answer)
        s.events.register("before-call.sqs.GetQueueAttributes", self._queue)
        s.events.register("before-call.dynamodb.DescribeTable", self._table)
        s.events.register("before-call.dynamodb.PutItem", self._single)
        s.events.register("before-call.kinesis.PutRecord", self._single)
        s.events.register("before-call.sqs.SendMessage", self._single)

    def _capture(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        key = OPERATIONS[self.service][2]
        entries = params[key]
        if isinstance(entries, dict):
            ((_, entries),) = entries.items()
        context["bench_entries"] = entries

    def _answer(self, context: Dict[str, Any], **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        entries = context["bench_entries"]
        if self.service == "sqs":
            parsed: Dict[str, Any] = {"Successful": [{"Id": e["Id"], "MessageId": "m"} for e in entries]}
        elif self.service == "kinesis":
            parsed = {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in entries],
            }
        elif self.service == "firehose":
            parsed = {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"} for _ in entries]}
        else:
            parsed = {"UnprocessedItems": {}}
        return _stub_response(), parsed

    def _single(self, **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        return _stub_response(), {
            "MessageId": "m",
            "SequenceNumber": "1",
            "ShardId": "s",
        }

    def _table(self, **_: Any) -> Any:
        """The bench tables' key: ``pk``, a string (read once by the DynamoDB dispatcher)."""
        return _stub_response(), {
            "Table": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            }
        }

    def _queue(self, **_: Any) -> Any:
        return _stub_response(), {"Attributes": {"MaximumMessageSize": "1048576"}}


def min_calls(sizes: List[int], max_entries: int, max_bytes: int) -> int:
    """The fewest order-keeping calls under both caps (dynamic programming, independent of next-fit)."""
    n = len(sizes)
    best = [0] + [n + 1] * n
    for end in range(1, n + 1):
        total = 0
        for start in range(end - 1, max(-1, end - 1 - max_entries), -1):
            total += sizes[start]
            if total > max_bytes:
                break
            candidate = best[start] + 1
            if candidate < best[end]:
                best[end] = candidate
    return best[n]


def mixed_sizes(
    count: int, small: Tuple[int, int], large: Tuple[int, int], share: float, seed: int
) -> List[int]:
    rng = random.Random(seed)
    return [rng.randint(*large) if rng.random() < share else rng.randint(*small) for _ in range(count)]


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- 1. submit cost, network stubbed ----------------------------------------------------------


def bench_submit(records: int) -> Dict[str, float]:
    s = session()
    StubNetwork(s, "kinesis")
    payloads = [{"user": f"u{i % 100}", "n": i, "page": "/products/" + "x" * 60} for i in range(records)]
    results: Dict[str, float] = {}
    for batch in (10, 500):
        best = math.inf
        for _ in range(3):
            dispatcher = KinesisBatchDispatcher(
                "bench",
                partition_key_identifier="user",
                max_batch_size=batch,
                boto3_session=s,
                region_name=REGION,
            )
            dispatcher.client  # noqa: B018 - the client is made outside the timing

            def run(d: Any = dispatcher) -> None:
                for payload in payloads:
                    d.submit_payload(payload)
                d.flush_payloads()

            best = min(best, timed(run))
        results[f"batch {batch}"] = best / records * 1e6
    # the same records one PutRecord call each (network stubbed too)
    client = s.client("kinesis", region_name=REGION)
    results["naive put_record"] = (
        timed(
            lambda: [
                client.put_record(StreamName="bench", Data=b"x" * 80, PartitionKey="k")
                for _ in range(records // 10)
            ]
        )
        / (records // 10)
        * 1e6
    )
    return results


# -- 2. calls per 10,000 mixed-size items ------------------------------------------------------


def bench_calls(count: int) -> List[Tuple[str, int, int, int, str]]:
    rows: List[Tuple[str, int, int, int, str]] = []
    cases = [
        ("sqs", mixed_sizes(count, (100, 4_000), (100_000, 600_000), 0.05, 1)),
        ("kinesis", mixed_sizes(count, (100, 4_000), (200_000, 1_000_000), 0.05, 2)),
        ("firehose", mixed_sizes(count, (100, 4_000), (200_000, 1_000_000), 0.05, 3)),
    ]
    for service, sizes in cases:
        s = session()
        network = StubNetwork(s, service)
        limits = SERVICE_LIMITS[service]
        if service == "sqs":
            dispatcher: Any = SQSBatchDispatcher(QUEUE_URL, boto3_session=s, region_name=REGION)
            measured = sizes
            for size in sizes:
                dispatcher.submit_payload("x" * size)
        elif service == "kinesis":
            dispatcher = KinesisBatchDispatcher("bench", boto3_session=s, region_name=REGION)
            measured = [size + 1 for size in sizes]
            for size in sizes:
                dispatcher.submit_payload(b"x" * size, partition_key="k")
        else:
            dispatcher = FirehoseBatchDispatcher("bench", boto3_session=s, region_name=REGION)
            measured = sizes
            for size in sizes:
                dispatcher.submit_payload(b"x" * size)
        dispatcher.flush_payloads()
        bound = min_calls(measured, limits.max_entries, limits.max_batch_bytes)
        rows.append((f"{service} ({limits.operation})", network.calls, bound, count, "-"))

    # DynamoDB: the dispatcher against boto3's Table.batch_writer, items of 100 B to 300 KB
    sizes = mixed_sizes(count, (100, 4_000), (50_000, 300_000), 0.05, 4)
    s = session()
    network = StubNetwork(s, "dynamodb")
    dispatcher = DynamoBatchDispatcher("bench", partition_key="pk", boto3_session=s, region_name=REGION)
    for i, size in enumerate(sizes):
        dispatcher.submit_payload({"pk": f"k{i}", "blob": "x" * size})
    dispatcher.flush_payloads()
    ours = network.calls
    s = session()
    network = StubNetwork(s, "dynamodb")
    with s.resource("dynamodb", region_name=REGION).Table("bench").batch_writer() as writer:
        for i, size in enumerate(sizes):
            writer.put_item(Item={"pk": f"k{i}", "blob": "x" * size})
    measured = [2 + len(f"k{i}") + 4 + size for i, size in enumerate(sizes)]
    bound = min_calls(measured, 25, SERVICE_LIMITS["dynamodb"].max_batch_bytes)
    rows.append(("dynamodb (BatchWriteItem)", ours, bound, count, str(network.calls)))
    return rows


# -- 3. wall time against the moto server -------------------------------------------------------


def bench_moto(count: int) -> List[Tuple[str, float, float, str]]:
    from emulator import start_moto_server

    server = start_moto_server()
    rows: List[Tuple[str, float, float, str]] = []
    try:
        s = session()
        endpoint = server.endpoint_url
        client_kwargs: Dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION}

        dynamodb = s.client("dynamodb", **client_kwargs)
        tables = []
        for _ in range(3):
            name = f"bench-{uuid.uuid4().hex[:8]}"
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            tables.append(name)
        items = [{"pk": f"k{i}", "n": i, "body": "x" * 200} for i in range(count)]

        # Clients and resources are made before the clock starts, for every contender.
        ours_d = DynamoBatchDispatcher(tables[0], partition_key="pk", boto3_session=s, **client_kwargs)
        ours_d.client  # noqa: B018
        naive_table = s.resource("dynamodb", **client_kwargs).Table(tables[1])
        writer_table = s.resource("dynamodb", **client_kwargs).Table(tables[2])

        def ours_dynamo() -> None:
            with ours_d:
                for item in items:
                    ours_d.submit_payload(item)

        def naive_dynamo() -> None:
            for item in items:
                naive_table.put_item(Item=item)

        def writer_dynamo() -> None:
            with writer_table.batch_writer() as writer:
                for item in items:
                    writer.put_item(Item=item)

        ours = timed(ours_dynamo)
        naive = timed(naive_dynamo)
        writer = timed(writer_dynamo)
        rows.append((f"DynamoDB, {count} items", ours, naive, f"{writer / ours:.2f}x"))

        kinesis = s.client("kinesis", **client_kwargs)
        streams = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for name in streams:
            kinesis.create_stream(StreamName=name, ShardCount=2)
        records = [{"user": f"u{i % 50}", "n": i, "body": "x" * 200} for i in range(count)]

        ours_k = KinesisBatchDispatcher(
            streams[0],
            partition_key_identifier="user",
            boto3_session=s,
            max_batch_bytes=5 * 1024 * 1024,
            **client_kwargs,
        )
        ours_k.client  # noqa: B018

        def ours_kinesis() -> None:
            with ours_k:
                for record in records:
                    ours_k.submit_payload(record)

        def naive_kinesis() -> None:
            import json

            for record in records:
                kinesis.put_record(
                    StreamName=streams[1], Data=json.dumps(record).encode(), PartitionKey=record["user"]
                )

        ours = timed(ours_kinesis)
        naive = timed(naive_kinesis)
        rows.append((f"Kinesis, {count} records", ours, naive, "-"))

        sqs = s.client("sqs", **client_kwargs)
        sqs_count = min(count, 300)  # moto's SQS slows with queue depth: keep it shallow
        urls = [sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"] for _ in range(2)]
        messages = [{"n": i, "body": "x" * 200} for i in range(sqs_count)]

        ours_q = SQSBatchDispatcher(urls[0], boto3_session=s, **client_kwargs)
        ours_q.client  # noqa: B018

        def ours_sqs() -> None:
            with ours_q:
                for message in messages:
                    ours_q.submit_payload(message)

        def naive_sqs() -> None:
            import json

            for message in messages:
                sqs.send_message(QueueUrl=urls[1], MessageBody=json.dumps(message))

        ours = timed(ours_sqs)
        naive = timed(naive_sqs)
        rows.append((f"SQS, {sqs_count} messages", ours, naive, "-"))
    finally:
        server.stop()
    return rows


# -- 4. simulated 20 ms round trip: serial against concurrent -----------------------------------


def bench_latency(
    count: int, latency: float = 0.020, workers: int = 8
) -> List[Tuple[str, int, float, float]]:
    rows: List[Tuple[str, int, float, float]] = []
    for service in ("sqs", "dynamodb"):
        results = []
        calls = 0
        for max_workers in (1, workers):
            s = session()
            network = StubNetwork(s, service, latency=latency)
            config = Config(retries={"total_max_attempts": 1}, max_pool_connections=max(10, workers))
            if service == "sqs":
                dispatcher: Any = SQSBatchDispatcher(
                    QUEUE_URL, boto3_session=s, region_name=REGION, max_workers=max_workers, config=config
                )
            else:
                dispatcher = DynamoBatchDispatcher(
                    "bench",
                    partition_key="pk",
                    boto3_session=s,
                    region_name=REGION,
                    max_workers=max_workers,
                    config=config,
                )
            dispatcher.client  # noqa: B018 - made outside the timing

            def run(d: Any = dispatcher) -> None:
                for i in range(count):
                    d.submit_payload({"pk": f"k{i}", "n": i})
                d.flush_payloads()
                d.close()

            results.append(timed(run))
            calls = network.calls
        rows.append((service, calls, results[0], results[1]))
    return rows


# -- report -------------------------------------------------------------------------------------


# -- 5. Kinesis ordered mode: calls against the default ---------------------------------------


def _kinesis_calls(keys: int, ordered: bool, failure_rate: float, count: int, seed: int) -> Tuple[int, int]:
    """(calls, records handed back) for ``count`` records over ``keys`` keys (0: random keys)."""
    from lambda_batch import RetryPolicy

    rng = random.Random(seed)
    s = session()
    calls = [0]

    def capture(params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        context["bench_entries"] = params["Records"]

    def answer(context: Dict[str, Any], **_: Any) -> Any:
        calls[0] += 1
        records = [
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}
            if rng.random() < failure_rate
            else {"SequenceNumber": "1", "ShardId": "s"}
            for _ in context["bench_entries"]
        ]
        failed = sum(1 for record in records if "ErrorCode" in record)
        return _stub_response(), {"FailedRecordCount": failed, "Records": records}

    s.events.register("before-parameter-build.kinesis.PutRecords", capture)
    s.events.register("before-call.kinesis.PutRecords", answer)
    dispatcher = KinesisBatchDispatcher(
        "bench",
        boto3_session=s,
        region_name=REGION,
        ordered=ordered,
        retry_policy=RetryPolicy(max_attempts=10, base_delay=0.0, max_delay=0.0),
    )
    for _ in range(count):
        key = f"k{rng.randrange(keys)}" if keys else None
        dispatcher.submit_payload(b"x" * 100, partition_key=key)
    return calls[0], len(dispatcher.flush_payloads())


def bench_ordered(count: int) -> List[Tuple[str, float, int, int, int, int]]:
    rows = []
    for keys, label in ((0, "random (the default)"), (1000, "1,000"), (100, "100"), (10, "10")):
        for failure_rate in (0.0, 0.3):
            plain, _ = _kinesis_calls(keys, False, failure_rate, count, seed=keys + 1)
            ordered, back = _kinesis_calls(keys, True, failure_rate, count, seed=keys + 1)
            rows.append((label, failure_rate, plain, ordered, back, count))
    return rows


def render(
    args: argparse.Namespace,
    submit: Dict[str, float],
    calls: List[Any],
    moto: List[Any],
    latency: List[Any],
    ordered: List[Any],
) -> str:
    ratio = submit["batch 500"] / submit["batch 10"]
    lines = [
        SECTION,
        "",
        f"Command: `python -m benchmarks.dispatchers{' --quick' if args.quick else ''}` (`make bench`). "
        f"Python {platform.python_version()}, {platform.machine()}; "
        "one run, all figures from the same process.",
        "",
        "### Submit cost, network stubbed (Kinesis, PutRecords answered in place)",
        "",
        f"{args.submit_records:,} records of ~100 bytes, submit + flush, best of 3.",
        "",
        "| Case | µs per record |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.1f} |" for name, value in submit.items()]
    lines += [
        "",
        f"Per-record cost at batch 500 / batch 10: **{ratio:.2f}** "
        "(goal: ≤ 1.2; no work grows with the batch). "
        f"A naive PutRecord per record costs {submit['naive put_record'] / submit['batch 500']:.0f}x "
        "more per record.",
        "",
        f"### API calls for {args.calls_items:,} items of mixed sizes (5% large)",
        "",
        "| Service | Dispatcher calls | Lower bound (order kept) | Naive (one call per item) "
        "| Table.batch_writer |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {ours:,} | {bound:,} | {naive:,} | {writer} |"
        for name, ours, bound, naive, writer in calls
    ]
    at_bound = all(ours == bound for _, ours, bound, _, _ in calls)
    lines += [
        "",
        f"Dispatcher calls equal the lower bound: **{'yes' if at_bound else 'no'}**.",
        "",
        "### Wall time against the moto server on loopback",
        "",
        "| Workload | Dispatcher (s) | Naive loop (s) | Naive / dispatcher "
        "| Table.batch_writer / dispatcher |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {ours:.2f} | {naive:.2f} | {naive / ours:.1f}x | {writer} |"
        for name, ours, naive, writer in moto
    ]
    lines += [
        "",
        "Ratios above 1 mean the dispatcher is faster. moto runs in this process and answers every call"
        " without network delay, so these ratios mostly show the cost per call saved; moto's SQS spends"
        " time proportional to queue depth on each message, which compresses the SQS ratio.",
        "",
        "### Simulated 20 ms round trip per call: serial against 8 concurrent senders",
        "",
        f"{args.latency_items:,} items; each batch call sleeps 20 ms, then is answered in place.",
        "",
        "| Service | Calls | Serial (s) | 8 workers (s) | Speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {n} | {serial:.2f} | {conc:.2f} | **{serial / conc:.1f}x** |"
        for name, n, serial, conc in latency
    ]
    lines += ["", "Goal: ≥ 5x with 8 concurrent senders.", ""]
    lines += [
        "### Kinesis order per partition key: `ordered=True` against the default",
        "",
        f"{args.ordered_items:,} records of 100 bytes, PutRecords answered in place; with 30% failing, each"
        " call fails each record with that chance (retryable, up to 10 attempts, no backoff).",
        "",
        "| Partition keys | Records failing per call | Calls, default | Calls, ordered | Ordered / default "
        "| Handed back, ordered |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {rate:.0%} | {plain:,} | {ordered_calls:,} | {ordered_calls / plain:.1f}x | {back:,} |"
        for label, rate, plain, ordered_calls, back, _ in ordered
    ]
    lines += [
        "",
        "Ordered mode sends at most one unresolved record per key in a call, so a hot key costs a call"
        " per record: the cost grows with records per key, not with the stream. Records of other keys"
        " fill each call. A record handed back halts its key until the next flush (code"
        ' `PartitionKeyHalted`), which is what "handed back" counts beyond the record itself.',
        "",
    ]
    return "\n".join(lines)


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    args.submit_records = 5_000 if args.quick else 20_000
    args.calls_items = 2_000 if args.quick else 10_000
    args.moto_items = 500 if args.quick else 2_000
    args.latency_items = 1_000 if args.quick else 2_000
    args.ordered_items = 1_000 if args.quick else 5_000

    print("1/5 submit cost ...", flush=True)
    submit = bench_submit(args.submit_records)
    print("2/5 calls per mixed-size items ...", flush=True)
    calls = bench_calls(args.calls_items)
    print("3/5 wall time against moto ...", flush=True)
    moto = bench_moto(args.moto_items)
    print("4/5 simulated 20 ms round trip ...", flush=True)
    latency = bench_latency(args.latency_items)
    print("5/5 Kinesis ordered mode ...", flush=True)
    ordered = bench_ordered(args.ordered_items)
    text = render(args, submit, calls, moto, latency, ordered)
    publish(SECTION, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
