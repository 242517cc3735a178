"""Run the layer's tests on each supported Python version.

Usage: python tools/python_matrix.py 3.12 3.13 3.14 [--workers=N --realtime-workers=N]

For each version it finds the interpreter (pyenv's, or pythonX.Y on PATH), keeps a
virtual environment in .venv-pyX.Y with requirements-matrix.txt installed (remade when
that file changes), and runs tests/unit and tests/integration there: what can differ between
Pythons; in two pools side by side, as `make test-suite` does (tools/test_pools.py). The
property tests, the tooling's, the template's and the demo's run once, on the
main .venv's Python.
The version of the main .venv is covered by `make test` itself and is not run again.
A version that is not installed is reported and skipped; any failing version fails the run.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-matrix.txt"
LAYER_TESTS = ["tests/unit", "tests/integration"]


def find_interpreter(version: str) -> Optional[str]:
    """The path of a Python ``version`` ("3.9") interpreter, or None."""
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(
        glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", "python")),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.parent.name.split(".")],
    )
    if candidates:
        return candidates[-1]
    return shutil.which(f"python{version}")


def main_venv_version() -> Optional[str]:
    """The X.Y version of the main .venv's Python, if there is one."""
    python = ROOT / ".venv" / "bin" / "python"
    if not python.exists():
        return None
    out = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def ensure_venv(version: str, interpreter: str) -> Path:
    """Create or refresh .venv-pyX.Y with the matrix requirements; return its python."""
    venv = ROOT / f".venv-py{version}"
    stamp = venv / ".requirements-sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    uv = ROOT / ".venv" / "bin" / "uv"
    if uv.exists():  # seconds instead of minutes
        subprocess.run([str(uv), "venv", "--quiet", "--python", interpreter, str(venv)], check=True)
        env = dict(os.environ, VIRTUAL_ENV=str(venv))
        subprocess.run(  # bytecode compiled once: every worker process reads it
            [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "-r", str(REQUIREMENTS)],
            check=True,
            env=env,
        )
    else:
        subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(digest)
    return python


def run_version(version: str, extra_args: List[str]) -> Tuple[str, str, float]:
    """Run the layer's tests on ``version``; return (version, outcome, seconds)."""
    started = time.monotonic()
    interpreter = find_interpreter(version)
    if interpreter is None:
        return version, "SKIPPED (not installed)", 0.0
    print(f"\n=== Python {version}: {interpreter}", flush=True)
    python = ensure_venv(version, interpreter)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    returncode = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "test_pools.py"),
            "--python",
            str(python),
            *extra_args,
            "-q",
            "-p",
            "no:cacheprovider",
            *LAYER_TESTS,
        ],
        cwd=ROOT,
        env=env,
        check=False,
    ).returncode
    outcome = "passed" if returncode == 0 else f"FAILED (exit {returncode})"
    return version, outcome, time.monotonic() - started


def main(argv: List[str]) -> int:
    versions = [a for a in argv if not a.startswith("-")]
    extra = [a for a in argv if a.startswith("-")]
    if not versions:
        print(__doc__)
        return 2
    covered = main_venv_version()
    results = []
    for version in versions:
        if version == covered:
            results.append((version, "covered by the main .venv run of make test", 0.0))
            continue
        results.append(run_version(version, extra))
    print("\nLayer tests by Python version:")
    for version, outcome, seconds in results:
        print(f"  Python {version:<5} {outcome}" + (f" in {seconds:.0f} s" if seconds else ""))
    return 1 if any(outcome.startswith("FAILED") for _, outcome, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
