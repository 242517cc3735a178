"""Shared fixtures: a moto server on loopback (started once per test session) and clients for it."""

from __future__ import annotations

import os
import uuid
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from emulator import MotoServer, start_moto_server

REGION = "us-east-1"

# The SAM application's fixtures (one `sam build`, one stack), for tests/template and tests/tooling alike.
pytest_plugins = ["tests.sam_app"]

# The machines that run the tests are shared and noisy: no per-example deadline, and no
# health check that fails a test for being slow. Example counts are set per test.
settings.register_profile(
    "lambda-batch", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("lambda-batch")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow test files (the demo, the documented commands, those with a test marked ``slow``)
    spread evenly through the run, each file's tests kept together: pytest-xdist hands each
    worker a run of consecutive tests first, so together they would all land on one worker and
    finish the run alone."""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    slow = [tests for path, tests in files.items() if path.startswith("tests/demo/") or _marked_slow(tests)]
    others = [tests for tests in files.values() if not any(tests is s for s in slow)]
    if not slow or not others:
        return
    step = len(files) / len(slow)
    order: list[list[pytest.Item]] = []
    rest = iter(others)
    for index, tests in enumerate(slow):
        while len(order) < round(index * step):
            order.append(next(rest))
        order.append(tests)
    order.extend(rest)
    items[:] = [item for tests in order for item in tests]


def _marked_slow(tests: list[pytest.Item]) -> bool:
    return any(item.get_closest_marker("slow") for item in tests)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 and a free port, for the whole test session."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = start_moto_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def endpoint_url(moto_server: MotoServer) -> str:
    """The moto server's URL."""
    return moto_server.endpoint_url


@pytest.fixture()
def boto3_session() -> Any:
    """A fresh boto3 session with fake credentials (event hooks registered on it stay local)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=REGION,
    )


@pytest.fixture()
def aws_client(boto3_session: Any, endpoint_url: str) -> Callable[..., Any]:
    """``aws_client("sqs", region_name=...)``: a client of the moto server."""

    def make(service: str, region_name: str = REGION, **kwargs: Any) -> Any:
        return boto3_session.client(service, endpoint_url=endpoint_url, region_name=region_name, **kwargs)

    return make


@pytest.fixture()
def unique_name() -> Callable[[str], str]:
    """``unique_name("jobs")`` -> ``jobs-1a2b3c4d``: resource names that never collide between tests."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
