"""What a plain SQS batch loads: the core of processing and the SQS source, nothing else.

Read from ``sys.modules`` in a fresh interpreter, after a ``BatchProcessor(EventType.SQS)`` with
default options processed a batch with a failure (the ordering rule worked out, the failure
logged): no feature module, no other event source, no SQS action (the engine), no dispatcher.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

PLAIN_SQS_BATCH = """
import json, sys
from lambda_batch import BatchProcessor, EventType, process_partial_response
records = [
    {"messageId": f"m-{n}", "receiptHandle": f"h-{n}", "body": str(n), "attributes": {},
     "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
     "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders", "awsRegion": "us-east-1"}
    for n in range(3)
]
def handler(record):
    if record.body == "1":
        raise ValueError("declined")
response = process_partial_response({"Records": records}, handler, BatchProcessor(EventType.SQS))
assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}, response
print(json.dumps(sorted(name for name in sys.modules if name.startswith("lambda_batch"))))
"""


def loaded_by_a_plain_sqs_batch():
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_SQS_BATCH],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layer'}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_plain_sqs_batch_imports_no_feature_and_no_other_source():
    loaded = loaded_by_a_plain_sqs_batch()
    assert "lambda_batch.processing.events.sqs" in loaded  # the check can see what it looks for
    features = [name for name in loaded if name.startswith("lambda_batch.processing.features")]
    other_sources = [
        name
        for name in loaded
        if name.startswith("lambda_batch.processing.events.")
        and name.rpartition(".")[2] not in ("spec", "intake", "record", "sqs")
    ]
    engine = [
        name
        for name in loaded
        if name.startswith(("lambda_batch.engine", "lambda_batch.dispatchers", "lambda_batch.payloads"))
        or name in ("lambda_batch.processing.sqs_actions", "lambda_batch.processing.sqs_processor")
    ]
    assert features == []
    assert other_sources == []
    assert engine == []
