"""The dispatcher benchmark's section of docs/BENCHMARKS.md, from its figures."""

from __future__ import annotations

import argparse
import platform
from typing import Any, Dict, List

SECTION = "## Dispatchers"


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
