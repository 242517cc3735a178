"""Fixtures of the tooling's tests: the SAM application's (one `sam build`, one deployed stack), shared."""

from __future__ import annotations

from tests.template.conftest import (  # noqa: F401 - fixtures and helpers, used by name
    EVENTS,
    ROOT,
    TEMPLATE,
    build_dir,
    consumer,
    drain,
    load_event,
    producer,
    sqs,
    stack,
)
