"""MkDocs hooks of the documentation site (mkdocs.yml ``hooks:``).

The pages in docs/ hold the documentation (the README is the short front page that links to
them); their code blocks are run by tests/docs/test_readme_code.py and
tests/demo/test_readme_commands.py, and tests/docs/test_site.py checks that every block is.

- ``<!-- api: Name, Name -->`` is replaced by the mkdocstrings entries of those public names of
  ``lambda_batch``, and ``<!-- api-reference -->`` by an entry for every other public name (its
  ``_EXPORTS`` table), grouped by what a user imports (`GROUPS`: processors, dispatchers, options,
  errors, then the rest), each group opening with a table of its names and the module defining
  each: modules may move without the site going stale.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

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


#: The API reference's groups, in the order a user meets them: (heading, what it holds, the names
#: in the order shown, the suffix that files a name not listed here into the group). A public name
#: in none of them lands in the last group, so a new name is never left out of the reference.
GROUPS: List[Tuple[str, str, Tuple[str, ...], str]] = [
    (
        "Processors",
        "Partial batch processing: a Lambda fed by SQS, Kinesis, DynamoDB Streams, Kafka or Pipes "
        "handles each record on its own; only failures go back.",
        (
            "BatchProcessor",
            "process_partial_response",
            "SqsFifoPartialProcessor",
            "AsyncBatchProcessor",
            "async_process_partial_response",
            "batch_processor",
            "async_batch_processor",
            "PartialSQSProcessor",
            "sqs_batch_processor",
            "BasePartialProcessor",
        ),
        "Processor",
    ),
    (
        "Dispatchers",
        "Records submitted one at a time, sent in the fewest batch calls; what could not be sent "
        "comes back as submitted.",
        (
            "SQSBatchDispatcher",
            "SQSFifoBatchDispatcher",
            "SNSBatchDispatcher",
            "KinesisBatchDispatcher",
            "FirehoseBatchDispatcher",
            "DynamoBatchDispatcher",
            "CloudwatchBatchDispatcher",
            "cloudwatch_dimension",
            "EventBridgeBatchDispatcher",
            "BaseDispatcher",
            "DispatcherStats",
            "UnprocessedItem",
        ),
        "Dispatcher",
    ),
    (
        "Options",
        "What the processors and dispatchers are given: the event type, retry delays, the retry "
        "policy and the deadline.",
        ("EventType", "RetryDelay", "RetryPolicy", "Deadline"),
        "Option",
    ),
    ("Errors", "What the layer raises.", ("LambdaBatchError",), "Error"),
    (
        "Records and types",
        "The record objects a record handler receives, and the type names processors are annotated with.",
        (
            "SQSRecord",
            "KinesisStreamRecord",
            "DynamoDBRecord",
            "DynamoDBRecordEventName",
            "StreamViewType",
            "KafkaEventRecord",
            "SuccessResponse",
            "FailureResponse",
            "ExceptionInfo",
            "PartialItemFailureResponse",
        ),
        "Record",
    ),
]


def api_groups(names: List[str]) -> List[Tuple[str, str, List[str]]]:
    """``names`` filed into `GROUPS`: (heading, what it holds, its names in order), empty groups
    left out. A name listed by a group goes there; another by its suffix (the first group whose
    suffix ends it), else in the last group; those come after the listed names, sorted."""
    listed = {name: index for index, group in enumerate(GROUPS) for name in group[2]}
    filed: Dict[int, List[str]] = {index: [] for index in range(len(GROUPS))}
    for name in sorted(names):
        index = listed.get(name)
        if index is None:
            suffixes = [i for i, group in enumerate(GROUPS) if name.endswith(group[3])]
            index = suffixes[0] if suffixes else len(GROUPS) - 1
        filed[index].append(name)
    order = {name: position for group in GROUPS for position, name in enumerate(group[2])}
    return [
        (heading, about, sorted(filed[index], key=lambda name: (order.get(name, len(order)), name)))
        for index, (heading, about, _, _) in enumerate(GROUPS)
        if filed[index]
    ]


def api_reference(page_path: str) -> str:
    """The public names of lambda_batch by group (`api_groups`): each group a table of its names
    (linked to their entries) and of the module defining each, then a mkdocstrings entry per name;
    a name documented on a page of its own links there instead of having an entry here."""
    exports = _exports()
    page_dir = posixpath.dirname(page_path)
    lines: List[str] = []
    for heading, about, names in api_groups(list(exports)):
        lines += [f"## {heading}\n", f"{about}\n", "| Name | Defined in |", "| --- | --- |"]
        for name in names:
            dotted = f"lambda_batch{exports[name]}"
            where = f"`{dotted}`"
            if name in ON_PAGES:
                link = posixpath.relpath(ON_PAGES[name], page_dir or ".")
                where += f"; on [its page]({link})"
            lines.append(f"| [`{name}`][{dotted}.{name}] | {where} |")
        lines.append("")
        lines += [f"::: lambda_batch{exports[name]}.{name}\n" for name in names if name not in ON_PAGES]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand the API entries and the API reference of a page."""
    markdown = API.sub(lambda m: api_entries(m.group("names").replace(",", " ").split()), markdown)
    if "<!-- api-reference -->" in markdown:
        markdown = markdown.replace("<!-- api-reference -->", api_reference(page.file.src_uri))
    return markdown
