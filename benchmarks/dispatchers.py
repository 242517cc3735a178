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
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

from botocore.config import Config

from benchmarks.dispatchers_moto import bench_moto
from benchmarks.dispatchers_render import SECTION, render
from benchmarks.harness import QUEUE_URL, REGION, StubNetwork, session, stub_response, timed
from benchmarks.report import publish

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layer"))

from lambda_batch import (  # noqa: E402
    DynamoBatchDispatcher,
    FirehoseBatchDispatcher,
    KinesisBatchDispatcher,
    SQSBatchDispatcher,
)
from lambda_batch.core.limits import SERVICE_LIMITS  # noqa: E402


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
            # strings as they are: each body is exactly its size
            dispatcher: Any = SQSBatchDispatcher(
                QUEUE_URL, boto3_session=s, region_name=REGION, payload_encoding="raw"
            )
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
        return stub_response(), {"FailedRecordCount": failed, "Records": records}

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
