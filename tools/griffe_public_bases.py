"""A griffe extension of the documentation site (mkdocs.yml, mkdocstrings ``extensions:``): the
"Bases:" line of a public class names only public classes.

A class of the layer may build on a private helper (``_Record``, ``_SQSDispatcherBase``): a
reader cannot import it and the API reference has no entry for it, so "Bases: `_Record`" would
be a name to nowhere. Those bases are left out of what the site shows; the code is unchanged.
"""

from __future__ import annotations

from typing import Any

import griffe


def _is_private(base: Any) -> bool:
    """Whether a base (a name or a griffe expression) names a private class (``_Name``)."""
    dotted = str(getattr(base, "canonical_path", None) or base)
    return any(part.startswith("_") for part in dotted.split("."))


class PublicBases(griffe.Extension):
    """Drops the private classes from each class's bases, as griffe loads it."""

    def on_class_instance(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        """Keep the public bases of ``cls`` only."""
        cls.bases = [base for base in cls.bases if not _is_private(base)]
