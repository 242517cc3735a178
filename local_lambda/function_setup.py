"""Setting up a local function as Lambda would: its built code and layers, and its environment.

The environment is the template's (Globals + the function's ``Environment``), with every
``!Ref`` / ``!GetAtt`` resolved to the resources of a stack deployed on the emulator, plus
what Lambda sets (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``...), credentials and
``AWS_ENDPOINT_URL``.

Example::

    code_dir, layer_paths, external_layers = built_paths(function, parameters)
    environment(function, parameters, {})["AWS_LAMBDA_FUNCTION_NAME"]
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Tuple

from devtools.aws_session import credentials_environment
from emulator.intrinsics import Intrinsics
from emulator.template import StackError, translate_template
from local_lambda.results import InvocationError

if TYPE_CHECKING:
    from local_lambda.invoker import LocalFunction


def built_paths(fn: LocalFunction, parameters: Mapping[str, Any]) -> Tuple[Path, List[str], List[str]]:
    """The function's built code folder, its layers' ``python`` folders, and the layers of other accounts."""
    built_template = fn.build_dir / "template.yaml"
    if not built_template.exists():
        raise InvocationError(
            f"{fn.build_dir} is not a `sam build` output (no template.yaml): run `make build`"
        )
    translated = translate_template(built_template, parameters, fn.region)
    resources = translated["Resources"]
    function = resources.get(fn.logical_id)
    if function is None:
        raise InvocationError(f"{fn.logical_id} is not in {built_template}")
    code_key = function["Properties"]["Code"]["S3Key"]
    code_dir = fn.build_dir / code_key
    if not code_dir.is_dir():
        raise InvocationError(f"the built code of {fn.logical_id} is missing: {code_dir}")
    intrinsics = Intrinsics(translated, parameters, region=fn.region)
    layer_paths: List[str] = []
    external: List[str] = []
    for layer in function["Properties"].get("Layers") or []:
        if isinstance(layer, Mapping) and layer.get("Ref") in resources:
            content = resources[layer["Ref"]]["Properties"]["Content"]["S3Key"]
            layer_paths.append(str(fn.build_dir / content / "python"))
            continue
        value = intrinsics.resolve(layer)
        if value:
            external.append(str(value))
    return code_dir, layer_paths, external


def environment(
    fn: LocalFunction, parameters: Mapping[str, Any], overrides: Dict[str, str]
) -> Dict[str, str]:
    """The template's variables resolved to the stack's resources, what Lambda sets, credentials."""
    function = fn.function
    if fn.stack is not None:
        intrinsics = fn.stack.intrinsics()
    else:
        intrinsics = Intrinsics(fn.settings.translated, parameters, region=fn.region)
    template_env: Dict[str, str] = {}
    for name, value in function.environment.items():
        if name in overrides:
            continue
        try:
            resolved = intrinsics.resolve(value)
        except StackError as exc:
            raise InvocationError(
                f"environment variable {name} of {fn.logical_id}: {exc}; "
                "deploy the stack to the emulator or give it in env_overrides"
            ) from None
        template_env[name] = "" if resolved is None else str(resolved)

    name = fn.stack.function_name(fn.logical_id) if fn.stack else fn.logical_id
    log_group = f"/aws/lambda/{name}"
    if fn.stack is not None:
        props = fn.stack.translated["Resources"][fn.logical_id].get("Properties") or {}
        configured = (props.get("LoggingConfig") or {}).get("LogGroup")
        if configured is not None:
            log_group = str(intrinsics.resolve(configured))
    env: Dict[str, str] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(fn.code_dir),
        "LAMBDA_RUNTIME_DIR": str(Path(fn.python).parent),
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "LOCAL_LAMBDA_ACCOUNT_ID": fn.stack.account_id if fn.stack else "123456789012",
        **credentials_environment(fn.endpoint_url),
    }
    if fn.endpoint_url:
        env["AWS_ENDPOINT_URL"] = fn.endpoint_url
    env.update(template_env)
    env.update(overrides)
    return env
