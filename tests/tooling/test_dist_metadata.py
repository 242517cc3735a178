"""`make dist` builds without setuptools' licence warning: pyproject.toml's metadata, applied as the build
applies it, warns about nothing (the licence is an SPDX expression with its file, not a TOML table)."""

from __future__ import annotations

import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def applied_warnings(pyproject: Path) -> list[str]:
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), pyproject)
    assert distribution.metadata.name == "lambda-batch"
    return [str(w.message) for w in caught]


def test_the_metadata_gives_no_licence_warning() -> None:
    messages = applied_warnings(ROOT / "pyproject.toml")
    assert [m for m in messages if "licen" in m.lower()] == []


def test_the_old_table_form_would_warn(tmp_path: Path) -> None:
    """The check above can fail: the deprecated form of the same file warns."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    old = text.replace('license = "MIT"\nlicense-files = ["LICENSE"]', 'license = { text = "MIT" }')
    assert old != text
    (tmp_path / "pyproject.toml").write_text(old, encoding="utf-8")
    for name in ("README.md", "LICENSE"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / "layer" / "lambda_batch").mkdir(parents=True)
    (tmp_path / "layer" / "lambda_batch" / "__init__.py").write_text('__version__ = "0.1.0"\n')
    assert any("license" in m.lower() for m in applied_warnings(tmp_path / "pyproject.toml"))
