"""Python 3.14 compatibility, checked statically (no 3.14 interpreter on this machine; the matrix,
`make test-pythons`, runs the layer's tests on 3.14 where one is installed):

- ruff parses and checks the layer with target-version py314 (syntax and errors);
- no use of an API that Python 3.14 removed or deprecated (an AST scan of layer/);
- every module of the layer imports with DeprecationWarning as an error on each Python here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.python_matrix import find_interpreter

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layer" / "lambda_batch"

#: module -> attributes that Python 3.14 removed, or deprecated (a DeprecationWarning on use).
GONE_IN_314 = {
    "ast": {"Num", "Str", "Bytes", "NameConstant", "Ellipsis"},  # removed
    "asyncio": {
        # removed: the child watchers
        "AbstractChildWatcher",
        "SafeChildWatcher",
        "FastChildWatcher",
        "MultiLoopChildWatcher",
        "ThreadedChildWatcher",
        "PidfdChildWatcher",
        "get_child_watcher",
        "set_child_watcher",
        # deprecated: the policy system and asyncio.iscoroutinefunction
        "get_event_loop_policy",
        "set_event_loop_policy",
        "AbstractEventLoopPolicy",
        "DefaultEventLoopPolicy",
        "iscoroutinefunction",
        # get_event_loop() raises RuntimeError in 3.14 when no loop is set
        "get_event_loop",
    },
    "pkgutil": {"find_loader", "get_loader"},  # removed
    "importlib.abc": {"ResourceReader", "Traversable", "TraversableResources"},  # removed
    "sqlite3": {"version", "version_info"},  # removed
    "urllib.request": {"URLopener", "FancyURLopener"},  # removed
    "pty": {"master_open", "slave_open"},  # removed
    "typing": {"ByteString", "no_type_check_decorator"},  # deprecated
    "collections.abc": {"ByteString"},  # deprecated
    "codecs": {"open"},  # deprecated
    "datetime": {"utcnow", "utcfromtimestamp"},  # deprecated since 3.12 (datetime.datetime.*)
}
#: Uses that are known and safe on 3.14, with the reason.
ALLOWED = {
    ("handlers.py", "asyncio.get_event_loop_policy"): (
        "the DeprecationWarning is suppressed around the call and the RuntimeError 3.14 raises when no "
        "loop is set is caught (a new loop is made); the policy API is removed only in 3.16"
    ),
}


def uses(path: Path) -> set[str]:
    """``module.attribute`` names of GONE_IN_314 used in ``path`` (imports and attribute access)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in GONE_IN_314:
            for alias in node.names:
                if alias.name in GONE_IN_314[node.module]:
                    found.add(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            inner: ast.expr = node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name):
                dotted = [aliases.get(inner.id, inner.id), *reversed(parts)]
                for cut in range(1, len(dotted)):
                    module, attribute = ".".join(dotted[:cut]), dotted[cut]
                    if attribute in GONE_IN_314.get(module, ()):
                        found.add(f"{module}.{attribute}")
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio\nimport ast as a\nfrom pkgutil import find_loader\n"
        "asyncio.get_event_loop()\nx = a.Num\n"
    )
    assert uses(sample) == {"asyncio.get_event_loop", "ast.Num", "pkgutil.find_loader"}


def test_no_api_removed_or_deprecated_in_python_314_is_used() -> None:
    unexpected, seen = [], set()
    for path in sorted(LAYER.rglob("*.py")):
        for name in sorted(uses(path)):
            seen.add((path.name, name))
            if (path.name, name) not in ALLOWED:
                unexpected.append(f"{path.relative_to(ROOT)}: {name}")
    assert not unexpected, "APIs removed or deprecated in Python 3.14:\n" + "\n".join(unexpected)
    assert set(ALLOWED) <= seen, "an allowed use is gone: remove it from ALLOWED"


def test_ruff_checks_the_layer_as_python_314() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ruff"), "check", "--no-cache", "--target-version", "py314",
         "--select", "E9,F,PLE", "--output-format", "concise", "layer"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


IMPORT_ALL = """
import importlib, pkgutil, warnings
import lambda_batch
names = [m.name for m in pkgutil.walk_packages(lambda_batch.__path__, "lambda_batch.")]
for name in names:
    importlib.import_module(name)
for name in lambda_batch.__all__:
    getattr(lambda_batch, name)
print(len(names))
"""


@pytest.mark.parametrize("version", ["3.12", "3.13", "3.14"])
def test_every_layer_module_imports_with_deprecation_warnings_as_errors(version: str, tmp_path: Path) -> None:
    interpreter = find_interpreter(version)
    if interpreter is None:
        pytest.skip(f"Python {version} is not installed here (checked statically above)")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PYTHONPATH"] = str(ROOT / "layer")
    result = subprocess.run(
        [interpreter, "-W", "error::DeprecationWarning", "-W", "error::PendingDeprecationWarning",
         "-c", IMPORT_ALL],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 30
