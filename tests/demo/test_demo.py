"""`make demo` end to end with a small N: the built functions, the template's stack on moto, nothing lost."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from demo.pipeline import DemoOptions, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

ROOT = Path(__file__).resolve().parents[2]


def expected_poison(run_id: str, messages: int, wave_size: int, rate: float) -> List[str]:
    """The producer's documented poison rule (functions/producer/request.py), wave by wave."""
    ids = []
    for wave in range(math.ceil(messages / wave_size)):
        count = min(wave_size, messages - wave * wave_size)
        for i in range(count):
            if math.floor((i + 1) * rate) > math.floor(i * rate):
                ids.append(f"{run_id}-w{wave:03d}-{i:05d}")
    return sorted(ids)


def test_demo_accounts_for_every_message_and_the_dlq_holds_exactly_the_poison(build_dir) -> None:
    options = DemoOptions(
        messages=45,
        poison_rate=0.1,
        wave_size=20,
        visibility_timeout=1,
        build_dir=build_dir,
        skip_build=True,
        targets=["sqs"],
        run_id="t-std",
        max_seconds=120,
    )
    stages: List[str] = []
    result = run_demo(options, progress=lambda stage, data: stages.append(stage))
    counts = result.counts

    poison = expected_poison("t-std", 45, 20, 0.1)
    assert len(poison) == 4  # 2 + 2 + 0 over waves of 20, 20, 5
    assert counts.lost == 0
    assert counts.in_queue == 0
    assert counts.dlq_item_ids == poison
    assert counts.requested == counts.sent == 45
    assert counts.processed == 45 - len(poison)
    assert counts.poison_processed == 0 and counts.good_in_dlq == 0
    # Each poison message was received maxReceiveCount (3) times before the redrive.
    assert counts.retried >= len(poison)
    assert counts.deliveries >= counts.processed + 3 * len(poison)
    # Duplicate deliveries (the defaults: 5 messages handed twice, the first batch to two pollers at
    # once), yet each handled message's effect, read back from the results table, happened once.
    duplicates, effects = result.duplicates, result.effects
    assert (duplicates.redelivered, duplicates.concurrent_batches) == (5, 1)
    assert duplicates.delivered > 5 and result.invocations["second_poller"] == 1
    assert (effects.duplicated, effects.missing) == (0, 0)
    assert effects.checked == effects.once == effects.handler_runs == counts.processed
    assert result.effect_calls == effects.handler_runs  # one UpdateItem per run, apart from the layer's
    assert "dynamodb:UpdateItem" not in result.consumer_calls.by_operation
    assert result.consumer_calls.by_operation["dynamodb:BatchGetItem"] <= result.invocations["consumer"] + 1
    assert result.ok
    # The producer batched its sends; the event source's receives and deletes carried several messages each.
    assert result.producer_calls.by_operation.get("sqs:SendMessageBatch", 0) >= 3
    assert result.producer_calls.calls < result.producer_calls.one_per_message
    assert result.event_source_calls.calls < result.event_source_calls.one_per_message
    assert result.settings["batch_size"] == 10 and result.settings["max_receive_count"] == 3
    assert result.invocations["producer"] == 3
    assert {"wave", "progress"} <= set(stages)


def test_demo_cli_fifo_json_summary(build_dir) -> None:
    """A FIFO run through the command line: 40 messages over 7 message groups, 10% poison among them
    (items 9, 19, 29 and 39: one in each of 4 groups, each with good messages behind it)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--fifo",
            "--messages",
            "40",
            "--poison-rate",
            "0.1",
            "--message-groups",
            "7",
            "--build-dir",
            str(build_dir),
            "--skip-build",
            "--targets",
            "sqs",
            "--run-id",
            "t-fifo",
            "--json",
            "--max-seconds",
            "300",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-1500:]
    summary = json.loads(completed.stdout)
    counts = summary["counts"]
    assert summary["ok"] is True
    assert counts["lost"] == 0 and counts["in_queue"] == 0
    # Exactly the poison in the DLQ: no good message of another group (or of the same group, behind
    # a poison one) was redriven.
    assert counts["dlq_item_ids"] == expected_poison("t-fifo", 40, 50, 0.1)
    assert counts["dlq"] == 4 and counts["good_in_dlq"] == 0
    assert counts["processed"] == 36
    assert summary["settings"]["fifo"] is True and summary["settings"]["max_receive_count"] == 5
    # FIFO too: messages handed twice and a batch given to two pollers, each effect once.
    assert summary["duplicates"]["redelivered"] == 5 and summary["duplicates"]["delivered"] > 5
    assert summary["effects"]["duplicated"] == summary["effects"]["missing"] == 0
    assert summary["effects"]["once"] == 36
    assert "progress" in completed.stderr


def test_bad_options_exit_2_with_a_clear_message() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "demo", "--messages", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "--messages must be at least 1" in completed.stderr


def test_a_run_cut_short_by_max_seconds_is_not_reported_ok(build_dir) -> None:
    options = DemoOptions(
        messages=30,
        poison_rate=0.1,
        wave_size=10,
        visibility_timeout=1,
        build_dir=build_dir,
        skip_build=True,
        targets=["sqs"],
        run_id="t-cut",
        max_seconds=0.1,
    )
    result = run_demo(options)
    assert result.timed_out
    assert not result.ok
    assert result.counts.lost == 0  # stopped early, yet nothing it sent is unaccounted for


@pytest.mark.parametrize("after", ["emulator", "producer"])
def test_ctrl_c_prints_one_line_and_exits_130(build_dir, after: str) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) once the run printed its first
    progress line, or its first producer wave (the event source and the functions at work)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "demo", "--messages", "60", "--wave-size", "20", "--poison-rate", "0.1",
         "--build-dir", str(build_dir), "--skip-build", "--targets", "sqs", "--run-id", f"t-int-{after}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        printed = [process.stdout.readline()]
        while printed[-1] and not printed[-1].startswith(after):
            printed.append(process.stdout.readline())
        assert printed[-1], printed
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130
    assert err.splitlines() == ["demo: interrupted (Ctrl-C); the emulator it started is stopped"]
    assert "Traceback" not in out + err
