"""The dispatcher benchmarks' harness: a network that answers every batch call at once (or after a set
latency), sessions that never reach AWS, a timer.

Example::

    seconds = timed(lambda: dispatcher.flush_payloads())
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict

import boto3
from botocore.awsrequest import AWSResponse

REGION = "us-east-1"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/bench"

OPERATIONS = {
    "sqs": ("sqs", "SendMessageBatch", "Entries"),
    "kinesis": ("kinesis", "PutRecords", "Records"),
    "firehose": ("firehose", "PutRecordBatch", "Records"),
    "dynamodb": ("dynamodb", "BatchWriteItem", "RequestItems"),
}


def stub_response() -> Any:
    """The HTTP response the stub network gives with every parsed answer (status 200, no headers)."""
    no_headers: Any = {}
    return AWSResponse("http://stub/", 200, no_headers, None)


def session() -> Any:
    return boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION)


class StubNetwork:
    """Answers the batch calls of one service on a session with success, after ``latency`` seconds."""

    def __init__(self, s: Any, service: str, latency: float = 0.0) -> None:
        self.service = service
        self.latency = latency
        self.calls = 0
        self._lock = threading.Lock()
        service_id, operation, _ = OPERATIONS[service]
        s.events.register(f"before-parameter-build.{service_id}.{operation}", self._capture)
        s.events.register(f"before-call.{service_id}.{operation}", self._answer)
        s.events.register("before-call.sqs.GetQueueAttributes", self._queue)
        s.events.register("before-call.dynamodb.DescribeTable", self._table)
        s.events.register("before-call.dynamodb.PutItem", self._single)
        s.events.register("before-call.kinesis.PutRecord", self._single)
        s.events.register("before-call.sqs.SendMessage", self._single)

    def _capture(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        key = OPERATIONS[self.service][2]
        entries = params[key]
        if isinstance(entries, dict):
            ((_, entries),) = entries.items()
        context["bench_entries"] = entries

    def _answer(self, context: Dict[str, Any], **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        entries = context["bench_entries"]
        if self.service == "sqs":
            parsed: Dict[str, Any] = {"Successful": [{"Id": e["Id"], "MessageId": "m"} for e in entries]}
        elif self.service == "kinesis":
            parsed = {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": "1", "ShardId": "s"} for _ in entries],
            }
        elif self.service == "firehose":
            parsed = {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "r"} for _ in entries]}
        else:
            parsed = {"UnprocessedItems": {}}
        return stub_response(), parsed

    def _single(self, **_: Any) -> Any:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        return stub_response(), {
            "MessageId": "m",
            "SequenceNumber": "1",
            "ShardId": "s",
        }

    def _table(self, **_: Any) -> Any:
        """The bench tables' key: ``pk``, a string (read once by the DynamoDB dispatcher)."""
        return stub_response(), {
            "Table": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            }
        }

    def _queue(self, **_: Any) -> Any:
        return stub_response(), {"Attributes": {"MaximumMessageSize": "1048576"}}


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- 1. submit cost, network stubbed ----------------------------------------------------------
