"""Partial processing benchmark: lambda_batch against aws-lambda-powertools, in one run.

Two figures, both as ratios measured side by side in this process and its children:

* import cost: CPU time of importing the batch API in a fresh interpreter (bytecode
  cached, best of N, runs interleaved), ``lambda_batch`` against
  ``aws_lambda_powertools.utilities.batch``;
* per-record overhead: CPU time per record of a no-op handler on a 10,000-record batch
  (the measuring thread's CPU time, which both contenders run in: a machine busy with other
  work does not inflate it as it does wall time; best of N, interleaved), each lambda_batch
  row against Powertools' ``BatchProcessor`` on the same event and with the same handler
  (FIFO queue event, or standard queue event for the standard-queue row). Both hand their
  handler a record object (ours: ``SQSRecord``, a dict with attributes; Powertools': its
  ``SQSRecord`` data class); a second pair of rows
  has the handler read three attributes (``message_id``, ``body``,
  ``attributes.approximate_receive_count``).

  Like for like: on the FIFO event our processors keep the FIFO rule and Powertools'
  ``BatchProcessor`` does not, so the ratio to it is the stricter one; the ratio to
  Powertools' ``SqsFifoPartialProcessor`` (the FIFO rule on both) is shown beside it. The
  delete mode (``PartialSQSProcessor``, every record succeeding: no delete call, Lambda
  deletes the batch) has no Powertools v3 counterpart; for the same job Powertools returns
  its partial response and Lambda deletes, which is what its row measures.

A third figure, in a section of its own: the cost per batch of batch metrics
(``metrics_namespace``: one CloudWatch EMF document per batch, written to a file as Lambda's
stdout is), the same 10-record batch with and without them, interleaved.

Run: ``python -m benchmarks.processing`` (``make bench``). The figures are printed and
written to the "Partial processing" and "Batch metrics" sections of docs/BENCHMARKS.md
(``--no-docs`` skips that; ``--metrics-only`` measures and writes batch metrics alone).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

from benchmarks.report import DOC, ROOT, write_section
from devtools.lambda_context import LambdaContext

SECTION = "## Partial processing"
METRICS_SECTION = "## Batch metrics"
COMMAND = "python -m benchmarks.processing"

IMPORT_SNIPPETS = {
    "lambda_batch (package only)": "import lambda_batch",
    "lambda_batch BatchProcessor API": (
        "from lambda_batch import BatchProcessor, EventType, process_partial_response; BatchProcessor"
    ),
    "lambda_batch BatchProcessor API + record classes (loaded by the first batch)": (
        "from lambda_batch import BatchProcessor, EventType, process_partial_response; BatchProcessor; "
        "import lambda_batch.processing.events.sqs"
    ),
    "lambda_batch PartialSQSProcessor API": (
        "from lambda_batch import PartialSQSProcessor, sqs_batch_processor"
    ),
    "Powertools batch API": (
        "from aws_lambda_powertools.utilities.batch import "
        "BatchProcessor, EventType, process_partial_response"
    ),
}

_CHILD = """
import sys, time
c0 = time.process_time(); w0 = time.perf_counter()
{snippet}
c1 = time.process_time(); w1 = time.perf_counter()
print(c1 - c0, w1 - w0, 'boto3' in sys.modules)
"""


def _child_env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layer"), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["POWERTOOLS_DEV"] = "false"
    return env


def measure_import(snippet: str, env: Dict[str, str]) -> Tuple[float, float, bool]:
    """CPU seconds, wall seconds, and whether boto3 got imported, for one fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(snippet=snippet)],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def import_costs(rounds: int) -> Dict[str, Dict[str, Any]]:
    """Best-of-``rounds`` import cost of each snippet, runs interleaved."""
    env = _child_env()
    for snippet in IMPORT_SNIPPETS.values():  # warm-up: writes the bytecode caches
        measure_import(snippet, env)
    samples: Dict[str, List[Tuple[float, float, bool]]] = {name: [] for name in IMPORT_SNIPPETS}
    for _ in range(rounds):
        for name, snippet in IMPORT_SNIPPETS.items():
            samples[name].append(measure_import(snippet, env))
    return {
        name: {
            "cpu_ms": min(s[0] for s in runs) * 1000,
            "wall_ms": min(s[1] for s in runs) * 1000,
            "median_cpu_ms": statistics.median(s[0] for s in runs) * 1000,
            "imports_boto3": any(s[2] for s in runs),
        }
        for name, runs in samples.items()
    }


#: A Lambda context with a day left: the deadline guard is on but never fires (one, made once:
#: the figures measure the processors, not the making of contexts).
CONTEXT: Any = LambdaContext(
    "benchmark", timeout_seconds=24 * 3600, aws_request_id="00000000-0000-0000-0000-000000000000"
)


def sqs_event(count: int, fifo: bool) -> Dict[str, Any]:
    """An SQS event of ``count`` records shaped like Lambda's (FIFO: 10 message groups)."""
    queue = "bench.fifo" if fifo else "bench"
    records = []
    for i in range(count):
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "123456789012",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        }
        if fifo:
            attributes.update(MessageGroupId=f"group-{i % 10}", SequenceNumber=str(10**19 + i))
            attributes["MessageDeduplicationId"] = f"dedupe-{i}"
        records.append(
            {
                "messageId": f"0b0b0b0b-0000-4000-8000-{i:012d}",
                "receiptHandle": f"AQEB{i:08d}receipthandle",
                "body": f'{{"n": {i}}}',
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": "d41d8cd98f00b204e9800998ecf8427e",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def noop(record: Any) -> None:
    return None


def reads_nothing(record: Any) -> Any:
    """The no-op handler, typed as returning a value (the floor keeps its result)."""
    return None


def reads_attributes(record: Any) -> Any:
    """What a handler written for Powertools' data classes typically reads first."""
    return (record.message_id, record.body, record.attributes.approximate_receive_count)


def check_record_objects() -> None:
    """Fail loudly unless both contenders hand the handler their record objects."""
    import aws_lambda_powertools.utilities.batch as pt

    import lambda_batch as lb

    seen: List[str] = []

    def handler(record: Any) -> None:
        seen.append(type(record).__module__ + "." + type(record).__name__)

    event = sqs_event(1, fifo=True)
    lb.process_partial_response(event, handler, lb.BatchProcessor(lb.EventType.SQS), CONTEXT)
    pt.process_partial_response(event, handler, pt.BatchProcessor(pt.EventType.SQS), CONTEXT)
    assert seen == [
        "lambda_batch.processing.events.sqs.SQSRecord",
        "aws_lambda_powertools.utilities.data_classes.sqs_event.SQSRecord",
    ], seen


def per_record_contenders(
    event_fifo: Dict[str, Any], event_std: Dict[str, Any]
) -> Dict[str, Callable[[], Any]]:
    import aws_lambda_powertools.utilities.batch as pt
    from aws_lambda_powertools.utilities.batch.sqs_fifo_partial_processor import SqsFifoPartialProcessor

    import lambda_batch as lb

    ours_fifo = lb.BatchProcessor(lb.EventType.SQS)  # FIFO rule + deadline guard (1 s margin)
    ours_std = lb.BatchProcessor(lb.EventType.SQS)
    ours_delete = lb.PartialSQSProcessor()  # all succeed: no client, no call
    # One processor per row on both sides: a row never frees another row's batch.
    ours_reading = lb.BatchProcessor(lb.EventType.SQS)
    pt_reading = pt.BatchProcessor(pt.EventType.SQS)
    pt_processor = pt.BatchProcessor(pt.EventType.SQS)
    pt_std = pt.BatchProcessor(pt.EventType.SQS)
    pt_fifo = SqsFifoPartialProcessor()

    def run_ours_fifo() -> Any:
        return lb.process_partial_response(event_fifo, noop, ours_fifo, CONTEXT)

    def run_ours_std() -> Any:
        return lb.process_partial_response(event_std, noop, ours_std, CONTEXT)

    def run_ours_delete() -> Any:
        with ours_delete(event_fifo["Records"], noop, lambda_context=CONTEXT) as proc:
            return proc.process()

    def run_pt() -> Any:
        return pt.process_partial_response(event_fifo, noop, pt_processor, CONTEXT)

    def run_pt_std() -> Any:
        return pt.process_partial_response(event_std, noop, pt_std, CONTEXT)

    def run_pt_fifo() -> Any:
        return pt.process_partial_response(event_fifo, noop, pt_fifo, CONTEXT)

    def run_ours_reading() -> Any:
        return lb.process_partial_response(event_fifo, reads_attributes, ours_reading, CONTEXT)

    def run_pt_reading() -> Any:
        return pt.process_partial_response(event_fifo, reads_attributes, pt_reading, CONTEXT)

    from lambda_batch.processing.events.sqs import SQSRecord

    def run_floor() -> Any:
        # What any processor with this contract must do per record, and nothing else: check
        # the ids up front, make the record object (a copy of the record's keys), read the
        # clock for the deadline, call the handler, keep a result.
        records = event_fifo["Records"]
        ids = [record["messageId"] for record in records if record["eventSource"] == "aws:sqs"]
        assert len(ids) == len(records) and "" not in ids and set(map(type, ids)) <= {str}
        results: List[Any] = []
        append = results.append
        clock = time.monotonic
        cutoff = float("inf")
        for record in records:
            handed = SQSRecord(record)
            if clock() >= cutoff:
                continue
            try:
                result = reads_nothing(handed)
            except Exception:
                continue
            append(("success", result, record))
        return results

    return {
        "floor: ids checked, record object, clock read, handler call, result kept": run_floor,
        "lambda_batch BatchProcessor, FIFO + deadline guard": run_ours_fifo,
        "lambda_batch BatchProcessor, standard queue + deadline guard": run_ours_std,
        "lambda_batch PartialSQSProcessor (delete mode), FIFO + deadline guard": run_ours_delete,
        "Powertools BatchProcessor": run_pt,
        "Powertools BatchProcessor, standard queue": run_pt_std,
        "Powertools SqsFifoPartialProcessor": run_pt_fifo,
        "lambda_batch BatchProcessor, FIFO + deadline guard, handler reads 3 attributes": run_ours_reading,
        "Powertools BatchProcessor, handler reads 3 attributes": run_pt_reading,
    }


def per_record_costs(records: int, rounds: int) -> Dict[str, float]:
    """Best-of-``rounds`` microseconds per record of each contender, runs interleaved."""
    check_record_objects()
    event_fifo = sqs_event(records, fifo=True)
    event_std = sqs_event(records, fifo=False)
    contenders = per_record_contenders(event_fifo, event_std)
    for run in contenders.values():  # warm-up, and a check that every record succeeded
        run()
    best = {name: float("inf") for name in contenders}
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            for name, run in contenders.items():
                gc.collect()
                gc.disable()
                start = time.thread_time()
                run()
                elapsed = time.thread_time() - start
                gc.enable()
                best[name] = min(best[name], elapsed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: seconds / records * 1e6 for name, seconds in best.items()}


def metrics_contenders(event: Dict[str, Any], sink: Any) -> Dict[str, Callable[[], Any]]:
    """The same batch through a BatchProcessor without and with ``metrics_namespace``."""
    import lambda_batch as lb

    plain = lb.BatchProcessor(lb.EventType.SQS)
    with_metrics = lb.BatchProcessor(
        lb.EventType.SQS, metrics_namespace="Bench", metrics_dimensions={"Queue": "b"}
    )
    with_metrics._metrics.stream = sink  # a file, as Lambda's stdout is

    def run_plain() -> Any:
        return lb.process_partial_response(event, noop, plain, CONTEXT)

    def run_metrics() -> Any:
        return lb.process_partial_response(event, noop, with_metrics, CONTEXT)

    return {"without metrics": run_plain, "with metrics_namespace": run_metrics}


def metrics_costs(batch: int, rounds: int, repeat: int = 200) -> Dict[str, float]:
    """Best-of-``rounds`` microseconds per ``batch``-record batch, without and with metrics."""
    event = sqs_event(batch, fifo=False)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        contenders = metrics_contenders(event, sink)
        for run in contenders.values():
            run()
        best = {name: float("inf") for name in contenders}
        for _ in range(rounds):
            for name, run in contenders.items():
                gc.collect()
                start = time.thread_time()
                for _ in range(repeat):
                    run()
                best[name] = min(best[name], (time.thread_time() - start) / repeat)
    return {name: seconds * 1e6 for name, seconds in best.items()}


def render_metrics(costs: Dict[str, float], batch: int, rounds: int) -> str:
    plain, with_metrics = costs["without metrics"], costs["with metrics_namespace"]
    return "\n".join(
        [
            METRICS_SECTION,
            "",
            f"Command: `{COMMAND} --metrics-only`; a {batch}-record SQS batch, no-op handler, "
            f"best of {rounds} rounds of 200 batches (CPU time), interleaved; the EMF line goes to a "
            "file, as "
            "Lambda's stdout does.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
            "",
            "| BatchProcessor | µs per batch |",
            "|---|---:|",
            f"| without metrics | {plain:.1f} |",
            f"| with `metrics_namespace` (one EMF document per batch) | {with_metrics:.1f} |",
            f"| cost of the metrics, per batch | {with_metrics - plain:.1f} |",
            "",
            "Off by default: without `metrics_namespace` a processor pays one attribute check per batch.",
            "",
        ]
    )


#: The Powertools row each lambda_batch row is measured against (same event, same handler), and
#: for the rows that keep the FIFO rule, Powertools' processor that keeps it too.
BASELINES: Dict[str, Tuple[str, str | None]] = {
    "lambda_batch BatchProcessor, FIFO + deadline guard": (
        "Powertools BatchProcessor",
        "Powertools SqsFifoPartialProcessor",
    ),
    "lambda_batch BatchProcessor, standard queue + deadline guard": (
        "Powertools BatchProcessor, standard queue",
        None,
    ),
    "lambda_batch PartialSQSProcessor (delete mode), FIFO + deadline guard": (
        "Powertools BatchProcessor",
        "Powertools SqsFifoPartialProcessor",
    ),
    "lambda_batch BatchProcessor, FIFO + deadline guard, handler reads 3 attributes": (
        "Powertools BatchProcessor, handler reads 3 attributes",
        None,
    ),
    "Powertools SqsFifoPartialProcessor": ("Powertools BatchProcessor", None),
    "floor: ids checked, record object, clock read, handler call, result kept": (
        "Powertools BatchProcessor",
        None,
    ),
}


def record_ratios(per_record: Dict[str, float]) -> Dict[str, float]:
    """Each lambda_batch row's ratio to Powertools' BatchProcessor on the same event and handler."""
    return {
        name: per_record[name] / per_record[base]
        for name, (base, _) in BASELINES.items()
        if name.startswith("lambda_batch")
    }


def render(imports: Dict[str, Dict[str, Any]], per_record: Dict[str, float], args: argparse.Namespace) -> str:
    pt_import = imports["Powertools batch API"]["cpu_ms"]
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}` (`make bench`); {args.import_rounds} import rounds and "
        f"{args.rounds} processing rounds of a {args.records:,}-record batch (CPU time of the thread "
        "running them), best of each, "
        "contenders interleaved in one run.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        "absolute times vary between runs and machines, the ratios are the result.",
        "",
        "### Import cost (fresh interpreter, bytecode cached, CPU time)",
        "",
        "| Import | CPU ms | ratio to Powertools | imports boto3 |",
        "|---|---:|---:|---|",
    ]
    for name, row in imports.items():
        lines.append(
            f"| {name} | {row['cpu_ms']:.1f} | {row['cpu_ms'] / pt_import:.3f} "
            f"| {'yes' if row['imports_boto3'] else 'no'} |"
        )
    lines += [
        "",
        "Goal: at most 0.2 of Powertools' batch import.",
        "",
        f"### Per-record overhead (no-op handler, {args.records:,} records)",
        "",
        "| Processor | µs per record | ratio to Powertools BatchProcessor (same event, same handler) "
        "| ratio to Powertools SqsFifoPartialProcessor (FIFO rule on both) |",
        "|---|---:|---:|---:|",
    ]
    for name, micros in per_record.items():
        base, fifo_base = BASELINES.get(name, (name, None))
        fifo = f"{micros / per_record[fifo_base]:.3f}" if fifo_base else "—"
        lines.append(f"| {name} | {micros:.3f} | {micros / per_record[base]:.3f} | {fifo} |")
    lines += [
        "",
        "Goal: every lambda_batch row at most 0.5 of Powertools' BatchProcessor on the same event and "
        "handler. Both processors hand the handler a record object (lambda_batch's `SQSRecord` dict "
        "with attributes, Powertools' `SQSRecord` data class). On the FIFO event lambda_batch keeps the "
        "FIFO rule and Powertools' BatchProcessor does not, so that ratio is the stricter one; the "
        "last column compares with Powertools' FIFO processor. Powertools v3 has no delete mode: for "
        "the same job (every record succeeds, the messages are deleted) it returns its partial response "
        "and Lambda deletes, as its BatchProcessor row measures.",
        "",
        "The floor row is a bare loop over the FIFO event doing only what every lambda_batch row "
        "must do per record (the ids checked before any record runs, a record object made as a copy "
        "of the record's keys, the clock read for the deadline guard, the handler called, a result "
        "kept): no processor with this contract can go below it. Its ratio bounds what any "
        "lambda_batch row can reach.",
        "",
    ]
    return "\n".join(lines)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, default=10_000, help="records per measured batch run (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=15, help="processing rounds (best of)")
    parser.add_argument(
        "--import-rounds", type=int, default=15, help="fresh interpreters per import (best of)"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--metrics-only", action="store_true", help="only the batch metrics figure")
    args = parser.parse_args(argv)

    metrics_section = render_metrics(metrics_costs(10, args.rounds), 10, args.rounds)
    print(metrics_section)
    if not args.no_docs:
        write_section(METRICS_SECTION, metrics_section)
    if args.metrics_only:
        return 0

    imports = import_costs(args.import_rounds)
    per_record = per_record_costs(args.records, args.rounds)
    section = render(imports, per_record, args)
    print(section)

    import_ratio = (
        imports["lambda_batch BatchProcessor API"]["cpu_ms"] / imports["Powertools batch API"]["cpu_ms"]
    )
    ratios = record_ratios(per_record)
    record_ratio = max(ratios.values())
    print(
        f"import ratio {import_ratio:.3f} (goal <= 0.2); per-record ratios "
        + ", ".join(f"{ratio:.3f}" for ratio in ratios.values())
        + " (goal <= 0.5 each)"
    )
    if not args.no_docs:
        write_section(SECTION, section)
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0 if import_ratio <= 0.2 and record_ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
