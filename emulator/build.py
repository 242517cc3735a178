"""Build the application with ``sam build`` (no container: every artifact uses ``BuildMethod: makefile``).

Example::

    build_dir = sam_build()                 # a new temporary folder
    sorted(p.name for p in build_dir.iterdir())   # ['ConsumerFunction', 'LambdaBatchLayer', ...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, List, Mapping, Union

from devtools.sam_files import TEMPLATE_PATH
from emulator.template import StackError


def sam_executable() -> str:
    """The ``sam`` of this interpreter's environment, else the one on PATH."""
    candidate = Path(sys.executable).parent / "sam"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sam")
    if found is None:
        raise StackError("the SAM CLI (sam) is not installed: run `make venv`")
    return found


def sam_build(
    template: Union[str, os.PathLike[str]] = TEMPLATE_PATH,
    build_dir: Union[str, os.PathLike[str], None] = None,
    *,
    timeout: float = 300.0,
) -> Path:
    """Run ``sam build`` (no container) into ``build_dir`` (default: a new temporary folder); return it.

    The layer and the functions use ``BuildMethod: makefile``, so this needs only
    ``make``; SAM's cache goes into the build folder's parent, never the repository.
    """
    template_path = Path(template).resolve()
    target = (
        Path(build_dir) if build_dir is not None else Path(tempfile.mkdtemp(prefix="lambda-batch-build-"))
    )
    target = target.resolve()
    cache_dir = target.parent / f".{target.name}-sam-cache"
    command = [
        sam_executable(),
        "build",
        "--template-file",
        str(template_path),
        "--build-dir",
        str(target),
        "--cache-dir",
        str(cache_dir),
    ]
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    completed = subprocess.run(  # noqa: PLW1510 - checked just below
        command,
        cwd=str(template_path.parent),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if completed.returncode != 0:
        raise StackError(
            f"sam build failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    return target


def artifact_ids(template: Mapping[str, Any]) -> List[str]:
    """Logical ids of the template's functions and layers that `sam build` builds."""
    buildable = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    return [
        logical_id
        for logical_id, r in (template.get("Resources") or {}).items()
        if r.get("Type") in buildable
    ]
