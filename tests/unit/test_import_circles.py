"""No import circle through the dispatchers' half of the layer (engine/, dispatchers/, core/, payloads/),
counting every import: top-level, under ``TYPE_CHECKING`` and inside functions (grimp reads them all)."""

from __future__ import annotations

import pathlib
from typing import Dict, List, Set

import pytest

grimp = pytest.importorskip("grimp")

LAYER = pathlib.Path(__file__).resolve().parents[2] / "layer"
PARTS = ("engine", "dispatchers", "core", "payloads")


def _circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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
    return found


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_runs_through_the_engine_the_dispatchers_the_core_or_the_payloads(monkeypatch):
    monkeypatch.syspath_prepend(str(LAYER))
    imports = grimp.build_graph("lambda_batch", cache_dir=None)
    graph = {module: set(imports.find_modules_directly_imported_by(module)) for module in imports.modules}
    ours = [circle for circle in _circles(graph) if any(set(m.split(".")[1:2]) & set(PARTS) for m in circle)]
    assert ours == []
