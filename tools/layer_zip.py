"""Build the lambda_batch layer zip: the same files ``sam build`` puts in the layer, zipped.

Usage::

    python tools/layer_zip.py [--out dist]

The layer is built by ``layer/Makefile`` (the build ``sam build`` runs for LambdaBatchLayer:
``python/lambda_batch``, no caches or egg-info) and zipped with sorted entries and fixed
timestamps, so the same source gives the same bytes. The zip is written as
``lambda-batch-layer-<version>.zip`` (the version is ``lambda_batch.__version__``); its path is
the last line of output. Attach it with ``aws lambda publish-layer-version --zip-file fileb://...``
or ``make publish-layer``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.sam_files import zip_folder  # noqa: E402 - after the path is set

INIT = ROOT / "layer" / "lambda_batch" / "__init__.py"


def version() -> str:
    """``lambda_batch.__version__``, read from the source (the project's one version)."""
    match = re.search(r'^__version__ = "([^"]+)"', INIT.read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise SystemExit(f"no __version__ in {INIT}")
    return match.group(1)


def build_layer(artifacts_dir: Path) -> Path:
    """Run the layer's makefile build (as ``sam build`` does) into ``artifacts_dir``; return it."""
    subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(ROOT / "layer"),
            "build-LambdaBatchLayer",
            f"ARTIFACTS_DIR={artifacts_dir}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return artifacts_dir


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "dist"), help="folder of the zip (default: dist)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-batch-layer-") as scratch:
        data = zip_folder(build_layer(Path(scratch)))
    target = out / f"lambda-batch-layer-{version()}.zip"
    target.write_bytes(data)
    print(f"layer zip: {len(data)} bytes", file=sys.stderr)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
