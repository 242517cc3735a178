"""The relative links of the examples' READMEs resolve: the file exists, and its heading when one is named."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = sorted((ROOT / "examples").rglob("README.md"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """A heading's anchor as MkDocs makes it (Python-Markdown's toc slugify)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown: Path) -> List[str]:
    text = re.sub(r"```.*?```", "", markdown.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [slug(h) for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)]


def relative_links() -> List[Tuple[Path, str]]:
    found = []
    for readme in READMES:
        for target in LINK.findall(readme.read_text(encoding="utf-8")):
            if not re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
                found.append((readme, target))
    return found


def test_the_examples_have_readmes_with_relative_links() -> None:
    assert READMES and relative_links()


@pytest.mark.parametrize(
    ("readme", "target"), relative_links(), ids=[f"{r.parent.name}:{t}" for r, t in relative_links()]
)
def test_a_relative_link_resolves(readme: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    resolved = (readme.parent / path).resolve() if path else readme
    assert resolved.exists(), f"{readme.relative_to(ROOT)}: {target} names no file"
    if anchor:
        assert anchor in anchors(resolved), f"{readme.relative_to(ROOT)}: {target}: no such heading"


def test_slug_is_mkdocs() -> None:
    assert slug("From Powertools for AWS Lambda v3 (`BatchProcessor`, `process_partial_response`)") == (
        "from-powertools-for-aws-lambda-v3-batchprocessor-process_partial_response"
    )
