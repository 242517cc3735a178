"""The documentation site: `mkdocs build --strict` succeeds (no broken link, anchor or reference,
no docstring the API reference cannot render), every public name is documented, and every code
block the site shows is run by a test or marked as a fragment.

The pages hold the documentation (the README is the short front page that links to them), and
every fence of a page is one of these, each checked here:

- an example file included whole with pymdownx.snippets (a fence holding only ``--8<-- "path"``):
  the file must be one the tests run (tests/release/test_wheel.py runs examples/getting_started,
  the examples tests run every file of examples/powertools and examples/boto3_batch_utils);
- a python or yaml block, run or checked by tests/docs/test_readme_code.py (which reads every page,
  a ``<!-- readme-test: NAME -->`` marker naming its scenario);
- a bash block, on a page whose every command tests/demo/test_readme_commands.py runs;
- a sample output between ``<!-- sample: NAME -->`` markers, written by tools/readme_samples.py;
- anything else needs ``<!-- readme-test: fragment -->`` just before it (and python compiles).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

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
    assert "python3.12 to python3.14" in home
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


def test_the_readme_is_a_front_page_whose_links_reach_the_site() -> None:
    """The README is short and points into the site: every page it links to exists, and every
    page of the site's navigation is reachable from it or from the home page."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150, "the README is the front page: move the detail to docs/"
    targets = re.findall(r"\]\((?!https?://)([^)#\s]+)(?:#[^)]*)?\)", readme)
    for target in targets:
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    linked = {Path(target).resolve() for target in targets if target.startswith("docs/")}
    for page in pages():
        if page.parent == DOCS / "reference" or page.name in ("index.md", "changelog.md"):
            continue
        assert page.resolve() in linked, f"the README does not link to {page.relative_to(ROOT)}"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_code_block_of_a_page_is_tested_or_a_fragment(page: Path) -> None:
    from tests.demo.test_readme_commands import DOCUMENTS as COMMAND_DOCUMENTS
    from tests.docs.test_readme_code import PYTHON_BLOCKS, YAML_BLOCKS
    from tools.readme_samples import SAMPLES

    checked = {
        (block.path, block.line) for block in PYTHON_BLOCKS + YAML_BLOCKS if block.scenario != "fragment"
    }
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
        if before.strip() == FRAGMENT:
            if lang == "python":
                compile(body, where, "exec")
            continue
        if lang in ("python", "yaml"):
            assert (str(page.relative_to(ROOT)), line) in checked, f"{where}: not run by test_readme_code"
            continue
        if lang == "bash":
            assert page in COMMAND_DOCUMENTS, (
                f"{where}: test_readme_commands does not run this page's commands"
            )
            continue
        sample = re.fullmatch(r"<!-- sample: (?P<name>[^>]+?) -->", before.strip())
        if lang == "" and sample:
            assert sample.group("name") in SAMPLES, f"{where}: no command writes this sample"
            continue
        raise AssertionError(f"{where}: not run by a test, nor a tested file, a sample or a fragment")


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
