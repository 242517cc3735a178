"""Fresh boto3 sessions that share one botocore data loader.

A new boto3 session reads and parses every service model and endpoint rule set it uses again,
which made creating clients the largest single cost of the integration tests (a fresh session's
first SQS client: about 150 ms; with the loader shared: about 30 ms). The tests need sessions of
their own (event hooks registered on one stay with it), not loaders of their own: the loader only
reads botocore's data files, and caches what it read.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def fresh_session(**kwargs: Any) -> Any:
    """A new ``boto3.session.Session(**kwargs)`` reading models through the shared loader."""
    import boto3
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return boto3.session.Session(botocore_session=core, **kwargs)
