"""The demo's DLQ reader, the tools' credentials for an endpoint, the invoker's reading of samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict

import pytest

from demo.pipeline import _read_dlq
from emulator.server import MissingCredentialsError, is_loopback, session_for_endpoint
from local_lambda.sqs_events import malformed_reason

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_dlq_reader_reads_every_message_of_a_fifo_group_and_deletes_only_its_own(aws_client) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(
        QueueName=f"dlq-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    # 25 messages of this run in two groups (a FIFO queue holds back a group while one of its
    # messages is in flight), and 3 of another run.
    for i in range(25):
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"id": f"run1-{i:03d}"}), MessageGroupId=f"g{i % 2}"
        )
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": f"other-{i}"}), MessageGroupId="g9")

    found = _read_dlq(sqs, url, "run1-")

    assert sorted(json.loads(body)["id"] for body in found.values()) == [f"run1-{i:03d}" for i in range(25)]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    # Only the other run's 3 remain (in flight for the reader's short visibility timeout).
    assert (
        int(attributes["ApproximateNumberOfMessages"])
        + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        == 3
    )


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


def _clean_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true"
    )
    return env


def test_demo_on_a_remote_endpoint_without_credentials_says_so_and_claims_no_deploy() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--endpoint-url",
            "https://cloudformation.example.com",
            "--skip-build",
        ],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "AWS credentials are missing" in completed.stderr and "Traceback" not in completed.stderr
    assert "deployed" not in completed.stdout


def test_demo_on_a_loopback_endpoint_without_a_stack_names_the_stack(moto_server) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "demo",
            "--endpoint-url",
            moto_server.endpoint_url,
            "--stack-name",
            "nothing-here",
        ],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 2
    assert "no stack 'nothing-here'" in completed.stderr and "credentials" not in completed.stderr
    assert "deployed as" not in completed.stdout


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
