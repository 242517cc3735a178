"""Every option of every command has help text: each command's argparse parser (and its subcommands'),
taken as the command builds it, is walked; a file that builds a parser and is not run here fails too."""

from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:.*found in sys.modules after import of package")

ROOT = Path(__file__).resolve().parents[2]
#: How each command starts: a package or module run with -m, or a script run by path.
MODULES = ("demo", "local_lambda", "emulator", "emulator.strict", "devtools.aws_session")
SCRIPTS = (
    "tools/publish_layer.py",
    "tools/layer_zip.py",
    "tools/sar_app.py",
    "tools/test_under_load.py",
    "tools/test_pools.py",
    "tools/readme_samples.py",
    "benchmarks/dispatchers.py",
    "benchmarks/idempotency.py",
    "benchmarks/kpl_aggregation.py",
    "benchmarks/processing.py",
)
FOLDERS = ("demo", "local_lambda", "emulator", "devtools", "tools", "benchmarks")


class _Parsed(Exception):
    """Raised instead of parsing: the command's parser has been taken."""


def _defining_file() -> str:
    frame = sys._getframe(2)
    while frame.f_back is not None and frame.f_code.co_filename.endswith("argparse.py"):
        frame = frame.f_back
    return str(Path(frame.f_code.co_filename).resolve().relative_to(ROOT))


@pytest.fixture(scope="module")
def parsers() -> List[Tuple[str, argparse.ArgumentParser]]:
    """(the file that built it, the parser) of every command, each run up to its parse_args."""
    taken: List[Tuple[str, argparse.ArgumentParser]] = []

    def take(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        taken.append((_defining_file(), self))
        raise _Parsed

    original = argparse.ArgumentParser.parse_known_args
    saved_argv = sys.argv
    argparse.ArgumentParser.parse_known_args = take  # type: ignore[assignment,method-assign]
    try:
        for module in MODULES:
            with pytest.raises(_Parsed):
                runpy.run_module(module, run_name="__main__", alter_sys=True)
        for script in SCRIPTS:
            sys.argv = [script]
            with pytest.raises(_Parsed):
                runpy.run_path(str(ROOT / script), run_name="__main__")
    finally:
        argparse.ArgumentParser.parse_known_args = original  # type: ignore[method-assign]
        sys.argv = saved_argv
    return taken


def _options_without_help(parser: argparse.ArgumentParser, name: str) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                yield from _options_without_help(subparser, f"{name} {command}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            yield f"{name}: {'/'.join(action.option_strings) or action.dest}"


def test_every_option_of_every_command_has_help(parsers: List[Tuple[str, argparse.ArgumentParser]]) -> None:
    missing = [line for _, parser in parsers for line in _options_without_help(parser, parser.prog)]
    assert missing == []
    # The commands named in the issue of missing help, among the others:
    progs = {parser.prog for _, parser in parsers}
    assert {"python -m emulator", "python -m local_lambda", "python -m demo"} <= progs


def test_every_file_that_builds_a_parser_is_walked(
    parsers: List[Tuple[str, argparse.ArgumentParser]],
) -> None:
    building = {
        str(path.relative_to(ROOT))
        for folder in FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        if "ArgumentParser(" in path.read_text(encoding="utf-8")
    }
    assert building <= {defining for defining, _ in parsers}
