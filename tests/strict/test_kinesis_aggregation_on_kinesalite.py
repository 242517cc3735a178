"""tests/integration/test_dispatch_kinesis_aggregation.py again, on kinesalite instead of moto.

The same tests and fault hooks; only the endpoint changes (streams are awaited ACTIVE, which
moto makes at once). kinesalite validates PutRecords and ListShards as Kinesis does, and caps
a call at 5 MiB like moto.
"""

from __future__ import annotations

import pytest

from tests.integration.test_dispatch_kinesis_aggregation import *  # noqa: F403
from tests.strict.resources import create_stream

pytestmark = pytest.mark.integration


@pytest.fixture()
def endpoint_url(kinesalite):
    return kinesalite.endpoint_url


@pytest.fixture()
def stream(kinesis, unique_name):
    name = create_stream(kinesis, unique_name("agg"), 4)
    yield name
    kinesis.delete_stream(StreamName=name)


@pytest.mark.skip(reason="makes a stream per example without awaiting it: run on moto")
def test_every_user_record_is_put_once_or_handed_back_once():
    """Covered on moto."""
