"""The documentation site: `mkdocs build --strict` succeeds (no broken link, anchor or reference,
no docstring the API reference cannot render), every public name is documented, and every code
block the site shows is run by a test or marked as a fragment.

The site's pages show three kinds of code, each checked here:

- example files included whole with pymdownx.snippets (a fence holding only ``--8<-- "path"``):
  the file must be one the tests run (tests/release/test_wheel.py runs examples/getting_started,
  the examples tests run every file of examples/powertools and examples/boto3_batch_utils);
- README sections included by tools/mkdocs_hooks.py (``<!-- readme: HEADING -->``): their python
  and yaml blocks are run and checked by tests/docs/test_readme_code.py, their bash blocks by
  tests/demo/test_readme_commands.py, which must then cover that section;
- any other fence needs ``<!-- readme-test: fragment -->`` just before it (and python compiles).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from tools.mkdocs_hooks import DIRECTIVE, readme_section

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')
FRAGMENT = "<!-- readme-test: fragment -->"
#: Example folders whose every file a test runs, and the test that does.
TESTED_EXAMPLES = {
    "examples/getting_started": "tests/release/test_wheel.py",
    "examples/powertools": "tests/integration/test_examples_powertools.py",
    "examples/boto3_batch_utils": "tests/integration/test_examples_boto3_batch_utils.py",
}


def pages() -> List[Path]:
    return sorted(DOCS.rglob("*.md"))


def fences(path: Path) -> Iterator[Tuple[int, str, str, str]]:
    """(line, lang, body, the line before) of each fenced block of ``path``."""
    text = path.read_text(encoding="utf-8")
    for match in FENCE.finditer(text):
        before = [line for line in text[: match.start()].splitlines() if line.strip()]
        yield (
            text.count("\n", 0, match.start()) + 1,
            match.group("lang"),
            match.group("body"),
            (before[-1] if before else ""),
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mkdocs"), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="true"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.mark.slow
def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    for page in pages():
        rel = page.relative_to(DOCS).with_suffix("")
        html = site / (rel.parent if rel.name == "index" else rel) / "index.html"
        assert html.exists(), f"{page.relative_to(ROOT)} was not built"
    home = (site / "index.html").read_text()
    assert "python3.10 to python3.14" in home
    benchmarks = (site / "BENCHMARKS" / "index.html").read_text()
    assert "Dispatchers" in benchmarks  # docs/BENCHMARKS.md, as make bench writes it


@pytest.mark.slow
def test_every_public_name_is_documented_from_its_docstring(site: Path) -> None:
    sys.path.insert(0, str(ROOT / "layer"))
    import lambda_batch

    html = "\n".join(p.read_text() for p in site.rglob("*.html"))
    missing = [
        name
        for name, module in lambda_batch._EXPORTS.items()
        if f'id="lambda_batch{module}.{name}"' not in html
    ]
    assert not missing, f"public names without an entry in the API reference: {missing}"


def test_readme_sections_on_the_site_exist_and_their_commands_are_tested() -> None:
    from tests.demo.test_readme_commands import SECTIONS

    for page in pages():
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            heading = match.group("heading")
            section = readme_section(heading, intro_only=match.group("kind") == "readme-intro")
            langs = {m.group("lang") for m in FENCE.finditer(section)}
            assert langs <= {"python", "yaml", "bash", ""}, (page.name, heading, langs)
            if "bash" in langs:
                assert heading in SECTIONS, f"{heading}: its commands are not run by test_readme_commands"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_code_block_of_a_page_is_tested_or_a_fragment(page: Path) -> None:
    for line, lang, body, before in fences(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        snippet = SNIPPET.match(body.strip())
        if snippet:
            path = snippet.group("path")
            assert (ROOT / path).is_file(), f"{where}: {path} does not exist"
            folder = str(Path(path).parent)
            assert folder in TESTED_EXAMPLES, f"{where}: {path} is in no folder whose files the tests run"
            assert (ROOT / TESTED_EXAMPLES[folder]).is_file()
            continue
        assert before.strip() == FRAGMENT, (
            f"{where}: a code block neither included from a tested file nor a fragment"
        )
        if lang == "python":
            compile(body, where, "exec")


def test_every_example_the_site_includes_runs_the_way_the_page_says() -> None:
    """The getting-started page quotes what its example prints."""
    result = subprocess.run(
        [sys.executable, "examples/getting_started/native_sqs.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    printed = result.stdout.strip()
    assert printed == '{"batchItemFailures": [{"itemIdentifier": "m-1"}]}'
    assert f"`{printed}`" in (DOCS / "guide" / "getting-started.md").read_text()


def docstring_examples() -> List[Tuple[str, str]]:
    """(where, code) of each ``Example::`` block in the docstrings the API reference renders."""
    import inspect
    import textwrap

    sys.path.insert(0, str(ROOT / "layer"))
    import lambda_batch

    found = []
    for name in lambda_batch._EXPORTS:
        obj = getattr(lambda_batch, name)
        members = [(name, obj)]
        if inspect.isclass(obj):
            members += [(f"{name}.{m}", v) for m, v in vars(obj).items() if not m.startswith("_")]
        for where, member in members:
            doc = inspect.getdoc(member) if callable(member) or inspect.isclass(member) else None
            for match in re.finditer(r"::\n\n((?:[ \t]+.*\n|\n)+)", (doc or "") + "\n"):
                found.append((where, textwrap.dedent(match.group(1))))
    return found


def test_docstring_examples_on_the_site_are_fragments_that_compile() -> None:
    """The API reference's examples are fragments (their placeholders, like ``jobs``, come from
    the reader's code), as the reference page says: each one compiles."""
    examples = docstring_examples()
    assert len(examples) > 10
    for where, code in examples:
        compile(code, f"docstring of {where}", "exec")
    assert "fragments" in (DOCS / "reference" / "index.md").read_text()
