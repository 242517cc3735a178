"""The tools' credentials for an endpoint (emulator or AWS), and the invoker's reading of sample events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from emulator.server import MissingCredentialsError, is_loopback, session_for_endpoint
from local_lambda.sqs_events import malformed_reason

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://localhost:4566", True),
        ("http://[::1]:4566", True),
        ("https://sqs.us-east-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
        (None, False),
    ],
)
def test_loopback_endpoints(url: Any, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_a_loopback_endpoint_without_credentials_gets_the_fake_ones(no_credentials: None) -> None:
    credentials = session_for_endpoint("http://127.0.0.1:5000", "us-east-1").get_credentials()
    assert credentials is not None and credentials.access_key == "testing"


def test_any_other_endpoint_without_credentials_says_so_plainly(no_credentials: None) -> None:
    with pytest.raises(
        MissingCredentialsError, match=r"AWS credentials are missing for https://example\.com"
    ):
        session_for_endpoint("https://example.com", "us-east-1")
    with pytest.raises(MissingCredentialsError, match="missing for AWS"):
        session_for_endpoint(None, "us-east-1")


def test_the_callers_credentials_win(monkeypatch: pytest.MonkeyPatch, no_credentials: None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    credentials = session_for_endpoint("http://127.0.0.1:5000", "us-east-1").get_credentials()
    assert credentials.access_key == "AKIAREAL"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "the event has no Records"),
        ({"Records": []}, "the event has no Records"),
        ({"Records": ["x"]}, "record 0 is not an object"),
        (json.loads((ROOT / "events" / "sqs-malformed.json").read_text()), "record 0 has no receiptHandle"),
    ],
)
def test_malformed_samples_are_named(event: Any, reason: str) -> None:
    assert malformed_reason(event) == reason


@pytest.mark.parametrize(
    "name", ["sqs-batch-all-success.json", "sqs-batch-with-failures.json", "sqs-fifo-batch.json"]
)
def test_the_other_sqs_samples_are_well_formed(name: str) -> None:
    assert malformed_reason(json.loads((ROOT / "events" / name).read_text())) is None
