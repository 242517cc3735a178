"""`make layer-zip`: the same files as `sam build`'s LambdaBatchLayer, byte for byte, and the same
zip from the same source."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools import layer_zip

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_layer_zip_has_exactly_what_sam_build_puts_in_the_layer(tmp_path: Path) -> None:
    subprocess.run(
        [
            str(Path(sys.executable).parent / "sam"),
            "build",
            "LambdaBatchLayer",
            "--build-dir",
            str(tmp_path / "sam"),
        ],
        cwd=ROOT,
        env=dict(os.environ, SAM_CLI_TELEMETRY="0"),
        check=True,
        capture_output=True,
    )
    built = tmp_path / "sam" / "LambdaBatchLayer"
    sam_files = {p.relative_to(built).as_posix(): p.read_bytes() for p in built.rglob("*") if p.is_file()}

    assert layer_zip.main(["--out", str(tmp_path / "dist")]) == 0
    target = tmp_path / "dist" / f"lambda-batch-layer-{layer_zip.version()}.zip"
    with zipfile.ZipFile(target) as archive:
        zipped = {name: archive.read(name) for name in archive.namelist()}

    assert sorted(zipped) == sorted(sam_files)
    assert zipped == sam_files
    assert "python/lambda_batch/__init__.py" in zipped
    # Deterministic: the same source gives the same bytes.
    first = target.read_bytes()
    assert layer_zip.main(["--out", str(tmp_path / "dist")]) == 0
    assert target.read_bytes() == first
