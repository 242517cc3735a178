"""Clients are made lazily, once per region, and shared across the process when made with defaults."""

from __future__ import annotations

import pytest

from lambda_batch.clients import ClientProvider

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
