"""Shared fixtures: a moto server on loopback (started once per test session) and clients for it."""

from __future__ import annotations

import os
import signal
import uuid
from typing import Any, Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

from emulator import MotoServer, start_moto_server
from tests.sessions import fresh_session

# A suite started in the background (`make test &`, nohup, a CI step run so) inherits SIGINT
# ignored, and so would every process the tests start: Ctrl-C would reach none of them. The
# tests that press Ctrl-C (SIGINT to a process group, as a terminal sends it) need it delivered
# as in a terminal: a handler here is reset to the default in every process started from here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REGION = "us-east-1"

# The SAM application's fixtures (one `sam build`, one stack), for tests/template and tests/tooling alike.
pytest_plugins = ["tests.sam_app"]

# The machines that run the tests are shared and noisy: no per-example deadline, and no
# health check that fails a test for being slow. Example counts are set per test.
settings.register_profile(
    "lambda-batch", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("lambda-batch")

#: The longest tests that wait on real time, first, each beside a short one: the realtime pool hands
#: its workers two tests each at first, then one at a time (tools/test_pools.py), so the longest
#: start at once on workers of their own and the rest fill in around them (longest first).
REALTIME_FIRST = (
    "tests/demo/test_local_development_page.py::test_the_page_in_its_order_ends_ok",  # about 3 min
    "tests/demo/test_demo.py::test_bad_options_exit_2_with_a_clear_message",
    "tests/demo/test_readme_commands.py::test_make_demo_fifo_600_poison_10pc",
    "tests/demo/test_demo.py::test_demo_cli_fifo_json_summary",
    "tests/demo/test_readme_commands.py::test_kept_stack",
    "tests/demo/test_readme_commands.py::test_make_demo_json",
    "tests/demo/test_readme_commands.py::test_invoke_table_row[producer-kinesis.json]",
    "tests/demo/test_demo.py::test_demo_accounts_for_every_message_and_the_dlq_holds_exactly_the_poison",
    "tests/demo/test_readme_commands.py::test_make_demo",
    "tests/demo/test_demo_sqs_options.py::test_retry_delays_slow_records_and_batch_metrics",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of REALTIME_FIRST first, in its order; the others keep theirs."""
    rank = {nodeid: index for index, nodeid in enumerate(REALTIME_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid, len(rank)))


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

    return fresh_session(
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
