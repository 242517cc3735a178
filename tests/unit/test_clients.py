"""Clients are made lazily, once per region, and shared across the process when made with defaults."""

from __future__ import annotations

import pytest

from lambda_batch.core.clients import ClientProvider

ENDPOINT = "http://127.0.0.1:9"  # never contacted: making a client sends nothing


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_default_clients_are_shared_between_providers():
    # A function that builds its dispatchers on every warm invocation pays for the client once.
    first = ClientProvider("sqs", endpoint_url=ENDPOINT).get("eu-west-1")
    second = ClientProvider("sqs", endpoint_url=ENDPOINT).get("eu-west-1")
    assert first is second
    assert first.meta.region_name == "eu-west-1"


def test_one_client_per_region():
    provider = ClientProvider("sqs", endpoint_url=ENDPOINT)
    west, east = provider.get("eu-west-1"), provider.get("us-east-2")
    assert west is not east
    assert (west.meta.region_name, east.meta.region_name) == ("eu-west-1", "us-east-2")
    assert provider.get("eu-west-1") is west


def test_a_given_session_or_config_gets_clients_of_its_own(boto3_session):
    from botocore.config import Config

    shared = ClientProvider("sqs", endpoint_url=ENDPOINT).get("eu-west-1")
    own_session = ClientProvider("sqs", boto3_session=boto3_session, endpoint_url=ENDPOINT).get("eu-west-1")
    own_config = ClientProvider("sqs", config=Config(retries={"max_attempts": 1}), endpoint_url=ENDPOINT)
    assert own_session is not shared
    assert own_config.get("eu-west-1") is not shared
    assert own_config.get("eu-west-1").meta.config.retries["total_max_attempts"] == 1


def test_a_changed_endpoint_environment_is_not_served_a_stale_client(monkeypatch):
    before = ClientProvider("sqs").get("eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10")
    after = ClientProvider("sqs").get("eu-west-1")
    assert after is not before
    assert after.meta.endpoint_url == "http://127.0.0.1:10"


def test_a_given_client_is_used_for_every_region(boto3_session):
    client = boto3_session.client("sqs", endpoint_url=ENDPOINT, region_name="eu-west-1")
    provider = ClientProvider("sqs", client=client)
    assert provider.get("us-east-2") is client
    assert provider.default_region == "eu-west-1"


def test_shared_clients_carry_their_config_options():
    options = {"retries": {"total_max_attempts": 1}, "max_pool_connections": 10}
    first = ClientProvider("sqs", shared_config=options, endpoint_url=ENDPOINT).get("eu-west-1")
    second = ClientProvider("sqs", shared_config=dict(options), endpoint_url=ENDPOINT).get("eu-west-1")
    plain = ClientProvider("sqs", endpoint_url=ENDPOINT).get("eu-west-1")
    assert first is second and first is not plain
    assert first.meta.config.retries["total_max_attempts"] == 1


def test_dispatchers_made_on_every_invocation_reuse_one_client():
    # A function that builds its dispatcher per invocation pays for the client once per process.
    from lambda_batch import DynamoBatchDispatcher

    def fresh_dispatcher():
        return DynamoBatchDispatcher("table", "pk", endpoint_url=ENDPOINT, region_name="eu-west-1")

    assert len({id(fresh_dispatcher()._clients.get()) for _ in range(3)}) == 1


def test_every_client_the_layer_makes_has_botocore_retries_off(boto3_session):
    """Shared, from a session, with a user's Config: one attempt per call, the user's other settings kept."""
    from botocore.config import Config

    from lambda_batch.core.clients import make_client

    user = Config(
        retries={"max_attempts": 10, "mode": "adaptive"}, connect_timeout=7, user_agent_extra="app/1"
    )
    clients = [
        make_client("sqs", "eu-west-1", endpoint_url=ENDPOINT),
        make_client("sqs", "eu-west-1", boto3_session, endpoint_url=ENDPOINT),
        make_client("sqs", "eu-west-1", None, user, endpoint_url=ENDPOINT),
        make_client("kinesis", "eu-west-1", boto3_session, user, endpoint_url=ENDPOINT),
        ClientProvider("sqs", config=user, endpoint_url=ENDPOINT).get("eu-west-1"),
    ]
    for client in clients:
        assert client.meta.config.retries["total_max_attempts"] == 1
    assert clients[2].meta.config.connect_timeout == 7
    assert "app/1" in clients[2].meta.config.user_agent_extra
    assert user.retries == {"max_attempts": 10, "mode": "adaptive"}  # the user's Config is not changed


def test_the_processors_clients_have_botocore_retries_off():
    from botocore.config import Config

    from lambda_batch import PartialSQSProcessor

    processor = PartialSQSProcessor(config=Config(retries={"max_attempts": 8}), endpoint_url=ENDPOINT)
    assert processor._clients.get("eu-west-1").meta.config.retries["total_max_attempts"] == 1


def test_timeouts_follow_the_time_left_in_few_steps():
    from lambda_batch.core.client_config import timeout_bucket

    assert timeout_bucket(600) is None
    assert timeout_bucket(4.2) == 3.0
    assert timeout_bucket(0.01) == 0.25
    assert len({timeout_bucket(x / 10) for x in range(0, 700)}) <= 12
    provider = ClientProvider("sqs", endpoint_url=ENDPOINT)
    client = provider.get("eu-west-1", timeout=2.0)
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 2.0)
    assert provider.get("eu-west-1", timeout=2.0) is client


def test_unknown_client_keywords_are_refused():
    with pytest.raises(TypeError, match="'endpoint'"):
        ClientProvider("sqs", endpoint="http://127.0.0.1:9")


def test_warm_invocations_with_a_fresh_client_each_keep_no_client_alive(boto3_session, caplog):
    """A handler that makes its client and its processor on every invocation: the once-per-client
    warning must not keep each client (its connection pool, its endpoint data) alive."""
    import gc
    import logging
    import tracemalloc
    import weakref

    from lambda_batch import PartialSQSProcessor, SQSBatchDispatcher
    from lambda_batch.core import clients as layer_clients

    def invocation():
        client = boto3_session.client("sqs", region_name="us-east-1")
        PartialSQSProcessor(client=client)
        SQSBatchDispatcher("jobs", client=client)
        return weakref.ref(client)

    # Clients that other tests gave the layer may still be alive: only this test's must go.
    warned_before = len(layer_clients._warned_clients or ())
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        refs = [invocation() for _ in range(5)]  # warm-up: the first clients load botocore's models
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        refs += [invocation() for _ in range(30)]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    assert all(ref() is None for ref in refs)  # every client freed once its invocation ended
    assert len(layer_clients._warned_clients or ()) <= warned_before
    assert grown < 512 * 1024, f"{grown} bytes kept by 30 invocations"
    assert sum("retries" in r.getMessage() for r in caplog.records) == 35  # once per client
