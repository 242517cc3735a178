"""Fixtures for the stricter emulators: dynalite and kinesalite on loopback, a fault proxy in front of each.

The emulators are started once per test session (in memory, on 127.0.0.1 and a free port)
and stopped at its end. Each test gets its own fault proxy (no faults until the test sets
them) and its own table or stream.

When the emulators are not installed the tests are skipped, saying what to run
(``make emulators``); with ``LAMBDA_BATCH_STRICT_EMULATORS=required`` (``make test`` sets it)
they fail instead, so CI never passes without them.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest

from emulator.fault_proxy import FaultProxy
from emulator.strict import NodeEmulator, start_emulator, unavailable_reason
from tests.strict.resources import REGION

REQUIRED_ENV = "LAMBDA_BATCH_STRICT_EMULATORS"


def _require_installed() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRED_ENV) == "required":
        pytest.fail(f"{REQUIRED_ENV}=required, but the strict emulators cannot run: {reason}", pytrace=False)
    pytest.skip(f"strict emulators not installed: {reason}")


def _emulator(name: str) -> Iterator[NodeEmulator]:
    _require_installed()
    emulator = start_emulator(name)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def dynalite() -> Iterator[NodeEmulator]:
    """dynalite (DynamoDB), in memory, for the whole session."""
    yield from _emulator("dynalite")


@pytest.fixture(scope="session")
def kinesalite() -> Iterator[NodeEmulator]:
    """kinesalite (Kinesis), in memory, for the whole session."""
    yield from _emulator("kinesalite")


@pytest.fixture()
def dynamo_proxy(dynalite: NodeEmulator) -> Iterator[FaultProxy]:
    """A fault proxy in front of dynalite (no faults until ``set_faults``)."""
    with FaultProxy(dynalite.endpoint_url, body_limit=dynalite.body_limit) as proxy:
        yield proxy


@pytest.fixture()
def kinesis_proxy(kinesalite: NodeEmulator) -> Iterator[FaultProxy]:
    """A fault proxy in front of kinesalite (no faults until ``set_faults``)."""
    with FaultProxy(kinesalite.endpoint_url, body_limit=kinesalite.body_limit) as proxy:
        yield proxy


def _client(session: Any, service: str, endpoint_url: str) -> Any:
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120)
    return session.client(service, endpoint_url=endpoint_url, region_name=REGION, config=config)


@pytest.fixture()
def strict_client(boto3_session: Any) -> Callable[..., Any]:
    """``strict_client("dynamodb", url)``: a client with fake credentials and one attempt per call."""
    return lambda service, endpoint_url: _client(boto3_session, service, endpoint_url)


@pytest.fixture(scope="session")
def _direct_session() -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="session")
def dynamodb_direct(dynalite: NodeEmulator, _direct_session: Any) -> Any:
    """A DynamoDB client of dynalite itself (no proxy): set-up and reading back."""
    return _client(_direct_session, "dynamodb", dynalite.endpoint_url)


@pytest.fixture(scope="session")
def kinesis_direct(kinesalite: NodeEmulator, _direct_session: Any) -> Any:
    """A Kinesis client of kinesalite itself (no proxy): set-up and reading back."""
    return _client(_direct_session, "kinesis", kinesalite.endpoint_url)
