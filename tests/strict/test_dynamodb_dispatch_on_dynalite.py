"""tests/integration/test_dispatch_dynamodb.py again, on dynalite instead of moto.

The same tests, fixtures and fault hooks; only the endpoint changes. dynalite validates as
DynamoDB does (batch size, duplicate keys, key types, number ranges, empty sets...), so a
request moto would take and DynamoDB would refuse fails here too.
"""

from __future__ import annotations

import decimal

import pytest

from tests.integration.test_dispatch_dynamodb import *  # noqa: F403
from tests.strict.resources import scan_all

pytestmark = pytest.mark.integration


@pytest.fixture()
def endpoint_url(dynalite):
    return dynalite.endpoint_url


def test_keys_and_numbers_at_the_edges_are_stored(boto3_session, endpoint_url, dynamodb, unique_name):
    """As on moto, read back raw: dynalite answers 9.99...E+125 as 126 plain digits, which boto3's
    deserializer refuses (DynamoDB answers in exponent form)."""
    name = create_table(dynamodb, unique_name("edges"), sort_key="sk", pk_type="S")  # noqa: F405
    dispatcher = make(boto3_session, endpoint_url, name)  # noqa: F405
    with pytest.raises(PayloadError, match=r"attribute 'pk' \(partition key\) is a number"):  # noqa: F405
        dispatcher.submit_delete({"pk": 1, "sk": 1})
    big = decimal.Decimal("9.9999999999999999999999999999999999999E+125")
    small = decimal.Decimal("1E-130")
    dispatcher.submit_payload({"pk": "edge", "sk": 1, "big": big, "small": -small, "digits": -(10**37 + 1)})
    dispatcher.submit_payload({"pk": "k" * 2048, "sk": 2})
    assert dispatcher.flush_payloads() == []
    stored = {i["pk"]["S"]: i for i in scan_all(dynamodb, name)}
    assert decimal.Decimal(stored["edge"]["big"]["N"]) == big
    assert decimal.Decimal(stored["edge"]["small"]["N"]) == -small
    assert decimal.Decimal(stored["edge"]["digits"]["N"]) == -(10**37 + 1)
    assert len(stored) == 2
