"""Fixtures of the integration tests beyond the shared ones of tests/conftest.py."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture()
def bucket(aws_client: Any, unique_name: Any, monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> str:
    """A new S3 bucket on the moto server, which the layer's own S3 clients reach too
    (``AWS_ENDPOINT_URL_S3``): the payload bucket of the large-payload tests."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint_url)
    name = str(unique_name("payloads"))
    aws_client("s3").create_bucket(Bucket=name)
    return name
