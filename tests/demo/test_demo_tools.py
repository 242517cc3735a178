"""The demo's DLQ reader, and what the demo says on an endpoint without credentials or without a stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict

import pytest

from demo.pipeline import _read_dlq

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
