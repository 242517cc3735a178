"""Regenerate the sample outputs the documentation shows from the code as it is: never edit them by hand.

Each sample block of the documents in ``DOCUMENTS`` (the demo page, docs/guide/demo.md, holds the
``make demo`` summary) sits between two markers::

    <!-- sample: make demo -->
    ```
    ...what the command printed...
    ```
    <!-- /sample -->

``python tools/readme_samples.py`` runs each command it knows (the marker names it) and
rewrites the block in between with what the command printed on stdout; nothing else of the
document changes. ``--check`` only reports the blocks whose shape (every line with its figures
blanked) differs from a fresh run, and exits 1 if any does.

Example::

    .venv/bin/python tools/readme_samples.py            # rewrite the documents' samples
    .venv/bin/python tools/readme_samples.py --check    # are they still what the code prints?
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
#: The documents that may hold sample blocks (the README is the short front page: none today).
DOCUMENTS = [ROOT / "docs" / "guide" / "demo.md", ROOT / "README.md"]

#: Marker name -> the command whose stdout is the sample (run from the repository's root).
SAMPLES: Dict[str, List[str]] = {
    "make demo": [sys.executable, "-m", "demo", "--quiet"],
}

_BLOCK = re.compile(
    r"(<!-- sample: (?P<name>[^>]+?) -->\n```\n)(?P<body>.*?)(```\n<!-- /sample -->)", re.DOTALL
)


def shape(text: str) -> List[str]:
    """The lines of a sample with every figure blanked: what must not drift between runs."""
    lines = [re.sub(r"\d+(\.\d+)?", "#", line).rstrip() for line in text.strip("\n").splitlines()]
    return [re.sub(r"\s+", " ", line) for line in lines]


def run_sample(name: str) -> str:
    """What the sample's command prints on stdout (raises when it fails)."""
    completed = subprocess.run(
        SAMPLES[name], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{name!r} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return completed.stdout.strip("\n") + "\n"


def blocks(text: str) -> Dict[str, str]:
    """Marker name -> the sample block's body, for every sample block of ``text``."""
    return {match["name"]: match["body"] for match in _BLOCK.finditer(text)}


def rewrite(text: str, outputs: Dict[str, str]) -> str:
    """``text`` with each named block's body replaced by its new output."""

    def replace(match: re.Match[str]) -> str:
        body = outputs.get(match["name"], match["body"])
        return f"{match.group(1)}{body}{match.group(4)}"

    return _BLOCK.sub(replace, text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare shapes only; change nothing")
    args = parser.parse_args(argv)
    found: Dict[str, str] = {}
    for document in DOCUMENTS:
        found.update(blocks(document.read_text(encoding="utf-8")))
    unknown = sorted(set(found) - set(SAMPLES))
    if unknown:
        print(f"error: sample blocks with no command here: {unknown}", file=sys.stderr)
        return 2
    outputs = {name: run_sample(name) for name in found}
    if args.check:
        stale = [name for name in found if shape(found[name]) != shape(outputs[name])]
        for name in stale:
            print(f"stale: the {name!r} sample no longer has the shape of its output", file=sys.stderr)
        return 1 if stale else 0
    # Read again just before writing: others may have edited the documents meanwhile.
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        if blocks(text):
            document.write_text(rewrite(text, outputs), encoding="utf-8")
    for name in outputs:
        print(f"rewrote the {name!r} sample", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
