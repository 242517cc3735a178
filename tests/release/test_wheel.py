"""`make dist`'s wheel, installed into clean virtual environments with nothing else, runs the
getting-started example: no runtime dependency (not even boto3), one version everywhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Optional

import pytest

from tools.python_matrix import find_interpreter

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
UV = str(BIN / "uv")
EXAMPLE = ROOT / "examples" / "getting_started" / "native_sqs.py"


def init_version() -> str:
    match = re.search(
        r'^__version__ = "([^"]+)"', (ROOT / "layer/lambda_batch/__init__.py").read_text(), re.M
    )
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built as `make dist` builds them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--wheel",
            "--installer",
            "uv",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("lambda_batch-*-py3-none-any.whl")
    return wheel


def test_the_wheel_holds_the_package_only_with_no_runtime_dependency(dist: Path) -> None:
    wheel = wheel_of(dist)
    assert wheel.name == f"lambda_batch-{init_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"lambda_batch-{init_version()}.dist-info/METADATA").decode()
    assert {name.split("/")[0] for name in names} == {
        "lambda_batch",
        f"lambda_batch-{init_version()}.dist-info",
    }
    assert "lambda_batch/py.typed" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and all('extra == "' in line for line in requires), requires  # boto3 only as an extra
    assert "Provides-Extra: boto3" in metadata
    # The classifiers list the runtimes the layer declares (template.yaml's CompatibleRuntimes).
    declared = re.search(r"CompatibleRuntimes: \[(.*)\]", (ROOT / "template.yaml").read_text())
    assert declared
    listed = re.findall(r"Classifier: Programming Language :: Python :: (3\.\d+)", metadata)
    assert listed == declared.group(1).replace("python", "").split(", ")
    assert (dist / f"lambda_batch-{init_version()}.tar.gz").exists()


def install_and_run(dist: Path, version: str, tmp_path: Path) -> Optional[subprocess.CompletedProcess[str]]:
    interpreter = find_interpreter(version)
    if interpreter is None:
        return None
    venv = tmp_path / f"venv-{version}"
    subprocess.run([UV, "venv", "--quiet", "--python", interpreter, str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Offline, from the wheel alone: it must need nothing else.
    subprocess.run(
        [
            UV,
            "pip",
            "install",
            "--quiet",
            "--offline",
            "--no-index",
            "--python",
            str(venv / "bin" / "python"),
            str(wheel_of(dist)),
        ],
        check=True,
        env=env,
    )
    # Run from a folder of its own, so only the installed wheel can provide lambda_batch.
    workdir = tmp_path / f"run-{version}"
    workdir.mkdir()
    (workdir / "example.py").write_text(EXAMPLE.read_text())
    check = "import lambda_batch, sys; print(lambda_batch.__file__); print('boto3' in sys.modules)"
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", check],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in where.stdout.splitlines()[0]
    assert where.stdout.splitlines()[1] == "False"
    return subprocess.run(
        [str(venv / "bin" / "python"), "example.py"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_the_wheel_installed_alone_runs_the_getting_started_example(
    dist: Path, version: str, tmp_path: Path
) -> None:
    """3.12 and 3.13: the oldest and newest Lambda runtimes installed here (3.14 is not)."""
    result = install_and_run(dist, version, tmp_path)
    if result is None:
        pytest.skip(f"Python {version} is not installed here")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert (
        "m-1" in result.stderr and "quantity" not in result.stderr
    )  # the failure named, its body not logged
