"""The shape issue 9 set for layer/: no function over cyclomatic complexity 15 (radon, as
``radon cc`` counts it; ruff's C901 gate counts branches a little differently), and no module
far over the ~500 lines of one concept."""

from __future__ import annotations

import pathlib

import pytest

radon_visitors = pytest.importorskip("radon.visitors")

LAYER = pathlib.Path(__file__).resolve().parents[2] / "layer" / "lambda_batch"
MAX_COMPLEXITY = 15
MAX_MODULE_LINES = 500  # a file follows its concept: about 500 lines at most (the developers' guide)


def _modules():
    return sorted(LAYER.rglob("*.py"))


def test_no_function_in_the_layer_is_over_complexity_15():
    over = []
    for path in _modules():
        visitor = radon_visitors.ComplexityVisitor.from_code(path.read_text())
        blocks = list(visitor.functions) + [method for cls in visitor.classes for method in cls.methods]
        over += [
            f"{path.relative_to(LAYER)}:{block.lineno} {block.name} ({block.complexity})"
            for block in blocks
            if block.complexity > MAX_COMPLEXITY
        ]
    assert over == []


def test_no_module_of_the_layer_is_far_over_500_lines():
    long = [
        f"{path.relative_to(LAYER)}: {count} lines"
        for path in _modules()
        if (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def test_the_folders_of_the_layer_import_nothing_when_imported():
    """core/, engine/, payloads/, processing/, dispatchers/: a docstring only, so that importing one
    module of a part loads nothing else (cold start)."""
    import ast

    heavy = []
    for init in sorted(LAYER.glob("*/__init__.py")):
        body = ast.parse(init.read_text()).body
        if not (len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):
            heavy.append(str(init.relative_to(LAYER)))
    assert sorted(p.parent.name for p in LAYER.glob("*/__init__.py")) == [
        "core",
        "dispatchers",
        "engine",
        "payloads",
        "processing",
    ]
    assert heavy == []


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(LAYER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path, modules: set) -> set:
    """Every layer module ``path`` imports: at the top, under ``TYPE_CHECKING`` and inside functions."""
    import ast

    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from package import module`` imports that module; ``from module import name`` the module
            submodules = [f"{module}.{alias.name}" for alias in node.names]
            targets = [target for target in submodules if target in modules] or [module]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def _cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layer_import_cycles() -> list:
    """The import circles of layer/, counting every import (top level, TYPE_CHECKING, in functions).

    The package ``lambda_batch`` itself is left out: its names load on first use and it imports
    every module only for type checkers; no layer module imports it.
    """
    paths = {_module_name(path): path for path in _modules()}
    modules = set(paths) - {"lambda_batch"}
    graph = {name: _imports(paths[name], modules) for name in sorted(modules)}
    return _cycles(graph)


def test_the_circle_check_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_the_layer_counting_type_checking_and_function_imports():
    assert layer_import_cycles() == []
