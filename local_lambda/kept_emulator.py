"""The emulator ``make invoke-local`` keeps between calls: the stack deployed once, a fresh copy per call.

Starting a moto server and deploying the stack to it take most of an invocation's time (moto's
imports, the SAM transform, CloudFormation). Without ``--endpoint-url``, the first call therefore
starts a background process that deploys the stack once and waits for calls on a Unix socket;
each call gets a *fork* of that process: a moto server of its own, on a port of its own, holding
the stack exactly as deployed (no message, item or record an earlier call left behind), which
stops when the call ends. Every call starts from the state a fresh emulator would have, in a few
milliseconds.

The process is keyed by what its stack depends on (the template, the build's stamp, the
parameters, the stack name and region, the emulator's own code): a call with another key starts
another one, which replaces the one of the same build folder and parameters (one for
``PARAMETERS=EnableKinesis=true`` and one without can run side by side). It exits after
``LOCAL_LAMBDA_KEEP_SECONDS`` seconds without a call (default 600); ``0`` keeps nothing (each call
starts and deploys its own emulator, in its own process). ``python -m local_lambda stop-kept``
(``make invoke-local-stop``) stops it now. Needs ``os.fork`` and Unix sockets (Linux, macOS).

Example:
    ```python
    from local_lambda.kept_emulator import KeptEmulator

    with KeptEmulator("template.yaml", ".aws-sam/build", {}, "lambda-batch", "us-east-1") as kept:
        stack = kept.acquire()           # a StackInfo on a moto server of this call's own
        stack.queue_url("WorkQueue")
    ```
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional

from devtools.sam_files import ROOT
from emulator.local_state import state_dir
from emulator.moto_fixes import MotoAdaptations
from emulator.stack_info import StackInfo
from emulator.template import StackError

#: Seconds the kept emulator waits for the next call before it exits (LOCAL_LAMBDA_KEEP_SECONDS).
DEFAULT_KEEP_SECONDS = 600.0
#: Seconds a first call waits for the kept emulator to deploy the stack (a cold `make invoke-local`
#: on a loaded 2-core machine takes 10 to 15 s: generous on purpose, it only bounds a hung start).
START_TIMEOUT_SECONDS = 180.0
#: The code whose change makes a kept emulator stale (with the template and the build).
_CODE_FOLDERS = ("emulator", "devtools", "local_lambda")


def keep_seconds() -> float:
    """``LOCAL_LAMBDA_KEEP_SECONDS`` (default 600); 0 when fork or Unix sockets are missing.

    Example:
        ```python
        os.environ["LOCAL_LAMBDA_KEEP_SECONDS"] = "0"   # every call starts its own emulator
        ```
    """
    if not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX"):
        return 0.0
    raw = os.environ.get("LOCAL_LAMBDA_KEEP_SECONDS", "")
    try:
        return max(float(raw), 0.0) if raw.strip() else DEFAULT_KEEP_SECONDS
    except ValueError:
        raise StackError(f"LOCAL_LAMBDA_KEEP_SECONDS must be a number of seconds, not {raw!r}") from None


def _state_dir() -> Path:
    return state_dir("kept-emulator")


def _stamp(path: Path) -> str:
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"{path}:-"
    return f"{path}:{info.st_mtime_ns}:{info.st_size}"


def stack_key(
    template: Path, build_dir: Path, parameters: Mapping[str, str], stack_name: str, region: str
) -> str:
    """What the kept stack depends on, hashed: a change of any of it needs another deployment."""
    parts = [
        template.resolve().read_text(encoding="utf-8"),
        str(build_dir.resolve()),
        _stamp(build_dir / "template.yaml"),
        _stamp(build_dir / ".lambda-batch-built"),
        json.dumps(dict(parameters), sort_keys=True),
        stack_name,
        region,
        sys.executable,
        _stamp(Path(sys.prefix) / ".installed-stamp"),  # `make venv` again: moto may have changed
    ]
    for folder in _CODE_FOLDERS:
        parts += sorted(_stamp(p) for p in (ROOT / folder).glob("*.py"))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:24]


def _pointer(build_dir: Path, parameters: Mapping[str, str], stack_name: str, region: str) -> Path:
    """The file naming the kept emulator of this build folder and stack (its socket and process id)."""
    what = json.dumps([str(build_dir.resolve()), dict(parameters), stack_name, region], sort_keys=True)
    return _state_dir() / f"kept-{hashlib.sha256(what.encode('utf-8')).hexdigest()[:16]}.json"


def _send(path: Path, request: str, timeout: float = 5.0) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(str(path))
        conn.sendall(request.encode("utf-8") + b"\n")
    except OSError:
        conn.close()
        raise
    return conn


def stop_kept(build_dir: Path, pointer: Optional[Path] = None) -> int:
    """Stop the kept emulators of ``build_dir`` (only the one ``pointer`` names, if given); how many."""
    folder = str(build_dir.resolve())
    stopped = 0
    for path in [pointer] if pointer is not None else sorted(_state_dir().glob("kept-*.json")):
        try:
            named = json.loads(path.read_text(encoding="utf-8"))
            if named["build_dir"] != folder:
                continue
            path.unlink()
            with _send(Path(named["socket"]), "stop") as conn:
                conn.recv(16)
        except (OSError, ValueError, KeyError):
            continue
        stopped += 1
    return stopped


def _stack_to_json(stack: StackInfo) -> Dict[str, Any]:
    fields = {f.name for f in dataclasses.fields(StackInfo)} - {"boto3_session", "_attributes"}
    values = {name: getattr(stack, name) for name in fields}
    values["adaptations"] = dataclasses.asdict(stack.adaptations)
    values["build_dir"] = str(stack.build_dir) if stack.build_dir else None
    return values


def _stack_from_json(values: Dict[str, Any]) -> StackInfo:
    from devtools.aws_session import emulator_session

    values = dict(values)
    values["adaptations"] = MotoAdaptations(**values["adaptations"])
    values["build_dir"] = Path(values["build_dir"]) if values["build_dir"] else None
    return StackInfo(**values, boto3_session=emulator_session(values["region"]))


class KeptEmulator:
    """A call's own copy of the kept stack (see the module's documentation); a context manager.

    ``acquire()`` returns the :class:`StackInfo` on a moto server of this call alone, starting the
    kept emulator first when none runs for this key; leaving the context stops that server.
    ``started`` says whether this call started (and deployed) the kept emulator.
    """

    def __init__(
        self,
        template: Path,
        build_dir: Path,
        parameters: Mapping[str, str],
        stack_name: str,
        region: str,
    ) -> None:
        self.template = Path(template).resolve()
        self.build_dir = Path(build_dir).resolve()
        self.parameters = dict(parameters)
        self.stack_name = stack_name
        self.region = region
        self.key = stack_key(self.template, self.build_dir, self.parameters, stack_name, region)
        self.socket_path = _state_dir() / f"{self.key}.sock"
        self.log_path = _state_dir() / f"{self.key}.log"
        self.started = False
        self._conn: Optional[socket.socket] = None

    def acquire(self) -> StackInfo:
        """The stack, on a moto server of this call's own (the kept emulator started when needed)."""
        for attempt in range(2):
            try:
                return self._fork_copy()
            except (OSError, ValueError):
                if attempt:
                    raise
            with self._start_lock():
                try:
                    return self._fork_copy()
                except (OSError, ValueError):
                    self._start()
        raise StackError("the kept emulator did not answer")  # pragma: no cover - the loop returns or raises

    def _fork_copy(self) -> StackInfo:
        conn = _send(self.socket_path, "fork", timeout=60.0)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = conn.recv(1 << 20)
            if not chunk:
                conn.close()
                raise ValueError("the kept emulator closed the connection")
            reply += chunk
        conn.settimeout(None)
        self._conn = conn
        return _stack_from_json(json.loads(reply))

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        import fcntl  # Unix only, as fork is (keep_seconds() is 0 elsewhere)

        with open(f"{self.socket_path}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _start(self) -> None:
        """Start the kept emulator (it deploys the stack) and wait until it answers."""
        pointer = _pointer(self.build_dir, self.parameters, self.stack_name, self.region)
        stop_kept(self.build_dir, pointer)  # the one before it: another build, template or tooling
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()  # left by one that was killed: nothing answers there
        command = [sys.executable, "-m", "local_lambda", "serve-kept", "--template", str(self.template),
                   "--build-dir", str(self.build_dir), "--stack-name", self.stack_name,
                   "--region", self.region, "--socket", str(self.socket_path),
                   "--keep-seconds", str(keep_seconds()),
                   "--parameter-overrides", *[f"{k}={v}" for k, v in self.parameters.items()]]  # fmt: skip
        with self.log_path.open("wb") as log:
            # macOS: the Objective-C runtime would abort a fork of a process that used it (proxies).
            env = dict(os.environ, OBJC_DISABLE_INITIALIZE_FORK_SAFETY="YES")
            process = subprocess.Popen(
                command, cwd=str(ROOT), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True,  # Ctrl-C in the terminal stops the call, not the kept emulator
            )  # fmt: skip
        self.started = True
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.socket_path.exists():
            if process.poll() is not None:
                lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                last = lines[-1].removeprefix("error: ") if lines else ""
                raise StackError(last or f"the kept emulator exited ({process.returncode})")
            if time.monotonic() > deadline:
                process.kill()
                raise StackError(f"the kept emulator did not start in {START_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.05)
        named = {"socket": str(self.socket_path), "pid": process.pid, "build_dir": str(self.build_dir)}
        pointer.write_text(json.dumps(named), encoding="utf-8")

    def close(self) -> None:
        """Stop this call's moto server (the kept emulator stays)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> KeptEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(
    template: Path,
    build_dir: Path,
    parameters: Mapping[str, str],
    *,
    stack_name: str,
    region: str,
    socket_path: Path,
    keep: float,
) -> int:
    """The kept emulator: deploy the stack once, then fork a copy of it for each call, until idle."""
    from emulator import start_moto_server
    from emulator.stack import deploy_stack

    server = start_moto_server()
    try:
        stack = deploy_stack(
            server.endpoint_url, template=template, build_dir=build_dir, stack_name=stack_name,
            parameter_overrides=parameters, region=region,
        )  # fmt: skip
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        server.stop()  # its thread ends: the process forks with one thread
    deployed = _stack_to_json(stack)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the copies are reaped by the system
    signal.signal(signal.SIGTERM, _exit_cleanly)  # `kill PID`: the socket is removed too
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    listener.bind(str(socket_path))
    bound = socket_path.stat().st_ino
    listener.listen(16)
    listener.settimeout(keep)
    print(f"kept emulator {os.getpid()}: {stack_name} deployed; waiting on {socket_path}", file=sys.stderr)
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return 0
            with conn, contextlib.suppress(OSError):  # a caller gone before it asked: the next one
                conn.settimeout(5.0)
                request = conn.recv(64).strip()
                if request == b"stop":
                    _remove(socket_path, bound)  # gone once the caller reads the answer
                    conn.sendall(b"stopped\n")
                    return 0
                if request == b"fork" and os.fork() == 0:
                    listener.close()
                    _serve_copy(conn, deployed)  # never returns
    finally:
        _remove(socket_path, bound)  # before the listener closes: a caller then starts the next one
        with contextlib.suppress(OSError):
            socket_path.with_suffix(".log").unlink()
        listener.close()


def _remove(socket_path: Path, bound: int) -> None:
    """Remove the kept emulator's socket, unless it is already another's (one started in its place)."""
    with contextlib.suppress(OSError):
        if socket_path.stat().st_ino == bound:
            socket_path.unlink()


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _serve_copy(conn: socket.socket, deployed: Dict[str, Any]) -> None:
    """In the fork: serve this copy of the stack on a new port until the caller hangs up."""
    status = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from emulator.server import MotoServer

        server = MotoServer().start()
        try:
            conn.settimeout(None)
            conn.sendall(json.dumps(dict(deployed, endpoint_url=server.endpoint_url)).encode("utf-8") + b"\n")
            while conn.recv(4096):
                pass
        finally:
            server.stop()
    except BaseException:  # the fork must never return into the kept emulator's loop
        status = 1
    finally:
        os._exit(status)
