"""`make test` on fresh clones while other processes keep every core busy: the suite must not lean
on wall-clock margins that a loaded machine eats.

Usage: python tools/test_under_load.py [--runs 3] [--max-minutes 90] [--target test]

It clones the repository's committed HEAD into a temporary folder for each run, starts one
busy loop per core (plain Python spinning, at the same priority as the tests), runs
``make <target>`` in the clone, and stops the loops when the runs end, fail, or the time
limit is reached (each loop also ends by itself after that limit: a run that would start after
it counts as failed). It prints each run's outcome and duration, and exits non-zero unless every
run passed under load. Nothing is retried or skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent

#: One busy loop: spins until its time is up (so that it ends even if this script is killed).
_SPIN = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"


def start_load(cores: int, seconds: float) -> List[subprocess.Popen[bytes]]:
    """``cores`` busy loops, each ending by itself after ``seconds``."""
    code = _SPIN.format(seconds=seconds)
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(cores)]


def stop_load(loops: List[subprocess.Popen[bytes]]) -> None:
    for loop in loops:
        loop.kill()
    for loop in loops:
        loop.wait()


def run_once(target: str, log: Path) -> tuple[int, float]:
    """``make target`` in a fresh clone of HEAD; its exit code and seconds (output in ``log``)."""
    clone = Path(tempfile.mkdtemp(prefix="lambda-batch-load-"))
    started = time.monotonic()
    try:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        with log.open("w") as out:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
            completed = subprocess.run(
                ["make", target], cwd=clone, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
            )
        return completed.returncode, time.monotonic() - started
    finally:
        shutil.rmtree(clone, ignore_errors=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/test_under_load.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="runs in a row (default 3)")
    parser.add_argument("--target", default="test", help="the make target to run (default test)")
    parser.add_argument(
        "--max-minutes", type=float, default=90.0, help="the load stops after this long whatever happens"
    )
    parser.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()), help="where run logs go")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    results = []
    loops = start_load(cores, args.max_minutes * 60)
    print(f"load: {cores} busy loop(s), one per core, for at most {args.max_minutes:g} min", flush=True)
    try:
        for run in range(1, args.runs + 1):
            if any(loop.poll() is not None for loop in loops):
                print(f"run {run}: not started, the load has ended (--max-minutes)", flush=True)
                break
            log = args.logs / f"lambda-batch-under-load-{run}.log"
            code, seconds = run_once(args.target, log)
            outcome = "passed" if code == 0 else f"FAILED (exit {code})"
            print(
                f"run {run}: make {args.target} {outcome} in {seconds / 60:.1f} min (log: {log})", flush=True
            )
            results.append(code)
            if code != 0:
                break
    finally:
        stop_load(loops)
    passed = len(results) == args.runs and not any(results)
    print(f"{sum(1 for c in results if c == 0)} of {args.runs} run(s) passed under load")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
