"""`sam build` on this machine (no Docker): the layer's layout, contents and size."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from emulator.stack import zip_folder

from .conftest import ROOT

pytestmark = pytest.mark.slow

#: The layer's zip must stay small: it is pure Python with no dependency. It was 64 KB with the
#: first version; large payloads, KPL aggregation, Kafka, Pipes and the record objects took it to
#: about 170 KB. A layer's cold-start cost is what it imports, not its size on disk (the import
#: cost test guards that); this goal keeps the download and unzip small.
LAYER_ZIP_GOAL_BYTES = 256 * 1024


def test_layer_is_built_as_python_lambda_batch(build_dir: Path) -> None:
    layer = build_dir / "LambdaBatchLayer"
    assert sorted(p.name for p in layer.iterdir()) == ["python"]
    assert sorted(p.name for p in (layer / "python").iterdir()) == ["lambda_batch"]
    built = {
        p.relative_to(layer / "python" / "lambda_batch")
        for p in (layer / "python" / "lambda_batch").rglob("*")
    }
    source = {
        p.relative_to(ROOT / "layer" / "lambda_batch")
        for p in (ROOT / "layer" / "lambda_batch").rglob("*")
        if "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }
    assert built == source
    assert Path("py.typed") in built


def test_layer_has_no_sdk_and_no_bytecode(build_dir: Path) -> None:
    names = [
        str(p.relative_to(build_dir / "LambdaBatchLayer"))
        for p in (build_dir / "LambdaBatchLayer").rglob("*")
    ]
    assert not [n for n in names if "boto3" in n or "botocore" in n or "s3transfer" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or ".egg-info" in n]


def test_layer_zip_size_is_reported_and_under_the_goal(build_dir: Path, record_property) -> None:
    data = zip_folder(build_dir / "LambdaBatchLayer")
    unzipped = sum(p.stat().st_size for p in (build_dir / "LambdaBatchLayer").rglob("*") if p.is_file())
    record_property("layer_zip_bytes", len(data))
    print(
        f"\nlambda_batch layer: {len(data)} bytes zipped ({len(data) / 1024:.1f} KiB),"
        f" {unzipped} bytes unzipped"
    )
    assert len(data) < LAYER_ZIP_GOAL_BYTES
    with zipfile.ZipFile(BytesIO(data)) as archive:
        assert "python/lambda_batch/__init__.py" in archive.namelist()


def test_functions_carry_only_their_own_modules(build_dir: Path) -> None:
    assert sorted(p.name for p in (build_dir / "ConsumerFunction").iterdir()) == [
        "app.py", "record_rules.py", "requirements.txt",
    ]  # fmt: skip
    assert sorted(p.name for p in (build_dir / "ProducerFunction").iterdir()) == [
        "app.py", "request.py", "requirements.txt",
    ]  # fmt: skip
    built = (build_dir / "template.yaml").read_text()
    assert "CodeUri: ConsumerFunction" in built and "ContentUri: LambdaBatchLayer" in built
