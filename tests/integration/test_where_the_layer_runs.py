"""The layer in several processes at once, as Lambda Managed Instances run Python: each concurrent
request in a process of its own within one execution environment (docs/guide/where-it-runs.md).

Two interpreters import the layer and, at the same time, send to one queue of the moto server and
process a batch under ``max_concurrency`` with the visibility heartbeat on. Each makes its own
clients and its own once-per-process reads; nothing is shared or lost between them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.faults import drain_queue

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

REQUEST = r"""
import json, os, sys, threading
import lambda_batch
boto3_at_import = "boto3" in sys.modules
from lambda_batch import BatchProcessor, EventType, SQSBatchDispatcher, process_partial_response

queue_url, tag, start_file = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(start_file):  # both processes start their requests together
    threading.Event().wait(0.01)

sender = SQSBatchDispatcher(queue_url, max_workers=2)
for n in range(25):
    sender.submit_payload({"tag": tag, "n": n}, message_group_id=tag)
not_sent = sender.flush_payloads()

arn = "arn:aws:sqs:us-east-1:123456789012:" + queue_url.rsplit("/", 1)[-1]
records = [
    {"messageId": f"{tag}-{n}", "receiptHandle": f"rh-{tag}-{n}", "body": json.dumps({"n": n}),
     "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": tag}, "messageAttributes": {},
     "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1"}
    for n in range(12)
]
threads_before = threading.active_count()
seen = []
lock = threading.Lock()

def handler(record):
    n = json.loads(record["body"])["n"]
    with lock:
        seen.append(n)
    if n == 5:
        raise ValueError("record 5 fails")

processor = BatchProcessor(EventType.SQS, max_concurrency=4, extend_visibility=True, visibility_timeout=60)
response = process_partial_response({"Records": records}, handler, processor)
print(json.dumps({
    "pid": os.getpid(),
    "boto3_at_import": boto3_at_import,
    "not_sent": len(not_sent),
    "failures": [f["itemIdentifier"] for f in response["batchItemFailures"]],
    "seen": sorted(seen),
    "threads_left": threading.active_count() - threads_before,
    "visibility_failures": len(processor.visibility_failures),
}))
"""


@pytest.mark.realtime
def test_two_processes_import_the_layer_and_work_at_once(
    aws_client: Any, endpoint_url: str, unique_name: Any, tmp_path: Path
) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("managed-instances"))["QueueUrl"]
    start = tmp_path / "start"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "layer"), str(ROOT)]),
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", REQUEST, url, tag, str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("tenant-a", "tenant-b")
    ]
    start.touch()
    # 120 s: generous for a loaded machine; each request takes well under a second here.
    outputs = [process.communicate(timeout=120) for process in processes]
    results = []
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        results.append(json.loads(stdout.splitlines()[-1]))
    assert results[0]["pid"] != results[1]["pid"]
    for result, tag in zip(results, ("tenant-a", "tenant-b"), strict=True):
        assert result["boto3_at_import"] is False  # nothing loaded at import: each process starts cold
        assert result["not_sent"] == 0
        assert result["failures"] == [f"{tag}-5"]  # per record, in each process
        assert result["seen"] == list(range(12))
        assert result["threads_left"] == 0  # no worker or heartbeat thread outlives the batch
        assert result["visibility_failures"] == 0
    received = [json.loads(m["Body"]) for m in drain_queue(sqs, url)]
    assert sorted((b["tag"], b["n"]) for b in received) == sorted(
        (tag, n) for tag in ("tenant-a", "tenant-b") for n in range(25)
    )
