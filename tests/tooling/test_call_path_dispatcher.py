"""How long the layer's path is for a plain dispatcher flush, counted with ``sys.setprofile``.

A fresh :class:`SQSBatchDispatcher` is made with a client of the moto server, three payloads
are submitted and flushed, and SendMessageBatch answers with the third entry failed as the
sender's fault (a non-retryable code, injected by a botocore event hook: tests/faults.py).
Counted, among the Python functions entered (every ``call`` event; C functions are not
counted) whose code lives under ``layer/lambda_batch``: the distinct code objects
(comprehensions and lambdas included), the distinct files, and the switches from one file
to another along the sequence of those calls.
"""

from __future__ import annotations

import itertools
import pathlib
import sys
from typing import Any, List, Tuple

import pytest

from lambda_batch import SQSBatchDispatcher
from tests.faults import ENTRY_ERRORS, OK, Fault, FaultInjector, drain_queue

LAYER = str(pathlib.Path(__file__).resolve().parents[2] / "layer" / "lambda_batch")

MAX_FUNCTIONS = 35
MAX_FILES = 8
MAX_SWITCHES = 30


def _layer_calls(run: Any) -> List[Tuple[str, int, str]]:
    """``run()`` under a profiler: the layer's functions entered, in order, as (file, line, name)."""
    calls: List[Tuple[str, int, str]] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(LAYER):
                calls.append((code.co_filename, code.co_firstlineno, code.co_qualname))

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def _shape(calls: List[Tuple[str, int, str]]) -> Tuple[int, int, int]:
    files = [file for file, _, _ in calls]
    switches = sum(1 for before, after in itertools.pairwise(files) if before != after)
    return len(set(calls)), len(set(files)), switches


def _describe(calls: List[Tuple[str, int, str]]) -> str:
    seen, lines = set(), []
    for file, line, name in calls:
        if (file, line, name) not in seen:
            seen.add((file, line, name))
            lines.append(f"{pathlib.Path(file).relative_to(LAYER)}:{line} {name}")
    return "\n".join(lines)


@pytest.mark.integration
def test_a_plain_flush_with_one_entry_refused_takes_a_short_path(boto3_session, aws_client, unique_name):
    queue_url = aws_client("sqs").create_queue(QueueName=unique_name("path"))["QueueUrl"]

    # The third entry of the first call fails as the sender's fault, with a code never retried.
    def plan(call: int, _entries: int) -> Fault:
        return Fault("partial", {2: False}) if call == 0 else OK

    injector = FaultInjector(boto3_session, "sqs", plan)
    client = aws_client("sqs")  # made after the hooks: it carries them
    payloads = [{"n": 1}, {"n": 2}, {"n": 3}]
    results: List[Any] = []

    def run() -> None:
        dispatcher = SQSBatchDispatcher(queue_url, client=client)
        for payload in payloads:
            dispatcher.submit_payload(payload)
        results.append(dispatcher.flush_payloads())
        results.append(dispatcher.unprocessed_details)

    calls = _layer_calls(run)
    functions, files, switches = _shape(calls)
    report = f"{functions} functions, {files} files, {switches} switches\n{_describe(calls)}"
    print(report)

    # What a user sees: the refused payload handed back as submitted, with the service's code.
    failed, details = results
    assert failed == [payloads[2]] and failed[0] is payloads[2]
    assert [(d.code, d.retryable, d.attempts) for d in details] == [(ENTRY_ERRORS["sqs"][1], False, 1)]
    assert injector.call_count == 1
    bodies = sorted(message["Body"] for message in drain_queue(aws_client("sqs"), queue_url))
    assert bodies == ['{"n": 1}', '{"n": 2}']  # json.dumps, as boto3-batch-utils sends them

    assert functions <= MAX_FUNCTIONS, report
    assert files <= MAX_FILES, report
    assert switches <= MAX_SWITCHES, report
