"""The command line of `make demo`: options, progress while it runs, and the final summary.

Example:
    ```bash
    python -m demo --messages 1000 --poison-rate 0.05
    python -m demo --fifo --messages 200
    python -m demo --endpoint-url http://localhost:4566      # LocalStack, stack deployed there
    python -m demo --json > summary.json
    ```

Exit status: 0 when every message is accounted for (lost 0, the DLQ holds exactly the
poison messages, nothing left on the queue) and each handled message's effect happened once
(effects duplicated 0, though some messages were delivered twice); 1 otherwise; 2 for a bad
option or set-up.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from demo.pipeline import CallCounts, DemoError, DemoOptions, DemoResult, run_demo


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=(
            "The whole system end to end: the producer fills the work queue in batches, the consumer "
            "takes Lambda-shaped batches, failures retry and land in the DLQ, and every message is "
            "accounted for. Without --endpoint-url everything runs on a moto server on loopback."
        ),
    )
    parser.add_argument("--messages", "-n", type=int, default=500, help="messages to send (default 500)")
    parser.add_argument(
        "--poison-rate",
        type=float,
        default=0.05,
        help="share of messages that fail every time (default 0.05)",
    )
    parser.add_argument("--fifo", action="store_true", help="use the FIFO work queue (WorkFifoQueue)")
    parser.add_argument(
        "--endpoint-url",
        help="an endpoint serving every AWS service, where the stack is deployed (LocalStack: "
        "http://localhost:4566); default: an embedded moto server on loopback",
    )
    parser.add_argument("--region", default="us-east-1", help="the stack's region (default: %(default)s)")
    parser.add_argument(
        "--stack-name",
        default="lambda-batch",
        help="the deployed stack to use (default lambda-batch; on the emulator, "
        "a new stack named after it and the run)",
    )
    parser.add_argument(
        "--wave-size",
        type=int,
        default=50,
        help="messages per producer invocation; the next wave goes out when the queue holds fewer "
        "(default 50: moto's SQS slows with queue depth, see docs/BENCHMARKS.md)",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        help="work queue visibility timeout for the run, seconds (default 2: retries in seconds, not the "
        "template's minutes); on a stack deployed beforehand the queue's own value is restored at the end",
    )
    parser.add_argument("--message-groups", type=int, default=10, help="FIFO message groups (default 10)")
    parser.add_argument(
        "--large-messages",
        type=int,
        default=3,
        help="messages padded past SQS's 1 MiB, sent through the payload bucket (default 3)",
    )
    parser.add_argument(
        "--slow-records",
        type=int,
        default=1,
        help="messages the consumer works on longer than the visibility timeout (default 1): its "
        "visibility heartbeat keeps them from being delivered twice",
    )
    parser.add_argument(
        "--work-seconds", type=float, default=5.0, help="how long each slow record takes (default 5)"
    )
    parser.add_argument(
        "--tenants",
        type=int,
        default=0,
        help="tenants of the standard queue's messages (default 0: none): one noisy tenant sends "
        "most of each wave, the others one message each; each is a fair-queue message group",
    )
    parser.add_argument(
        "--duplicates",
        type=int,
        default=5,
        help="messages the event source hands a second time after their batch, as SQS may deliver a "
        "message twice (default 5); the consumer's idempotency must not run their effect again",
    )
    parser.add_argument(
        "--concurrent-batches",
        type=int,
        default=1,
        help="batches (the first ones) handed to two pollers at once, as when a visibility timeout "
        "lapses (default 1; the second poller is another execution environment of the consumer)",
    )
    parser.add_argument(
        "--targets",
        help="producer targets, comma-separated (default: the sample event's: sqs,dynamodb,cloudwatch)",
    )
    parser.add_argument("--build-dir", type=Path, help="sam build output folder (default .aws-sam/build)")
    parser.add_argument("--skip-build", action="store_true", help="reuse the existing sam build output")
    parser.add_argument(
        "--max-seconds", type=float, default=900.0, help="give up after this long (default 900)"
    )
    parser.add_argument(
        "--no-count", action="store_true", help="no counting proxy (calls counted in the functions)"
    )
    parser.add_argument("--run-id", help="prefix of this run's item ids (default: demo<time>)")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON (progress goes to stderr)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress, only the summary")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="log every failed batch (ids and reason)"
    )
    return parser.parse_args(argv)


def _progress_printer(quiet: bool, stream: Any) -> Any:
    def show(stage: str, data: Dict[str, Any]) -> None:
        if quiet:
            return
        if stage == "emulator":
            line = f"emulator   moto server on {data['endpoint']}"
        elif stage == "build":
            built = f"sam build -> {data['build_dir']}" if data["built"] else f"reusing {data['build_dir']}"
            if data["deployed"]:
                line = f"build      {built}, then template.yaml deployed as {data['stack_name']}"
            else:
                line = f"build      {built}; using the stack {data['stack_name']} already deployed there"
        elif stage == "stack":
            visibility = f"{data['visibility_timeout']} s"
            if data["visibility_restored_after"]:
                visibility += (
                    f" (the queue's: {data['queue_visibility_timeout']} s; shortened for the run, "
                    "restored after it)"
                )
            elif data["visibility_timeout"] != data["template_visibility_timeout"]:
                visibility += f" (template: {data['template_visibility_timeout']} s; shortened for the run)"
            line = (
                f"stack      {data['queue']}: batch size {data['batch_size']}, batching window "
                f"{data['maximum_batching_window']} s, maxReceiveCount {data['max_receive_count']}, "
                f"visibility timeout {visibility}, consumer timeout {data['consumer_timeout']} s"
            )
        elif stage == "wave":
            line = (
                f"producer   wave {data['wave']}/{data['waves']}: sent {data['sent']}, "
                f"returned unsent {data['unsent']}"
            )
        elif stage == "waiting":
            delays = ", ".join(f"{d:g}" for d in data["delays"])
            until = time.strftime("%H:%M:%S", time.localtime(data["until"]))
            line = (
                f"waiting    for {data['pending']} failed message(s): each comes back after the consumer's "
                f"retry delay ({delays} s after deliveries 1 to {data['max_receive_count']}), then is "
                f"handled or moved to the DLQ; all by about {until} (with the batching window of "
                "each receive)"
                + (" (FIFO: a group's failed messages one after the other)" if data["fifo"] else "")
            )
        elif stage == "progress":
            line = (
                f"progress   {data['elapsed']:6.1f} s  sent {data['sent']:>6}  "
                f"processed {data['processed']:>6}  retried {data['retried']:>5}  "
                f"failed batches {data['failed_batches']:>4}  on the queue {data['queue']:>5}"
            )
        elif stage == "restore":
            if data["error"] is None:
                line = f"restored   {data['queue_url']}: visibility timeout {data['visibility_timeout']} s"
            else:
                line = (
                    f"NOT restored: {data['queue_url']} keeps the run's visibility timeout; set it back to "
                    f"{data['visibility_timeout']} s yourself ({data['error']})"
                )
                print(line, file=sys.stderr, flush=True)
                return
        elif stage == "timeout":
            line = f"timeout    stopped after {data['max_seconds']:.0f} s (--max-seconds)"
        else:
            line = f"{stage}: {data}"
        print(line, file=stream, flush=True)

    return show


def _calls_line(name: str, calls: CallCounts) -> str:
    if calls.one_per_message:
        ratio = f"{calls.one_per_message / calls.calls:.1f}x fewer" if calls.calls else "-"
    else:
        ratio = "-"
    return (
        f"  {name:<22}{calls.calls:>8} calls   one call per message: {calls.one_per_message:>8}   ({ratio})"
    )


def _retry_delay_line(c: Any) -> str:
    """The seconds between a poison message's deliveries: the consumer's growing retry delays."""
    if not c.poison_receive_gaps:
        return "  retry delays          (no poison message delivered twice)"
    item, gaps = min(c.poison_receive_gaps.items(), key=lambda pair: (pair[1][:1], pair[0]))
    return (
        f"  retry delays          poison {item} came back after {', '.join(f'{g:.1f}' for g in gaps)} s "
        f"({len(c.poison_receive_gaps)} poison messages delivered more than once)"
    )


def _tenant_lines(c: Any) -> List[str]:
    """Each tenant's receive delay (``--tenants``): from SQS accepting a message to its first delivery."""
    return [
        f"  tenant {tenant:<15}{d['messages']:>8}   receive delay: mean {d['mean_seconds']:.2f} s, "
        f"longest {d['max_seconds']:.2f} s"
        for tenant, d in c.tenant_receive_delays.items()
    ]


def _batch_metrics_lines(result: DemoResult) -> List[str]:
    m = result.batch_metrics
    if not result.batch_documents:
        return ["  batch metrics         (no EMF document from the consumer)"]
    return [
        f"  batch metrics         {result.batch_documents} EMF documents: succeeded "
        f"{m.get('RecordsSucceeded', 0):.0f}, failed {m.get('RecordsFailed', 0):.0f}, skipped "
        f"{m.get('RecordsSkipped', 0):.0f}; delete calls {m.get('DeleteCalls', 0):.0f}, visibility calls "
        f"{m.get('VisibilityCalls', 0):.0f}; {m.get('BatchDuration', 0) / 1000:.1f} s in batches"
    ]


def _duplicate_lines(result: DemoResult) -> List[str]:
    """The duplicate deliveries injected, and the effects read back: each job counted once."""
    d, e = result.duplicates, result.effects
    batches = f"{d.concurrent_batches} batch{'es' if d.concurrent_batches != 1 else ''}"
    return [
        f"  duplicates delivered  {d.delivered:>8}   ({d.redelivered} messages handed twice, "
        f"{d.concurrent_records} records in {batches} given to two pollers at once)",
        f"  effects duplicated    {e.duplicated:>8}   (jobs counted in the results table: {e.once} once, "
        f"{e.missing} never, of {e.checked} handled messages)",
    ]


def format_summary(result: DemoResult) -> str:
    c = result.counts
    t = result.times
    lines = [
        "",
        "summary"
        + (
            ""
            if result.counted_on_wire
            else "   (no proxy: processed is inferred, calls counted in the functions)"
        ),
        f"  requested             {c.requested:>8}",
        f"  sent                  {c.sent:>8}   (returned unsent by the producer: {c.returned_unsent})",
        f"  processed             {c.processed:>8}",
        f"  retried               {c.retried:>8}   ({c.deliveries} deliveries in all)",
        f"  in the DLQ            {c.dlq:>8}   (poison sent: {c.poison_sent}; "
        f"poison in the DLQ: {c.poison_in_dlq}; good in the DLQ: {c.good_in_dlq})",
        f"  through S3            {c.large_sent:>8}   (large messages: {c.large_processed} processed, "
        f"{c.large_in_dlq} in the DLQ)",
        f"  still in flight       {c.in_queue:>8}",
        f"  lost                  {c.lost:>8}",
        _retry_delay_line(c),
        f"  slow records          {c.slow_sent:>8}   (longer to handle than the visibility timeout; "
        + (
            "kept invisible while handled: each delivered once)"
            if c.slow_deliveries == c.slow_sent
            else f"delivered {c.slow_deliveries} times in all)"
        ),
        *_tenant_lines(c),
        *_duplicate_lines(result),
        *_batch_metrics_lines(result),
        "api calls",
        _calls_line("producer", result.producer_calls),
        _calls_line("consumer function", result.consumer_calls),
        f"  record handler        {result.effect_calls:>8} calls   (its effect: one UpdateItem per job "
        "counted, left out above)",
        _calls_line("event source (Lambda)", result.event_source_calls),
        f"  invocations: producer {result.invocations['producer']}, "
        f"consumer {result.invocations['consumer']} "
        f"({result.invocations['consumer_errors']} ended in an error: the batches with poison), "
        f"second poller {result.invocations.get('second_poller', 0)}",
        "time",
        f"  total {t.total:.1f} s = emulator start {t.emulator_start:.1f} + build {t.build:.1f} "
        f"+ deploy {t.deploy:.1f} "
        f"+ produce {t.produce:.1f} + consume {t.consume:.1f} + read DLQ {t.drain_dlq:.1f}",
        f"  consume: receive {t.receive:.1f} s, consumer invocations {t.consumer_invoke:.1f} s, "
        f"event source deletes {t.delete:.1f} s",
        "  answering the calls, the endpoint took: "
        f"producer's {result.producer_calls.endpoint_seconds:.1f} s, "
        f"consumer's {result.consumer_calls.endpoint_seconds:.1f} s, event source's "
        f"{result.event_source_calls.endpoint_seconds:.1f} s",
        "",
        "OK: every message is accounted for"
        if result.ok
        else "NOT OK: see lost / in flight / DLQ / effects duplicated above"
        + (" (stopped by --max-seconds)" if result.timed_out else ""),
    ]
    if c.lost_ids:
        lines.append(f"  lost items (first 20): {', '.join(c.lost_ids[:20])}")
    if result.effects.duplicated_ids:
        lines.append(f"  jobs handled twice (first 20): {', '.join(result.effects.duplicated_ids[:20])}")
    if result.effects.missing_ids:
        lines.append(f"  jobs never counted (first 20): {', '.join(result.effects.missing_ids[:20])}")
    return "\n".join(lines)


#: The command-line options that are DemoOptions fields of the same name and value.
_OPTIONS_AS_GIVEN = (
    "messages",
    "poison_rate",
    "fifo",
    "endpoint_url",
    "region",
    "stack_name",
    "wave_size",
    "visibility_timeout",
    "message_groups",
    "large_messages",
    "slow_records",
    "work_seconds",
    "tenants",
    "duplicates",
    "concurrent_batches",
    "build_dir",
    "skip_build",
    "max_seconds",
    "run_id",
)


def to_options(args: argparse.Namespace) -> DemoOptions:
    """The demo's options from its parsed command line."""
    return DemoOptions(
        **{name: getattr(args, name) for name in _OPTIONS_AS_GIVEN},
        targets=[t.strip() for t in args.targets.split(",") if t.strip()] if args.targets else None,
        count_calls=not args.no_count,
    )


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    options = to_options(args)
    progress_stream = sys.stderr if args.json else sys.stdout
    # The event source logs each failed batch (ids and reason) at WARNING: the progress lines
    # count them instead, unless --verbose.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("lambda_batch.local_lambda").setLevel(logging.ERROR)
        logging.getLogger("samtranslator").setLevel(logging.ERROR)
    try:
        result = run_demo(options, _progress_printer(args.quiet, progress_stream))
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted (Ctrl-C); the emulator it started is stopped", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        print(format_summary(result))
    return 0 if result.ok else 1
