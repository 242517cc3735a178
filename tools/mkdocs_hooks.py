"""MkDocs hooks of the documentation site (mkdocs.yml ``hooks:``).

- ``<!-- readme: HEADING -->`` alone on a line of a page is replaced by that section of
  README.md (the heading's own line excluded, up to the next heading of the same or a higher
  level); ``<!-- readme-intro: HEADING -->`` stops at the first heading of any level. The site
  shows the README's text and code blocks themselves, which tests/docs/test_readme_code.py and
  tests/demo/test_readme_commands.py run, so the two cannot drift. The README's own relative
  links are rewritten for the page: ``docs/X.md`` to the site's page, other files to the
  source repository.
- ``<!-- api: Name, Name -->`` is replaced by the mkdocstrings entries of those public names of
  ``lambda_batch``, and ``<!-- api-reference -->`` by an entry for every other public name (its
  ``_EXPORTS`` table, grouped by module): modules may move without the site going stale.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SOURCE_URL = "https://github.com/lambda-batch/lambda-batch/blob/main/"  # the template's SourceCodeUrl
DIRECTIVE = re.compile(r"^<!--\s*(?P<kind>readme|readme-intro):\s*(?P<heading>.+?)\s*-->\s*$", re.MULTILINE)
HEADING = re.compile(r"^(#{1,6}) ", re.MULTILINE)
FENCE = re.compile(r"^\s*```.*?^\s*```\s*$", re.MULTILINE | re.DOTALL)
API = re.compile(r"^<!--\s*api:\s*(?P<names>[\w, ]+?)\s*-->\s*$", re.MULTILINE)
LINK = re.compile(r"\]\((?!https?://|#|mailto:)(?P<target>[^)\s]+)\)")


def _headings(text: str) -> List[re.Match[str]]:
    """Headings outside fenced code blocks (a ``# comment`` in a code block is no heading)."""
    fenced = [(m.start(), m.end()) for m in FENCE.finditer(text)]
    return [m for m in HEADING.finditer(text) if not any(a <= m.start() < b for a, b in fenced)]


def readme_section(heading: str, *, intro_only: bool = False) -> str:
    """The text under ``heading`` (e.g. ``### Logs``) in README.md, without the heading line."""
    text = README.read_text(encoding="utf-8")
    level = len(heading.split(" ", 1)[0])
    matches = _headings(text)
    for index, match in enumerate(matches):
        line_end = text.find("\n", match.start())
        if text[match.start() : line_end].strip() != heading:
            continue
        end = len(text)
        for later in matches[index + 1 :]:
            if intro_only or len(later.group(1)) <= level:
                end = later.start()
                break
        return text[line_end + 1 : end].strip("\n") + "\n"
    raise ValueError(f"README.md has no heading {heading!r} (a page of the site includes it)")


def _rewrite_links(section: str, page_path: str) -> str:
    """README-relative links made right for the page at ``page_path`` (relative to docs/)."""
    page_dir = posixpath.dirname(page_path)

    def fix(match: re.Match[str]) -> str:
        target = match.group("target")
        if target.startswith("docs/"):
            return f"]({posixpath.relpath(target[len('docs/') :], page_dir or '.')})"
        return f"]({SOURCE_URL}{target})"

    return LINK.sub(fix, section)


#: Public names documented on a page of their own (``<!-- api: ... -->``), filled by on_files.
ON_PAGES: Dict[str, str] = {}


def _exports() -> Dict[str, str]:
    """lambda_batch's public names and the module (relative) defining each."""
    if str(ROOT / "layer") not in sys.path:
        sys.path.insert(0, str(ROOT / "layer"))
    import lambda_batch

    return dict(lambda_batch._EXPORTS)


def api_entries(names: List[str]) -> str:
    """The mkdocstrings entries of ``names`` (public names of lambda_batch)."""
    exports = _exports()
    unknown = [name for name in names if name not in exports]
    if unknown:
        raise ValueError(f"not public names of lambda_batch: {unknown}")
    return "\n".join(f"::: lambda_batch{exports[name]}.{name}\n" for name in names)


def on_files(files: Any, config: Any) -> Any:
    """Note which public names have a page of their own (the reference links there instead)."""
    ON_PAGES.clear()
    for file in files.documentation_pages():
        for match in API.finditer(Path(file.abs_src_path).read_text(encoding="utf-8")):
            for name in match.group("names").replace(",", " ").split():
                ON_PAGES[name] = file.src_uri
    return files


def api_reference(page_path: str) -> str:
    """A mkdocstrings entry per public name of lambda_batch, grouped by the module defining it;
    a name documented on a page of its own is a link to it."""
    by_module: Dict[str, List[str]] = {}
    for name, module in _exports().items():
        by_module.setdefault(module, []).append(name)
    page_dir = posixpath.dirname(page_path)
    lines: List[str] = []
    for module in sorted(by_module):
        dotted = "lambda_batch" + module
        lines.append(f"## `{dotted}`\n")
        for name in sorted(by_module[module]):
            if name in ON_PAGES:
                link = posixpath.relpath(ON_PAGES[name], page_dir or ".")
                lines.append(f"- `{name}`: see [its page]({link})\n")
            else:
                lines.append(f"::: {dotted}.{name}\n")
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the README includes and the API reference of a page."""

    def include(match: re.Match[str]) -> str:
        section = readme_section(match.group("heading"), intro_only=match.group("kind") == "readme-intro")
        return _rewrite_links(section, page.file.src_uri)

    markdown = DIRECTIVE.sub(include, markdown)
    markdown = API.sub(lambda m: api_entries(m.group("names").replace(",", " ").split()), markdown)
    if "<!-- api-reference -->" in markdown:
        markdown = markdown.replace("<!-- api-reference -->", api_reference(page.file.src_uri))
    return markdown
