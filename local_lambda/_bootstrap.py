"""The runtime side of the local invoker: runs one function's handler as Lambda's Python runtime does.

Started by :class:`local_lambda.invoker.LocalFunction` as ``python -I _bootstrap.py`` (standard
library only, nothing of the repository on the path), with its settings in the environment
variable ``LOCAL_LAMBDA_BOOTSTRAP`` (JSON: handler, task_root, layer_paths, response_fd,
record_api_calls, context_module: the path of ``devtools/lambda_context.py``). Like a Lambda
execution environment it:

* puts the function's code (``LAMBDA_TASK_ROOT``) first on ``sys.path``, then each layer's
  ``python`` folder (``/opt/python``), then the interpreter's own site-packages, which stand
  in for the runtime's boto3 and for layers of other accounts (Powertools); any other copy
  of a package a layer ships (an editable install of the repository) is taken off the path;
* imports the handler once (the cold start, its init phase: it says so with a line
  ``{"ready": true}`` on ``response_fd`` when done) and then serves invocations until stdin closes
  (warm starts), one JSON line per request on stdin, one JSON line per response on the
  file descriptor ``response_fd``;
* gives the handler a context whose ``get_remaining_time_in_millis()`` counts down to the
  deadline the invoker sends (the function's Timeout);
* lets the handler's output (stdout and stderr) through, and ends each invocation with a
  line ``END RequestId: <id>`` on stdout, as Lambda's logs do.

With ``record_api_calls``, every AWS API call made through botocore is recorded (service,
operation, and the request's target: queue URL, table, stream, namespace, a transaction's
[kind, table] pairs) and returned with the response.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from typing import Any, Dict, List, Optional, Set

_TARGET_PARAMETERS = (
    "QueueUrl",
    "QueueName",
    "TableName",
    "StreamName",
    "StreamARN",
    "Namespace",
    "RequestItems",
    "Bucket",  # S3: the large payloads' bucket
)


def _configure_path(task_root: str, layer_paths: List[str]) -> None:
    shipped: Set[str] = set()
    for layer in layer_paths:
        if os.path.isdir(layer):
            shipped.update(
                name for name in os.listdir(layer) if not name.endswith((".dist-info", ".egg-info"))
            )
    kept = []
    for entry in sys.path:
        if not entry or os.path.abspath(entry) == os.path.dirname(os.path.abspath(__file__)):
            continue
        if any(os.path.exists(os.path.join(entry, name, "__init__.py")) for name in shipped):
            continue  # another copy of a package a layer ships
        kept.append(entry)
    sys.path[:] = [task_root, *layer_paths, *kept]


def _context_class(path: str) -> Any:
    """The tooling's one Lambda context class (``devtools/lambda_context.py``), loaded by its path:
    nothing of the repository is on ``sys.path`` here, nor is put there."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_local_lambda_context", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.LambdaContext


def _context(context_class: Any, request_id: str, deadline_ms: float) -> Any:
    """The context of one invocation, from what Lambda puts in the environment."""
    return context_class(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", ""),
        (deadline_ms - time.time() * 1000) / 1000,
        os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        os.environ.get("AWS_REGION", "us-east-1"),
        os.environ.get("LOCAL_LAMBDA_ACCOUNT_ID", "123456789012"),
        os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        aws_request_id=request_id,
        log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
        log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
    )


class _CallRecorder:
    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []

    def install(self) -> None:
        import botocore.client

        original = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private to botocore
        recorder = self

        def recording(client: Any, operation_name: str, api_params: Dict[str, Any]) -> Any:
            target = {}
            for key in _TARGET_PARAMETERS:
                if key in api_params:
                    value = api_params[key]
                    target[key] = sorted(value) if key == "RequestItems" else value
            if isinstance(api_params.get("TransactItems"), list):  # DynamoDB: [kind, table] of each item
                target["TransactItems"] = [
                    [kind, body.get("TableName")]
                    for item in api_params["TransactItems"]
                    for kind, body in (item.items() if isinstance(item, dict) else [])
                    if isinstance(body, dict)
                ]
            recorder.calls.append(
                {
                    "service": client.meta.service_model.service_name,
                    "operation": operation_name,
                    "target": target,
                }
            )
            return original(client, operation_name, api_params)

        setattr(botocore.client.BaseClient, "_make_api_call", recording)  # noqa: B010 - private to botocore


def _error(exc: BaseException, error_type: Optional[str] = None) -> Dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[1:],
    }


def main() -> None:
    # Ctrl-C in the terminal is the caller's to handle (it stops this process): no traceback of ours.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = json.loads(os.environ.pop("LOCAL_LAMBDA_BOOTSTRAP"))
    response = os.fdopen(config["response_fd"], "w", encoding="utf-8")
    context_class = _context_class(config["context_module"])
    _configure_path(config["task_root"], config["layer_paths"])
    os.chdir(config["task_root"])
    recorder = _CallRecorder()

    init_error = None
    handler: Any = None
    try:
        if config.get("record_api_calls"):
            recorder.install()
        module_name, _, function_name = config["handler"].rpartition(".")
        module = __import__(module_name)
        for part in module_name.split(".")[1:]:
            module = getattr(module, part)
        handler = getattr(module, function_name)
    except Exception as exc:
        init_error = _error(exc, "Runtime.ImportModuleError")
        traceback.print_exc()
    # The init phase is over (as Lambda's, it is not counted in the first invocation's Timeout).
    response.write(json.dumps({"ready": True}) + "\n")
    response.flush()

    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        recorder.calls = []
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.monotonic()
        if init_error is not None:
            reply = {"ok": False, "error": init_error}
        else:
            try:
                context = _context(context_class, request_id, request["deadline_ms"])
                result = handler(request["event"], context)
                try:
                    reply = {"ok": True, "result": json.loads(json.dumps(result))}
                except (TypeError, ValueError) as exc:
                    reply = {"ok": False, "error": _error(exc, "Runtime.MarshalError")}
            except Exception as exc:
                traceback.print_exc()
                reply = {"ok": False, "error": _error(exc)}
        reply["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        reply["api_calls"] = recorder.calls
        sys.stdout.flush()
        sys.stderr.flush()
        print(f"END RequestId: {request_id}", flush=True)
        response.write(json.dumps(reply) + "\n")
        response.flush()


if __name__ == "__main__":
    main()
