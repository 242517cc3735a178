"""Run a pytest selection as two pools side by side: the tests that wait on real time, and the rest.

Usage: python tools/test_pools.py [--python PATH] [--workers N] [--realtime-workers N] [pytest args...]

A test marked ``realtime`` (a visibility timeout lapsing, a retry delay, a deadline, a whole demo
run) spends most of its time asleep; the rest keep a core busy. Run in one pool, the sleepers hold
workers the busy tests could use, and the cores idle while they wait. Here each kind has workers of
its own: ``pytest -m realtime -n R`` and ``pytest -m "not realtime" -n W`` at the same time, on the
same paths and options. Each output line carries its pool's name; the run fails when either pool
fails (a pool with no test selected is not a failure).

``make test-suite`` and ``tools/python_matrix.py`` run their tests this way.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from typing import IO, List, Optional, Sequence

#: pytest's exit code when no test was selected: one pool may well be empty for a given path.
NO_TESTS_COLLECTED = 5


def pool_command(python: str, marker: str, workers: str, args: Sequence[str]) -> List[str]:
    """The pytest command line of one pool."""
    return [python, "-m", "pytest", "-m", marker, "-n", workers, *args]


def _relay(name: str, stream: IO[str], lock: threading.Lock) -> None:
    for line in stream:
        with lock:
            sys.stdout.write(f"{name} | {line}")
            sys.stdout.flush()


def run_pools(python: str, args: Sequence[str], workers: str = "auto", realtime_workers: str = "3") -> int:
    """Run both pools at once; 0 when both passed (or selected nothing), else 1."""
    pools = {
        # One test at a time to each worker, in the collected order (tests/conftest.py puts the longest
        # first): none of the long ones waits behind another.
        "realtime": pool_command(python, "realtime", realtime_workers, ["--maxschedchunk=1", *args]),
        "rest    ": pool_command(python, "not realtime", workers, args),
    }
    lock = threading.Lock()
    processes = {}
    relays = []
    for name, command in pools.items():
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        processes[name] = process
        assert process.stdout is not None
        relay = threading.Thread(target=_relay, args=(name, process.stdout, lock), daemon=True)
        relay.start()
        relays.append(relay)
    try:
        codes = {name: process.wait() for name, process in processes.items()}
    except KeyboardInterrupt:
        for process in processes.values():
            process.terminate()
        print("interrupted: both pools stopped", file=sys.stderr)
        return 130
    for relay in relays:
        relay.join()
    failed = {name.strip(): code for name, code in codes.items() if code not in (0, NO_TESTS_COLLECTED)}
    if failed:
        print("failed pools: " + ", ".join(f"{name} (pytest exit {code})" for name, code in failed.items()))
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--python", default=sys.executable, help="the Python that runs pytest")
    parser.add_argument(
        "--workers", default="auto", help="pytest-xdist workers of the busy pool (auto: one a core)"
    )
    parser.add_argument(
        "--realtime-workers", default="3", help="pytest-xdist workers of the pool that waits on real time"
    )
    options, pytest_args = parser.parse_known_args(argv)
    return run_pools(options.python, pytest_args, options.workers, options.realtime_workers)


if __name__ == "__main__":
    sys.exit(main())
