"""One source for the version: lambda_batch.__version__; the package metadata and template.yaml follow it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from devtools.sam_files import load_template

ROOT = Path(__file__).resolve().parents[2]


def source_version() -> str:
    match = re.search(
        r'^__version__ = "([^"]+)"', (ROOT / "layer/lambda_batch/__init__.py").read_text(), re.M
    )
    assert match is not None
    return match.group(1)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib")
def test_the_package_version_is_read_from_lambda_batch() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "lambda_batch.__version__"}


def test_template_yaml_states_the_same_version() -> None:
    template = load_template(ROOT / "template.yaml")
    version = source_version()
    assert str(template["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"]) == version
    description = template["Resources"]["LambdaBatchLayer"]["Properties"]["Description"]
    assert description.startswith(f"lambda_batch {version} ")
