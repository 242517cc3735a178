"""The tooling's tests: the SAM application's fixtures are tests/sam_app.py's (shared with tests/template)."""

from __future__ import annotations

from tests.sam_app import EVENTS, ROOT, TEMPLATE, drain, load_event

__all__ = ["EVENTS", "ROOT", "TEMPLATE", "drain", "load_event"]
