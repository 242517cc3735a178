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
