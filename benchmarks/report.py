"""docs/BENCHMARKS.md, one section per benchmark: each run replaces its own section and leaves the others.

Example::

    publish("## Dispatchers", text, write=True)   # prints the section, then writes it to the page
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\nEvery figure here is a ratio measured in one run against the alternative "
    "named beside it; `make bench` reproduces them.\n"
)


def write_section(heading: str, text: str, doc: Path = DOC) -> None:
    """Replace (or add at the end) the section of ``doc`` that starts with ``heading`` by ``text``."""
    content = doc.read_text(encoding="utf-8") if doc.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(content):
        content = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", content, count=1)
    else:
        content = content.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(content.rstrip("\n") + "\n", encoding="utf-8")


def publish(heading: str, text: str, *, write: bool) -> None:
    """Print ``text``; with ``write``, put it in docs/BENCHMARKS.md under ``heading`` and say so."""
    print(text)
    if write:
        write_section(heading, text)
        print(f"written to {DOC.relative_to(ROOT)}")
