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

No code line is wider than a code block shows (CODE_WIDTH). The docstrings are Google style in
Markdown, as mkdocstrings renders them: no reST in any of them nor on the built site, and every
example (a fenced python block under "Example:") compiles.
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


@pytest.mark.slow
def test_the_api_reference_comes_in_the_order_users_import(site: Path) -> None:
    """Processors, dispatchers, options, errors, then the rest; each name in its group's table with
    the module defining it, and an entry of its own here or on its page."""
    from tools.mkdocs_hooks import _exports

    html = (site / "reference" / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r'<h2 id="[^"]*">([^<]+)', html)
    assert headings == ["Processors", "Dispatchers", "Options", "Errors", "Records and types"]
    order = [html.index(f'id="{heading.lower().replace(" ", "-")}"') for heading in headings]
    positions = {name: html.find(f"<code>{name}</code></a>") for name in _exports()}
    assert -1 not in positions.values(), [name for name, at in positions.items() if at < 0]
    assert positions["BatchProcessor"] < order[1] < positions["SQSBatchDispatcher"] < order[2]
    assert order[2] < positions["RetryPolicy"] < order[3] < positions["LambdaBatchError"] < order[4]
    assert "<code>lambda_batch.processing.batch_processor</code>" in html  # where each name lives


def test_a_new_public_name_lands_in_the_group_its_name_says() -> None:
    from tools.mkdocs_hooks import GROUPS, api_groups

    groups = {
        heading: names for heading, _, names in api_groups(["ZetaError", "BatchProcessor", "SQSRecord"])
    }
    assert groups == {
        "Processors": ["BatchProcessor"],
        "Errors": ["ZetaError"],
        "Records and types": ["SQSRecord"],
    }
    groups = {
        heading: names for heading, _, names in api_groups(["NewDispatcher", "helper", "LambdaBatchError"])
    }
    assert groups == {
        "Dispatchers": ["NewDispatcher"],
        "Errors": ["LambdaBatchError"],
        GROUPS[-1][0]: ["helper"],
    }


#: reST the site must never show: a role, a literal block marker, a doctest prompt.
RAW_REST = re.compile(r":(?:class|meth|attr|func|mod|exc|data|obj):|Example::|&gt;&gt;&gt; ")


def _text_outside_code(html: str) -> str:
    """The text of a page without its code blocks and code spans, tags removed."""
    html = re.sub(r"<pre\b.*?</pre>|<code\b.*?</code>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.slow
def test_the_site_shows_the_docstrings_as_prose_with_no_rest_markup(site: Path) -> None:
    """No reST role, ``Example::`` or doctest prompt anywhere in the built site, no double-backtick
    literal shown raw (outside code), and no "Bases:" naming a private class."""
    files = [*sorted(site.rglob("*.html")), site / "search" / "search_index.json"]
    assert len(files) > 20
    problems = []
    for path in files:
        html = path.read_text(encoding="utf-8")
        where = str(path.relative_to(site))
        problems += [f"{where}: {found.group(0)}" for found in RAW_REST.finditer(html)]
        if path.suffix == ".html":
            text = _text_outside_code(html)
            problems += [f"{where}: raw ``" for _ in re.finditer(r"``", text)]
            problems += [f"{where}: {found.group(0)}" for found in re.finditer(r"Bases:\s+_\w+", text)]
    assert problems == []
    examples = sum(path.read_text().count("<summary>Example</summary>") for path in files[:-1])
    assert examples > 30  # the docstrings' Example: sections, each shown as a titled code block


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


#: The characters a code block shows without scrolling, on a screen wide enough for both of
#: Material's sidebars (61rem grid - 2 x 12.1rem sidebars - 2 x 1.2rem margins - 2 x 0.8rem code
#: padding = 32.8rem; Roboto Mono at 0.8rem x 0.85 is 0.408rem a character: 80.4). Between 60em and
#: 76.25em only the table of contents shows, and the width is about the same (80 at 60em).
CODE_WIDTH = 80


def test_no_fenced_code_line_is_wider_than_the_code_block() -> None:
    """A line longer than CODE_WIDTH is cut at the block's edge (the rest behind a scrollbar):
    the code of the pages, of the example files they include and of the docstrings' examples is
    wrapped in the source to fit.
    Text (a fence without a language: what a command printed, like the samples that
    tools/readme_samples.py writes from a run) is wrapped by the site (docs/stylesheets/code.css)."""
    too_long = []
    for page in pages():
        for line, lang, body, _ in fences(page):
            if lang in ("", "text"):
                continue
            snippet = SNIPPET.match(body.strip())
            where = snippet.group("path") if snippet else f"{page.relative_to(ROOT)}:{line}"
            shown = (ROOT / snippet.group("path")).read_text() if snippet else body
            too_long += [f"{where}: {text}" for text in shown.splitlines() if len(text) > CODE_WIDTH]
    for where, code in docstring_examples():  # the API reference shows them as code blocks too
        too_long += [f"{where}: {text}" for text in code.splitlines() if len(text) > CODE_WIDTH]
    assert too_long == [], f"{len(too_long)} fenced lines over {CODE_WIDTH} characters:\n" + "\n".join(
        too_long
    )
    css = (DOCS / "stylesheets" / "code.css").read_text()
    assert ".language-text pre > code" in css and "pre-wrap" in css


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


#: What reST leaves behind in a docstring: a role (`:class:`...) or a literal block (`Example::`).
REST = re.compile(r":(?:py:)?(?:class|meth|attr|func|mod|exc|data|obj):`|::\s*$", re.M)
#: A fenced python block of a docstring (under "Example:", indented with it).
DOCSTRING_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


def layer_docstrings() -> List[Tuple[str, str]]:
    """(where, docstring) of every docstring in layer/lambda_batch, private ones and attribute
    docstrings included (the API reference renders some of each)."""
    import ast

    found = []
    for path in sorted((ROOT / "layer" / "lambda_batch").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", value.value))
    return found


def docstring_examples() -> List[Tuple[str, str]]:
    """(where, code) of each python block of an "Example:" section in the layer's docstrings."""
    import inspect
    import textwrap

    found = []
    for where, doc in layer_docstrings():
        for match in DOCSTRING_FENCE.finditer(inspect.cleandoc(doc)):
            found.append((where, textwrap.dedent(match.group("body"))))
    return found


def test_docstrings_are_google_style_with_no_rest_left() -> None:
    """mkdocstrings renders the docstrings as Google style and Markdown: a reST role or literal
    block would show raw on the site."""
    docstrings = layer_docstrings()
    leftovers = [
        f"{where}: {found.group(0).strip()}" for where, doc in docstrings for found in REST.finditer(doc)
    ]
    assert not leftovers, "reST in docstrings (write `Name`, an Example: section):\n" + "\n".join(leftovers)
    doctests = [where for where, doc in docstrings if re.search(r"^\s*>>> ", doc, re.M)]
    assert not doctests, f"doctest prompts (Markdown shows them as quotes): {doctests}"


def test_docstring_examples_on_the_site_are_fragments_that_compile() -> None:
    """The API reference's examples are fragments (their placeholders, like ``jobs``, come from
    the reader's code), as the reference page says: each one compiles."""
    examples = docstring_examples()
    assert len(examples) > 100
    for where, code in examples:
        compile(code, f"docstring of {where}", "exec")
    assert "fragments" in (DOCS / "reference" / "index.md").read_text()
