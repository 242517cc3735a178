"""tests/integration/test_dispatch_kinesis.py again, on kinesalite instead of moto.

The same tests, fixtures and fault hooks; only the endpoint changes (and the stream is
awaited ACTIVE, which moto makes at once). kinesalite validates as Kinesis does.
"""

from __future__ import annotations

import pytest

from tests.integration.test_dispatch_kinesis import *  # noqa: F403
from tests.strict.resources import create_stream, read_all_shards

pytestmark = pytest.mark.integration


@pytest.fixture()
def endpoint_url(kinesalite):
    return kinesalite.endpoint_url


@pytest.fixture()
def stream(kinesis, unique_name):
    name = create_stream(kinesis, unique_name("clicks"), 2)
    yield name
    kinesis.delete_stream(StreamName=name)


@pytest.mark.skip(reason="kinesalite 3.3.3 predates PutRecords' StreamARN parameter (it requires StreamName)")
def test_stream_named_by_arn_and_explicit_hash_key():
    """Covered on moto (tests/integration); the explicit hash key alone is put here below."""


def test_explicit_hash_key(boto3_session, endpoint_url, kinesis, stream):
    dispatcher = make(boto3_session, endpoint_url, stream)  # noqa: F405
    dispatcher.submit_payload(b"\x00raw", partition_key="k", explicit_hash_key="0")
    dispatcher.submit_payload("text", explicit_hash_key=str(2**128 - 1))  # moto finds no shard for it
    assert dispatcher.flush_payloads() == []
    stored = {r["Data"]: r for r in read_all_shards(kinesis, stream)["shardId-000000000000"]}
    assert list(stored) == [b"\x00raw"]
    assert [r["Data"] for r in read_all_shards(kinesis, stream)["shardId-000000000001"]] == [b'"text"']
