"""``python -m local_lambda``: invoke a function of template.yaml locally, as Lambda would.

Usage::

    python -m local_lambda invoke ConsumerFunction --event events/sqs-batch-with-failures.json
    python -m local_lambda invoke ProducerFunction --event events/producer-standard.json \\
        --endpoint-url http://127.0.0.1:5000 --parameter-overrides EnableKinesis=true

Without ``--endpoint-url`` the call gets a moto server of its own holding the stack as freshly
deployed: a copy of the emulator kept between calls (``local_lambda.kept_emulator``; started and
deployed by the first call, ``--fresh-emulator`` or ``LOCAL_LAMBDA_KEEP_SECONDS=0`` start and deploy
one in this process instead); with it, the stack named ``--stack-name`` is used (and deployed there
first when missing). The function's built code comes from ``--build-dir``
(default ``.aws-sam/build``; built with ``sam build`` when missing).

An SQS sample event is first sent to the queue that feeds the function (the FIFO queue for a
``.fifo`` source ARN) and received back, so the function gets real receipt handles and its
deletes are real (``--no-seed`` passes the file as it is; a malformed sample, such as a record
without ``receiptHandle``, is always passed as it is). After the invocation the outcome is applied
as Lambda's event source mapping does (a normal return deletes the batch; with
``ReportBatchItemFailures`` all but the reported records; an error deletes nothing), the queue's
state is printed on stderr, and the messages returned to the queue are deleted too
(``--keep-returned`` keeps them), so the next invocation starts from an empty queue. The
handler's result (or Lambda's error object) is printed as JSON on stdout, alone; logs go to
stderr. Exit status: 0 when the handler returned,
1 when it raised or timed out, 2 for a usage or set-up error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from devtools.lambda_sqs import returned_ids
from devtools.sam_files import TEMPLATE_PATH
from emulator.build import sam_build
from emulator.stack import deploy_stack, load_stack
from emulator.template import DEFAULT_STACK_NAME, StackError

from .invoker import InvocationError, LocalFunction
from .kept_emulator import KeptEmulator, keep_seconds, serve, stop_kept
from .preflight import (
    PreflightError,
    check_condition,
    check_invocation,
    check_parameters,
    parse_overrides,
    read_event,
)
from .sqs_events import SeedError, delete_messages, malformed_reason, queue_for_event, seed_sqs_event


def _queue_state(stack: Any, queue_id: str) -> Dict[str, Any]:
    sqs = stack.client("sqs")
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = sqs.get_queue_attributes(QueueUrl=stack.queue_url(queue_id), AttributeNames=names)["Attributes"]
    return {
        "queue": queue_id,
        "visible": int(attrs.get(names[0], 0)) + int(attrs.get(names[2], 0)),
        "in_flight": int(attrs.get(names[1], 0)),
    }


def _apply_outcome(
    stack: Any, queue_id: str, event: Dict[str, Any], result: Any, source: Any, *, keep: bool
) -> None:
    """Apply the invocation's outcome as Lambda's event source mapping does, then report the queue.

    A normal return deletes the batch (with ``ReportBatchItemFailures``, all but the reported
    records); an error deletes nothing. Lambda would deliver the returned messages again after the
    visibility timeout; no event source runs here, so they are deleted too unless ``keep``: the next
    invocation starts from an empty queue.
    """
    sqs = stack.client("sqs")
    url = stack.queue_url(queue_id)
    reports = "ReportBatchItemFailures" in (source.function_response_types if source else ())
    ids = [str(r["messageId"]) for r in event["Records"]]
    returned = set(
        returned_ids(ids, ok=result.ok, response=result.return_value, report_batch_item_failures=reports)
    )
    succeeded = [r for r in event["Records"] if r["messageId"] not in returned]
    if succeeded:
        delete_messages(sqs, url, succeeded)
    after = _queue_state(stack, queue_id)
    left = after["visible"] + after["in_flight"]
    print(json.dumps({"after": after, "deleted_by_lambda": len(succeeded)}), file=sys.stderr)
    if returned and left and not keep:
        delete_messages(sqs, url, [r for r in event["Records"] if r["messageId"] in returned])
        print(
            f"the {left} message(s) returned to the queue would come back after its visibility timeout; "
            "deleted now so that the next invoke starts from an empty queue (--keep-returned keeps them)",
            file=sys.stderr,
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_lambda", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "check", help="check the function, the event file and the parameters only (fast: nothing is built)"
    )
    invoke = commands.add_parser("invoke", help="invoke a function of the template with an event file")
    for command in (check, invoke):
        command.add_argument(
            "function", help="logical id of the function (ConsumerFunction, ProducerFunction)"
        )
        command.add_argument("--event", "-e", required=True, help="JSON event file (events/*.json)")
        command.add_argument(
            "--template", "-t", default=str(TEMPLATE_PATH), help="the SAM template (default: template.yaml)"
        )
        command.add_argument(
            "--parameter-overrides",
            nargs="*",
            default=[],
            metavar="KEY=VALUE",
            help="template parameters for a stack deployed by this run (EnableKinesis=true)",
        )
        command.add_argument(
            "--endpoint-url", help="local AWS endpoint with the stack (default: start a moto server)"
        )
    invoke.add_argument("--build-dir", default=None, help="sam build output (default: .aws-sam/build)")
    invoke.add_argument(
        "--build-command",
        help="run this once the checks passed, before invoking (make invoke-local: `make built`, which "
        "builds only when a source changed); its output goes to stderr",
    )
    invoke.add_argument(
        "--stack-name",
        default=DEFAULT_STACK_NAME,
        help="the stack to use at --endpoint-url, deployed there first when missing (default: %(default)s)",
    )
    invoke.add_argument("--region", default="us-east-1", help="the stack's region (default: %(default)s)")
    invoke.add_argument("--no-seed", action="store_true", help="pass an SQS event as it is, without a queue")
    invoke.add_argument(
        "--fresh-emulator",
        action="store_true",
        help="without --endpoint-url: start and deploy an emulator in this process, instead of a copy of "
        "the one kept between calls (LOCAL_LAMBDA_KEEP_SECONDS=0 does the same)",
    )
    invoke.add_argument(
        "--keep-returned",
        action="store_true",
        help="leave the messages the invocation returned to the queue (default: deleted after the report)",
    )
    serve_kept = commands.add_parser(
        "serve-kept", help="(started by invoke) deploy the stack once and fork a copy of it for each call"
    )
    serve_kept.add_argument("--template", required=True, help="the SAM template")
    serve_kept.add_argument("--build-dir", required=True, help="its sam build output")
    serve_kept.add_argument("--stack-name", required=True, help="the stack's name")
    serve_kept.add_argument("--region", required=True, help="the stack's region")
    serve_kept.add_argument("--socket", required=True, help="the Unix socket the calls connect to")
    serve_kept.add_argument("--keep-seconds", type=float, required=True, help="exit after this idle time")
    serve_kept.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="template parameters"
    )
    stop = commands.add_parser("stop-kept", help="stop the emulator invoke keeps between calls (if any)")
    stop.add_argument("--build-dir", default=".aws-sam/build", help="its build folder (default: %(default)s)")
    return parser


def _kept_command(args: argparse.Namespace) -> int:
    """``serve-kept`` and ``stop-kept``."""
    if args.command == "stop-kept":
        stopped = stop_kept(Path(args.build_dir))
        print(f"kept emulators of {args.build_dir} stopped: {stopped}", file=sys.stderr)
        return 0
    return serve(
        Path(args.template),
        Path(args.build_dir),
        parse_overrides(args.parameter_overrides),
        stack_name=args.stack_name,
        region=args.region,
        socket_path=Path(args.socket),
        keep=args.keep_seconds,
    )


def _checked(args: argparse.Namespace) -> Any:
    """The event, once the function, the event and the parameters passed the preflight checks."""
    from devtools.sam_files import load_template

    template = load_template(Path(args.template))
    event = read_event(args.event)
    check_invocation(template, args.function, event, args.event)
    overrides = parse_overrides(args.parameter_overrides)
    check_parameters(template, overrides)
    if not args.endpoint_url:  # a stack of its own, deployed with these parameters
        check_condition(template, args.function, overrides)
    return event


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("serve-kept", "stop-kept"):
        return _kept_command(args)
    try:
        event = _checked(args)
        if args.command == "check":
            return 0
        build = shlex.split(args.build_command or "")
        if build and subprocess.run(build, check=False, stdout=2).returncode:
            print("error: the build failed (its output is above)", file=sys.stderr)
            return 2
        with contextlib.ExitStack() as cleanup:
            return _invoke(args, event, cleanup)
    except (StackError, InvocationError, SeedError, PreflightError, OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("invoke-local: interrupted (Ctrl-C); the function and its emulator stopped", file=sys.stderr)
        return 130


def _invoke(args: argparse.Namespace, event: Any, cleanup: contextlib.ExitStack) -> int:
    """Invoke the function with ``event`` on its stack, apply the outcome, print the result; the status."""
    template = Path(args.template)
    build_dir = Path(args.build_dir) if args.build_dir else template.parent / ".aws-sam" / "build"
    if not (build_dir / "template.yaml").exists():
        print(f"building into {build_dir} (sam build)...", file=sys.stderr)
        sam_build(template, build_dir)
    overrides = parse_overrides(args.parameter_overrides)
    if not args.endpoint_url and not args.fresh_emulator and keep_seconds() > 0:
        kept = KeptEmulator(template, build_dir, overrides, args.stack_name, args.region)
        cleanup.enter_context(kept)
        stack = kept.acquire()
        stack.build_dir = build_dir
        print(_kept_line(kept, stack.endpoint_url), file=sys.stderr)
    else:
        endpoint = args.endpoint_url
        if not endpoint:
            from emulator import start_moto_server

            endpoint = cleanup.enter_context(start_moto_server()).endpoint_url
        stack = _stack_at(args, endpoint, template, build_dir, overrides)

    sources = stack.settings().event_sources_of(args.function)
    function = cleanup.enter_context(LocalFunction(template, args.function, build_dir, stack=stack))
    function.start()  # its cold start (the handler's imports) runs while the event is seeded
    seeded_queue, event = _seed(args, stack, sources, event)
    result = function.invoke(event)
    function.close()
    sys.stderr.write(result.logs)
    if seeded_queue is not None:
        source = next((s for s in sources if s.queue == seeded_queue), None)
        _apply_outcome(stack, seeded_queue, event, result, source, keep=args.keep_returned)
    message = str((result.error or {}).get("errorMessage", ""))
    if not result.ok and "EnableKinesis=true" in message:
        print(
            "this stack has no Kinesis stream. Deploy one with it: `make invoke-local "
            f"FUNCTION={args.function} EVENT={args.event} PARAMETERS=EnableKinesis=true` (a stack of "
            "its own, deployed with it), or `make deploy-emulator` (samconfig.toml [emulator] enables it); "
            "on AWS: `.venv/bin/sam deploy --parameter-overrides EnableKinesis=true`",
            file=sys.stderr,
        )
    print(json.dumps(result.payload(), indent=2, default=str))
    return 0 if result.ok else 1


def _seed(args: argparse.Namespace, stack: Any, sources: List[Any], event: Any) -> Tuple[Optional[str], Any]:
    """Send an SQS sample event to the queue that feeds the function; (that queue, the event received)."""
    is_sqs = isinstance(event, dict) and any(
        isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in event.get("Records") or []
    )
    malformed = malformed_reason(event) if is_sqs else None
    if malformed is not None:
        print(f"the event is malformed ({malformed}): passed to the handler as it is", file=sys.stderr)
        return None, event
    if not (is_sqs and sources and not args.no_seed):
        return None, event
    settings = stack.settings()
    fifo = next((s.queue for s in sources if settings.queue(s.queue).fifo), None)
    standard = next((s.queue for s in sources if not settings.queue(s.queue).fifo), None)
    seeded_queue = queue_for_event(event, fifo, standard)
    if seeded_queue is None:
        return None, event
    before = _queue_state(stack, seeded_queue)
    if before["visible"] or before["in_flight"]:
        raise SeedError(
            f"{seeded_queue} already holds {before['visible'] + before['in_flight']} message(s) "
            "(an earlier producer run?): empty it with "
            f"`make purge-emulator ENDPOINT_URL={stack.endpoint_url}`"
        )
    return seeded_queue, seed_sqs_event(event, stack.queue_url(seeded_queue), stack.client("sqs"))


def _kept_line(kept: KeptEmulator, endpoint: str) -> str:
    """What the call says about the kept emulator: started (and deployed) now, or reused."""
    how = "started it and deployed the stack" if kept.started else "reused: no build, no deploy"
    return (
        f"emulator: a fresh copy of the stack kept between calls ({how}) on {endpoint}; "
        f"`make invoke-local-stop` stops it, else it exits after {keep_seconds():.0f} s without a call"
    )


def _stack_at(
    args: argparse.Namespace, endpoint: str, template: Path, build_dir: Path, overrides: Dict[str, str]
) -> Any:
    """The stack named ``--stack-name`` on ``endpoint``, deployed there first when missing."""
    try:
        stack = load_stack(endpoint, stack_name=args.stack_name, template=template, region=args.region)
        stack.build_dir = build_dir
        return stack
    except StackError:
        print(f"deploying stack {args.stack_name} to {endpoint}...", file=sys.stderr)
        return deploy_stack(
            endpoint,
            template=template,
            build_dir=build_dir,
            stack_name=args.stack_name,
            parameter_overrides=overrides,
            region=args.region,
        )


if __name__ == "__main__":
    sys.exit(main())
