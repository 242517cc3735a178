"""A griffe extension of the documentation site (mkdocs.yml, mkdocstrings ``extensions:``): the
"Bases:" line of a class names only what a reader can import and look up.

A class of the layer may build on an internal helper (``_Record``, ``_SQSDispatcherBase``,
``RecordProcessor``): a reader cannot import it from ``lambda_batch`` and the API reference has
no entry for it, so "Bases: `_Record`" would be a name to nowhere. Those bases are left out of
what the site shows (a class of the layer is shown as a base only when ``lambda_batch`` exports
it; Python's own, such as ``Exception``, stay); the code is unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, FrozenSet

import griffe

ROOT = Path(__file__).resolve().parent.parent


def _exported() -> FrozenSet[str]:
    """The public names of lambda_batch (its ``_EXPORTS`` table)."""
    if str(ROOT / "layer") not in sys.path:
        sys.path.insert(0, str(ROOT / "layer"))
    import lambda_batch

    return frozenset(lambda_batch._EXPORTS)


def is_shown(base: Any, exported: FrozenSet[str]) -> bool:
    """Whether a base (a name or a griffe expression) is one to show: no private part, and a
    class of the layer only when lambda_batch exports it."""
    dotted = str(getattr(base, "canonical_path", None) or base)
    parts = dotted.split(".")
    if any(part.startswith("_") for part in parts):
        return False
    return parts[0] != "lambda_batch" or parts[-1] in exported


class PublicBases(griffe.Extension):
    """Drops the internal classes from each class's bases, as griffe loads it."""

    def __init__(self) -> None:
        super().__init__()
        self.exported = _exported()

    def on_class_instance(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        """Keep the bases of ``cls`` a reader can look up."""
        cls.bases = [base for base in cls.bases if is_shown(base, self.exported)]
