"""KPL aggregation benchmark: what aggregation saves, and what it costs against aws-kinesis-agg.

Measured in one run:

1. Kinesis records, PutRecords calls and PUT payload units (25 KB each, the billing unit) for
   10,000 user records of 100 bytes through ``KinesisBatchDispatcher`` against the moto server,
   with ``aggregate=True`` (per shard, 4 shards) and without, for 100 partition keys and for
   random ones;
2. CPU time per user record (best of 5, ``time.process_time``) to aggregate (encode) and to
   de-aggregate (decode) the same records: this layer's hand-written format code against
   ``aws-kinesis-agg`` (protobuf-generated, protobuf's C implementation when installed); and the
   processor's whole path per user record (de-aggregation, record objects, a handler that does
   nothing, the response) for a Lambda event of aggregated records.

Run: ``python -m benchmarks.kpl_aggregation`` (``make bench``); ``--no-write`` to leave
docs/BENCHMARKS.md alone.
"""

from __future__ import annotations

import argparse
import base64
import math
import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import boto3

from benchmarks.report import publish

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layer"))

from aws_kinesis_agg.aggregator import RecordAggregator  # noqa: E402
from aws_kinesis_agg.deaggregator import deaggregate_records  # noqa: E402

from lambda_batch import BatchProcessor, EventType, KinesisBatchDispatcher, process_partial_response  # noqa: E402
from lambda_batch.payloads.kpl_aggregation import AggregateBuilder, decode_aggregate  # noqa: E402

SECTION = "## KPL aggregation"
REGION = "us-east-1"
USER_RECORDS = 10_000
RECORD_BYTES = 100
MOTO_PUT_RECORDS_BYTES = 5 * 1024 * 1024  # moto's cap per PutRecords call (AWS: 10 MiB)
PAYLOAD_UNIT = 25 * 1024


def session() -> Any:
    return boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)


def user_records(keys: str) -> List[Tuple[str, bytes]]:
    out = []
    for i in range(USER_RECORDS):
        key = f"user-{i % 100}" if keys == "100" else uuid.uuid4().hex
        out.append((key, (f"{i:08d}" + "x" * RECORD_BYTES)[:RECORD_BYTES].encode()))
    return out


def bench_puts(endpoint_url: str) -> List[Tuple[str, str, int, int, int]]:
    rows = []
    for keys in ("100", "random"):
        records = user_records(keys)
        for aggregate in (False, True):
            s = session()
            client = s.client("kinesis", endpoint_url=endpoint_url, region_name=REGION)
            stream = f"bench-{uuid.uuid4().hex[:8]}"
            client.create_stream(StreamName=stream, ShardCount=4)
            sizes: List[int] = []

            calls: List[int] = []

            def count(
                params: Dict[str, Any], sizes: List[int] = sizes, calls: List[int] = calls, **_: Any
            ) -> None:
                sizes.extend(len(r["Data"]) + len(r["PartitionKey"].encode()) for r in params["Records"])
                calls.append(1)

            s.events.register("before-parameter-build.kinesis.PutRecords", count)
            dispatcher = KinesisBatchDispatcher(
                stream,
                aggregate=aggregate,
                boto3_session=s,
                endpoint_url=endpoint_url,
                region_name=REGION,
                max_batch_bytes=MOTO_PUT_RECORDS_BYTES,
            )
            for key, data in records:
                dispatcher.submit_payload(data, partition_key=key)
            assert dispatcher.flush_payloads() == []
            units = sum(math.ceil(size / PAYLOAD_UNIT) for size in sizes)
            rows.append((keys, "aggregate=True" if aggregate else "default", len(sizes), len(calls), units))
            client.delete_stream(StreamName=stream)
    return rows


def best(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def chunks(records: List[Tuple[str, bytes]], per: int) -> List[List[Tuple[str, bytes]]]:
    return [records[i : i + per] for i in range(0, len(records), per)]


def bench_cpu() -> List[Tuple[str, float, float]]:
    records = user_records("100")
    groups = chunks(records, 2_000)  # five aggregates of about 230 KB

    def ours_encode() -> List[bytes]:
        out = []
        for group in groups:
            builder = AggregateBuilder()
            for key, data in group:
                builder.add(key, key.encode(), data, None)
            out.append(builder.encode())
        return out

    def peer_encode() -> List[bytes]:
        out = []
        for group in groups:
            aggregator = RecordAggregator()
            for key, data in group:
                aggregator.add_user_record(key, data)
            out.append(aggregator.clear_and_get().get_contents()[2])
        return out

    blobs = ours_encode()
    assert blobs == peer_encode()  # byte for byte the same aggregates
    event_records: List[Dict[str, Any]] = [
        {
            "eventSource": "aws:kinesis",
            "eventID": f"shardId-000000000000:{n}",
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "user-0",
                "sequenceNumber": f"{n:056d}",
                "approximateArrivalTimestamp": 1.0,
                "data": base64.b64encode(blob).decode(),
            },
        }
        for n, blob in enumerate(blobs)
    ]

    def ours_decode() -> int:
        return sum(len(decode_aggregate(base64.b64decode(r["kinesis"]["data"]))) for r in event_records)

    def peer_decode() -> int:
        return len(deaggregate_records(event_records))

    assert ours_decode() == peer_decode() == USER_RECORDS
    processor = BatchProcessor(EventType.KinesisDataStreams)
    event = {"Records": event_records}

    def ours_process() -> Any:
        return process_partial_response(event, lambda record: None, processor)

    def peer_then_loop() -> Any:
        for record in deaggregate_records(event_records):
            base64.b64decode(record["kinesis"]["data"])
        return None

    per = 1e6 / USER_RECORDS
    return [
        ("aggregate (encode)", best(ours_encode) * per, best(peer_encode) * per),
        ("de-aggregate (decode)", best(ours_decode) * per, best(peer_decode) * per),
        (
            "processor, whole path (ours) / deaggregate_records then base64 of each (peer)",
            best(ours_process) * per,
            best(peer_then_loop) * per,
        ),
    ]


def protobuf_implementation() -> str:
    try:
        from google.protobuf.internal import api_implementation

        return str(api_implementation.Type())
    except Exception:  # pragma: no cover - reporting only
        return "unknown"


def render(puts: List[Tuple[str, str, int, int, int]], cpu: List[Tuple[str, float, float]]) -> str:
    import google.protobuf

    lines = [
        SECTION,
        "",
        "Command: `python -m benchmarks.kpl_aggregation` (`make bench`). "
        f"Python {platform.python_version()}, {platform.machine()}; "
        f"aws-kinesis-agg 1.2.3 on protobuf {google.protobuf.__version__} "
        f"({protobuf_implementation()} implementation); one run, all figures from the same process.",
        "",
        f"### {USER_RECORDS:,} user records of {RECORD_BYTES} bytes, against the moto server (4 shards)",
        "",
        "| Partition keys | Dispatcher | Kinesis records | PutRecords calls | PUT payload units (25 KB) |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {keys} | {mode} | {records:,} | {calls:,} | {units:,} |"
        for keys, mode, records, calls, units in puts
    ]
    by = {(k, m): (r, c, u) for k, m, r, c, u in puts}
    plain, agg = by[("100", "default")], by[("100", "aggregate=True")]
    lines += [
        "",
        f"With 100 keys, aggregation puts **{plain[0] / agg[0]:.0f}x fewer Kinesis records** and makes "
        f"{plain[1] / agg[1]:.0f}x fewer PutRecords calls (moto caps a call at 5 MiB; AWS at 10 MiB and 500 "
        "records). Aggregates are at most 1 MiB (a shard's writes per second), partition keys included; "
        "random keys cost more bytes per user record (each key is in its aggregate's key table).",
        "",
        f"### CPU time per user record ({USER_RECORDS:,} records, 100 keys, aggregates of 2,000)",
        "",
        "| Step | lambda-batch (µs) | aws-kinesis-agg (µs) | aws-kinesis-agg / lambda-batch |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ours:.2f} | {peer:.2f} | {peer / ours:.2f}x |" for name, ours, peer in cpu]
    lines += [
        "",
        "The aggregates are byte for byte the same. Ratios above 1 mean lambda-batch is faster. The "
        "processor's whole path includes validation, the record objects and the partial batch response.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    from emulator import start_moto_server

    print("1/2 Kinesis records and calls against moto ...", flush=True)
    server = start_moto_server()
    try:
        puts = bench_puts(server.endpoint_url)
    finally:
        server.stop()
    print("2/2 CPU per user record ...", flush=True)
    cpu = bench_cpu()
    text = render(puts, cpu)
    publish(SECTION, text, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
