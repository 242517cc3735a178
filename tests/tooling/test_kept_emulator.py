"""`make invoke-local` builds only when a source changed and deploys the stack once: the next call reuses
both (a fresh copy of the stack the first call deployed), and says so. Checked from what each call prints,
not from how long it took; Ctrl-C during a call gives one line and exit status 130."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from local_lambda.kept_emulator import KeptEmulator, stack_key

from .conftest import ROOT, TEMPLATE

pytestmark = pytest.mark.integration

STARTED = "started it and deployed the stack"
REUSED = "reused: no build, no deploy"


def _make(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def kept_env(build_dir: Path, tmp_path: Path) -> Iterator[Dict[str, str]]:
    """A build folder of this test's own, up to date (so `make built` has nothing to do), and the
    environment that keeps its emulator; the kept emulator is stopped at the end."""
    build = tmp_path / "build"
    shutil.copytree(build_dir, build)
    (build / ".lambda-batch-built").touch()  # newer than every source
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
    # 120 s: it outlives the test's calls on a loaded machine, and exits soon if the stop below fails.
    env.update(SAM_BUILD_DIR=str(build), LOCAL_LAMBDA_KEEP_SECONDS="120", SAM_CLI_TELEMETRY="0")
    yield env
    _make(["invoke-local-stop"], env)


def _stale_socket(path: Path) -> None:
    """A socket file nothing listens on: what a kept emulator killed with SIGKILL leaves."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(str(path)) == 0


def test_the_second_call_neither_builds_nor_deploys_and_starts_from_the_deployed_state(
    kept_env: Dict[str, str],
) -> None:
    build = Path(kept_env["SAM_BUILD_DIR"])
    socket_path = KeptEmulator(TEMPLATE, build, {}, "lambda-batch", "us-east-1").socket_path
    _stale_socket(socket_path)
    assert not _answers(socket_path)

    first = _make(
        ["invoke-local", "FUNCTION=ProducerFunction", "EVENT=events/producer-standard.json"], kept_env
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert STARTED in first.stderr
    assert "sam build" not in first.stderr  # up to date: `make built` did nothing
    assert json.loads(first.stdout)["sent"]["sqs"] > 0  # messages left in the work queue...
    assert _answers(socket_path)  # the stale socket was replaced by the kept emulator's

    second = _make(
        ["invoke-local", "FUNCTION=ConsumerFunction", "EVENT=events/sqs-batch-all-success.json"], kept_env
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert REUSED in second.stderr and STARTED not in second.stderr
    assert "sam build" not in second.stderr and "deploying" not in second.stderr
    # ...are not in this call's copy: it starts from the stack as deployed (else: "already holds").
    assert json.loads(second.stdout) == {"batchItemFailures": [], "processed": 3}

    stopped = _make(["invoke-local-stop"], kept_env)
    assert "stopped: 1" in stopped.stderr, stopped.stderr
    assert not socket_path.exists()
    assert "stopped: 0" in _make(["invoke-local-stop"], kept_env).stderr


def test_the_kept_stack_is_keyed_by_everything_it_depends_on(tmp_path: Path) -> None:
    build = tmp_path / "build"
    build.mkdir()
    (build / "template.yaml").write_text("built", encoding="utf-8")
    stamp = build / ".lambda-batch-built"
    stamp.touch()
    key = stack_key(TEMPLATE, build, {}, "lambda-batch", "us-east-1")
    assert stack_key(TEMPLATE, build, {}, "lambda-batch", "us-east-1") == key
    assert stack_key(TEMPLATE, build, {"EnableKinesis": "true"}, "lambda-batch", "us-east-1") != key
    assert stack_key(TEMPLATE, build, {}, "other", "us-east-1") != key
    assert stack_key(TEMPLATE, build, {}, "lambda-batch", "eu-west-1") != key
    other_template = tmp_path / "template.yaml"
    other_template.write_text(TEMPLATE.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert stack_key(other_template, build, {}, "lambda-batch", "us-east-1") != key
    os.utime(stamp, ns=(stamp.stat().st_mtime_ns + 10**9,) * 2)  # `make built` built again
    assert stack_key(TEMPLATE, build, {}, "lambda-batch", "us-east-1") != key


def test_ctrl_c_during_an_invocation_prints_one_line(build_dir: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while the function runs."""
    slow_build = tmp_path / "build"
    shutil.copytree(build_dir, slow_build)
    (slow_build / "ProducerFunction" / "app.py").write_text(
        "import time\n\ndef lambda_handler(event, context):\n    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "local_lambda", "invoke", "ProducerFunction", "--event",
         "events/producer-standard.json", "--build-dir", str(slow_build), "--fresh-emulator"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        seen = [process.stderr.readline()]
        while seen[-1] and not seen[-1].startswith("deploying stack"):  # then the handler sleeps 60 s
            seen.append(process.stderr.readline())
        assert seen[-1], seen
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130
    assert out == ""
    assert err.splitlines() == ["invoke-local: interrupted (Ctrl-C); the function and its emulator stopped"]
