"""The public API: every advertised name imports from the top-level package and documents itself."""

from __future__ import annotations

import importlib
import inspect

import pytest

import lambda_batch


def test_all_lists_exactly_the_lazy_exports():
    assert sorted(lambda_batch.__all__) == sorted(lambda_batch._EXPORTS)


@pytest.mark.parametrize("name", sorted(lambda_batch._EXPORTS))
def test_every_public_name_imports_and_has_a_docstring(name):
    module = importlib.import_module("lambda_batch")
    value = getattr(module, name)
    doc = inspect.getdoc(value)
    assert doc, f"lambda_batch.{name} has no docstring"
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__module__.startswith("lambda_batch."), value.__module__


def test_unknown_name_is_a_clear_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        lambda_batch.NoSuchThing  # noqa: B018


def test_package_ships_py_typed():
    from pathlib import Path

    assert (Path(lambda_batch.__file__).parent / "py.typed").is_file()
