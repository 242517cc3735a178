"""Run a built function's handler locally, as Lambda would, against a local AWS endpoint.

:class:`LocalFunction` is the local stand-in for ``sam local invoke`` (which needs Docker):

* the code is the ``sam build`` output of the function (``<build_dir>/<LogicalId>``) and its
  layers are the built layers of the template, each ``python`` folder on ``sys.path`` as
  ``/opt/python`` is in Lambda; layers of other accounts (the Powertools public layer) and
  the runtime's boto3 come from the interpreter running the function;
* the handler, memory size and timeout come from the template (Globals merged); the
  context's ``get_remaining_time_in_millis()`` counts down from the Timeout, and an
  invocation that outlives it is stopped and reported as ``Sandbox.Timedout``;
* the environment is the template's (Globals + the function's ``Environment``), with every
  ``!Ref`` / ``!GetAtt`` resolved to the resources of a stack deployed on the emulator
  (queue URLs, table and stream names), plus what Lambda sets (``AWS_REGION``,
  ``AWS_LAMBDA_FUNCTION_NAME``...), fake credentials and ``AWS_ENDPOINT_URL`` (which
  botocore 1.31+ honours for every client);
* each function runs in its own process, kept warm between invocations like an execution
  environment (the first invocation is the cold start), so functions never share imports.

Example::

    from emulator import start_moto_server
    from emulator.stack import deploy_stack
    from local_lambda.invoker import LocalFunction

    server = start_moto_server()
    stack = deploy_stack(server.endpoint_url)
    with LocalFunction("template.yaml", "ProducerFunction", stack.build_dir, stack=stack) as producer:
        result = producer.invoke({"count": 5, "targets": ["sqs"]})
    result.return_value["sent"]      # {'sqs': 5}
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, List, Mapping, Optional, Union

from devtools import lambda_context
from devtools.aws_session import FAKE_CREDENTIALS, credentials_environment
from devtools.aws_session import is_loopback as is_emulated
from devtools.sam_files import TEMPLATE_PATH
from emulator.settings import read_settings
from emulator.stack_info import StackInfo
from emulator.template import DEFAULT_REGION
from local_lambda import function_setup
from local_lambda.results import FunctionError, InvocationError, InvocationResult

__all__ = [
    "FAKE_CREDENTIALS",
    "FunctionError",
    "InvocationError",
    "InvocationResult",
    "LocalFunction",
    "credentials_environment",
    "is_emulated",
]

logger = logging.getLogger("local_lambda.invoker")

_BOOTSTRAP = Path(__file__).resolve().parent / "_bootstrap.py"
#: Seconds an invocation may outlive its Timeout before it is stopped (the reply's own slack).
TIMEOUT_GRACE_SECONDS = 1.0
#: Seconds of a cold start's init phase (the handler's module imported) that are not counted in
#: the first invocation's Timeout: Lambda's limit for the init phase. As on Lambda, an init
#: that takes longer goes on within the invocation, whose Timeout then counts it.
#: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html (checked 2026-12)
INIT_PHASE_SECONDS = 10.0
#: The worker's line ending its init phase.
_READY = b'{"ready": true}'
PathLike = Union[str, "os.PathLike[str]"]


class LocalFunction:
    """One function of the template, built and runnable locally (see the module's documentation).

    ``template`` is the source template (``template.yaml``); ``logical_id`` the function
    (``ConsumerFunction``); ``build_dir`` a ``sam build`` output of that template.
    ``stack`` (a :class:`~emulator.stack.StackInfo`) resolves the environment to real
    resources and sets ``endpoint_url``; without it, ``endpoint_url`` is the local AWS
    endpoint and ``env_overrides`` must give every variable that names a resource.
    ``env_overrides`` always win over the template. ``python`` is the interpreter (default:
    this one; it must have boto3 and aws-lambda-powertools, which stand in for the runtime's
    SDK and the Powertools layer). ``echo_logs`` copies the function's output to stderr.
    """

    def __init__(
        self,
        template: PathLike = TEMPLATE_PATH,
        logical_id: str = "ConsumerFunction",
        build_dir: Optional[PathLike] = None,
        env_overrides: Optional[Mapping[str, str]] = None,
        endpoint_url: Optional[str] = None,
        *,
        stack: Optional[StackInfo] = None,
        parameter_overrides: Optional[Mapping[str, Any]] = None,
        region: Optional[str] = None,
        python: Optional[str] = None,
        echo_logs: bool = False,
        record_api_calls: bool = True,
    ) -> None:
        self.template = Path(template)
        self.logical_id = logical_id
        self.stack = stack
        self.region = region or (stack.region if stack else DEFAULT_REGION)
        self.endpoint_url = endpoint_url or (stack.endpoint_url if stack else None)
        self.python = python or sys.executable
        self.echo_logs = echo_logs
        self.record_api_calls = record_api_calls
        if build_dir is None:
            build_dir = (
                stack.build_dir if stack and stack.build_dir else self.template.parent / ".aws-sam" / "build"
            )
        self.build_dir = Path(build_dir).resolve()
        parameters = dict(stack.parameters) if stack else dict(parameter_overrides or {})
        self.settings = read_settings(self.template, parameters, self.region)
        self.function = self.settings.function(logical_id)
        self.timeout = float(self.function.timeout)
        self.code_dir, self.layer_paths, self.external_layers = function_setup.built_paths(self, parameters)
        self.environment = function_setup.environment(self, parameters, dict(env_overrides or {}))

        self.last_result: Optional[InvocationResult] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._responses: Any = None
        self._log_lines: List[str] = []
        self._log_cond = threading.Condition()
        self._lock = threading.Lock()
        #: The process started and not invoked yet (its first invocation is the cold start).
        self._unused = False

    # ------------------------------------------------------------------ set-up

    # ------------------------------------------------------------------ the worker process

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        env = dict(self.environment)
        env["LOCAL_LAMBDA_BOOTSTRAP"] = json.dumps(
            {
                "handler": self.function.handler,
                "task_root": str(self.code_dir),
                "layer_paths": self.layer_paths,
                "response_fd": write_fd,
                "record_api_calls": self.record_api_calls,
                "context_module": lambda_context.__file__,
            }
        )
        self._process = subprocess.Popen(
            # -B: /var/task and /opt are read-only on Lambda, nothing is written beside the built code
            [self.python, "-I", "-B", str(_BOOTSTRAP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(self.code_dir),
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self._responses = os.fdopen(read_fd, "rb")
        self._log_lines = []
        self._unused = True
        reader = threading.Thread(target=self._read_logs, args=(self._process,), daemon=True)
        reader.start()

    def _reply(self, wait: float) -> bytes:
        """The worker's next reply on the response pipe, or b"" if none came within ``wait``
        seconds; the line ending the init phase is passed over (an init longer than
        ``INIT_PHASE_SECONDS`` ends within the invocation, as on Lambda)."""
        deadline = time.monotonic() + wait
        while True:
            ready, _, _ = select.select([self._responses], [], [], max(0.0, deadline - time.monotonic()))
            line: bytes = self._responses.readline() if ready else b""
            if not line.startswith(_READY):
                return line

    def _init_phase(self) -> None:
        """Wait for a cold start's init phase to end, for up to ``INIT_PHASE_SECONDS``."""
        ready, _, _ = select.select([self._responses], [], [], INIT_PHASE_SECONDS)
        if ready:  # the ready line, or the end of a worker that exited (its invocation says so)
            self._responses.readline()

    def _read_logs(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            if self.echo_logs:
                sys.stderr.write(f"[{self.logical_id}] {line}")
            with self._log_cond:
                self._log_lines.append(line)
                self._log_cond.notify_all()
        with self._log_cond:
            self._log_cond.notify_all()

    def _take_logs(self, request_id: str, wait: float) -> str:
        marker = f"END RequestId: {request_id}"
        deadline = time.monotonic() + wait
        with self._log_cond:
            while not any(line.startswith(marker) for line in self._log_lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._process is None or self._process.poll() is not None:
                    break
                self._log_cond.wait(remaining)
            lines, self._log_lines = self._log_lines, []
        return "".join(lines)

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, self._responses):
            if stream is not None:
                stream.close()
        self._responses = None

    # ------------------------------------------------------------------ public API

    def invoke(
        self, event: Any, *, timeout: Optional[float] = None, grace: Optional[float] = None
    ) -> InvocationResult:
        """Invoke the handler with ``event`` (any JSON value) and wait for its outcome.

        ``timeout`` replaces the function's Timeout for this invocation. ``grace``: seconds
        more before an invocation past its Timeout is stopped (default ``TIMEOUT_GRACE_SECONDS``
        only), for a test that checks that the handler returns by itself. Invocations of one
        :class:`LocalFunction` run one at a time, like requests to one execution environment.
        """
        with self._lock:
            result = self._invoke(event, self.timeout if timeout is None else float(timeout), grace)
        self.last_result = result
        return result

    def start(self) -> None:
        """Start the execution environment now (its init phase: the handler's module imported), not at
        the first invocation: its cold start then overlaps with what the caller does meanwhile."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._stop()
                self._start()

    def _invoke(self, event: Any, timeout: float, grace: Optional[float]) -> InvocationResult:
        if self._process is None or self._process.poll() is not None:
            self._stop()
            self._start()
        cold, self._unused = self._unused, False
        if cold:
            self._init_phase()
        process = self._process
        assert process is not None and process.stdin is not None
        request_id = str(uuid.uuid4())
        deadline_ms = time.time() * 1000 + timeout * 1000
        request = {"request_id": request_id, "event": event, "deadline_ms": deadline_ms}
        try:
            process.stdin.write((json.dumps(request) + "\n").encode("utf-8"))
            process.stdin.flush()
        except (BrokenPipeError, TypeError, ValueError) as exc:
            self._stop()
            raise InvocationError(f"cannot send the event to {self.logical_id}: {exc}") from exc

        line = self._reply(timeout + TIMEOUT_GRACE_SECONDS + (grace or 0.0))
        if not line:
            exited = process.poll()
            self._stop()
            logs = self._take_logs(request_id, 0.5)
            if exited is None:
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {timeout:.2f} seconds",
                }
            else:
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": (
                        f"RequestId: {request_id} Error: Runtime exited with error: exit status {exited}"
                    ),
                }
            return InvocationResult(request_id, error=error, logs=logs, cold_start=cold)
        reply = json.loads(line)
        logs = self._take_logs(request_id, 2.0)
        return InvocationResult(
            request_id,
            return_value=reply.get("result") if reply["ok"] else None,
            error=None if reply["ok"] else reply["error"],
            logs=logs,
            duration_ms=float(reply.get("duration_ms", 0.0)),
            cold_start=cold,
            api_calls=list(reply.get("api_calls") or []),
        )

    def __call__(self, event: Any, context: Any = None) -> Any:
        """Use the function as a plain ``handler(event, context)`` (for an event source driver).

        The invocation's timeout is what ``context`` has left (else the function's Timeout).
        Returns the handler's return value; raises :class:`FunctionError` (with the
        :class:`InvocationResult`) when it raised or timed out. :attr:`last_result` keeps
        the last outcome either way.
        """
        timeout = None
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is not None:
            timeout = max(float(remaining()) / 1000.0, 0.001)
        result = self.invoke(event, timeout=timeout)
        self.last_result = result
        if not result.ok:
            raise FunctionError(result)
        return result.return_value

    def close(self) -> None:
        """Stop the function's process (the next invocation is a cold start)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self._stop()

    def __repr__(self) -> str:
        return f"LocalFunction({self.logical_id!r}, build_dir={str(self.build_dir)!r})"
