"""The SAM application's tests: their fixtures are tests/sam_app.py's (shared with tests/tooling)."""

from __future__ import annotations

from tests.sam_app import EVENTS, ROOT, TEMPLATE, drain, load_event

__all__ = ["EVENTS", "ROOT", "TEMPLATE", "drain", "load_event"]
