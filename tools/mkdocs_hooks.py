"""MkDocs hooks of the documentation site (mkdocs.yml ``hooks:``).

The pages in docs/ hold the documentation (the README is the short front page that links to
them); their code blocks are run by tests/docs/test_readme_code.py and
tests/demo/test_readme_commands.py, and tests/docs/test_site.py checks that every block is.

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
API = re.compile(r"^<!--\s*api:\s*(?P<names>[\w, ]+?)\s*-->\s*$", re.MULTILINE)


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
    """Expand the API entries and the API reference of a page."""
    markdown = API.sub(lambda m: api_entries(m.group("names").replace(",", " ").split()), markdown)
    if "<!-- api-reference -->" in markdown:
        markdown = markdown.replace("<!-- api-reference -->", api_reference(page.file.src_uri))
    return markdown
