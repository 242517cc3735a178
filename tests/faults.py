"""Fault injection for the dispatcher tests: botocore event hooks on a boto3 session.

The emulator never throttles, never fails part of a batch, never drops a connection. These
hooks make it do so, for real calls to the moto server:

- ``before-parameter-build`` removes the entries chosen to fail, so the server never gets them;
- ``before-call`` answers in place of the server for whole-call faults (throttling, 5xx,
  access denied) or raises botocore's connection and timeout errors (before anything is sent);
- ``after-call`` puts the chosen entries back into the server's answer as failed, where the
  service reports them (SQS/SNS ``Failed``, Kinesis/Firehose/EventBridge per-position error
  codes, DynamoDB ``UnprocessedItems``).

Register on the session before the client is made (clients copy the session's hooks).

A plan chooses faults by call number; ``fail_entries`` chooses them by content instead
(``rule(request_entry)`` is None to let the entry through, True or False to fail it
retryably or not), for calls the plan lets through.

Example::

    plan = lambda call, n: Fault("throttle") if call == 0 else OK
    injector = FaultInjector(boto3_session, "sqs", plan)
    dispatcher = SQSBatchDispatcher(queue_url, boto3_session=boto3_session, endpoint_url=endpoint_url)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

#: service -> (event service id, operation)
OPERATIONS: Dict[str, Tuple[str, str]] = {
    "sqs": ("sqs", "SendMessageBatch"),
    "sns": ("sns", "PublishBatch"),
    "kinesis": ("kinesis", "PutRecords"),
    "firehose": ("firehose", "PutRecordBatch"),
    "dynamodb": ("dynamodb", "BatchWriteItem"),
    "cloudwatch": ("cloudwatch", "PutMetricData"),
    "events": ("eventbridge", "PutEvents"),
}

#: service -> (retryable entry error code, non-retryable entry error code)
ENTRY_ERRORS: Dict[str, Tuple[str, str]] = {
    "sqs": ("InternalError", "InvalidParameterValue"),
    "sns": ("InternalError", "InvalidParameterValue"),
    "kinesis": ("ProvisionedThroughputExceededException", "KMSAccessDeniedException"),
    "firehose": ("ServiceUnavailableException", "InvalidKMSResourceException"),
    "dynamodb": ("UnprocessedItems", "UnprocessedItems"),  # DynamoDB only hands back, never refuses
    "events": ("ThrottlingException", "MalformedDetail"),
}

WHOLE_CALL_FAULTS = ("throttle", "server", "denied", "connection", "timeout")


@dataclass
class Fault:
    """What one call suffers.

    ``kind``: ``ok``, ``throttle`` (400 ThrottlingException), ``server`` (500 InternalError),
    ``denied`` (403 AccessDenied), ``connection`` (EndpointConnectionError), ``timeout``
    (ConnectTimeoutError), or ``partial``: the entries at the positions in ``failing`` fail,
    retryably (True) or not (False).
    """

    kind: str = "ok"
    failing: Dict[int, bool] = field(default_factory=dict)


OK = Fault()

Plan = Callable[[int, int], Fault]
EntryRule = Callable[[Dict[str, Any]], Optional[bool]]


@dataclass
class CallRecord:
    kind: str
    entries: int


class FaultInjector:
    """Hooks on ``session`` applying ``plan(call_index, entry_count)`` to each batch call of ``service``."""

    def __init__(
        self, session: Any, service: str, plan: Plan, *, fail_entries: Optional[EntryRule] = None
    ) -> None:
        self.service = service
        self.plan = plan
        self.fail_entries = fail_entries
        self.calls: List[CallRecord] = []
        self._lock = threading.Lock()
        service_id, operation = OPERATIONS[service]
        events = session.events
        events.register(f"before-parameter-build.{service_id}.{operation}", self._before_params)
        events.register(f"before-call.{service_id}.{operation}", self._before_call)
        events.register(f"after-call.{service_id}.{operation}", self._after_call)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    # -- hooks ---------------------------------------------------------------------------

    def _before_params(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        entries = _get_entries(self.service, params)
        with self._lock:
            index = len(self.calls)
            fault = self.plan(index, len(entries))
            if fault.kind == "ok" and self.fail_entries is not None:
                failing = {}
                for pos, entry in enumerate(entries):
                    verdict = self.fail_entries(entry)
                    if verdict is not None:
                        failing[pos] = verdict
                if failing:
                    fault = Fault("partial", failing)
            self.calls.append(CallRecord(fault.kind, len(entries)))
        context["fault"] = fault
        if fault.kind == "partial":
            failing = {pos: retry for pos, retry in fault.failing.items() if 0 <= pos < len(entries)}
            fault.failing = failing
            context["fault_entries"] = list(entries)
            if self.service == "dynamodb":
                context["fault_table"] = next(iter(params["RequestItems"]))
            kept = [entry for pos, entry in enumerate(entries) if pos not in failing]
            context["fault_kept"] = len(kept)
            if kept:
                _set_entries(self.service, params, kept)

    def _before_call(self, context: Dict[str, Any], **_: Any) -> Any:
        fault: Fault = context.get("fault", OK)
        if fault.kind in ("ok",):
            return None
        if fault.kind == "partial":
            if context["fault_kept"]:
                return None
            context["fault_faked"] = True
            return _http(200), _merge(self.service, _empty_response(self.service), context)
        from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

        if fault.kind == "connection":
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
        if fault.kind == "timeout":
            raise ConnectTimeoutError(endpoint_url="http://127.0.0.1:1/")
        status, code, message = {
            "throttle": (400, "ThrottlingException", "Rate exceeded"),
            "server": (500, "InternalError", "We encountered an internal error"),
            "denied": (403, "AccessDenied", "not authorized to perform this action"),
        }[fault.kind]
        context["fault_faked"] = True
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        }
        return _http(status), parsed

    def _after_call(self, parsed: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        fault: Fault = context.get("fault", OK)
        if fault.kind != "partial" or context.get("fault_faked"):
            return
        _merge(self.service, parsed, context)


# -- per-service shapes ---------------------------------------------------------------------


def _get_entries(service: str, params: Dict[str, Any]) -> List[Any]:
    if service in ("sqs", "events"):
        return list(params["Entries"])
    if service == "sns":
        return list(params["PublishBatchRequestEntries"])
    if service in ("kinesis", "firehose"):
        return list(params["Records"])
    if service == "dynamodb":
        ((_, requests),) = params["RequestItems"].items()
        return list(requests)
    if service == "cloudwatch":
        return list(params["MetricData"])
    raise ValueError(service)


def _set_entries(service: str, params: Dict[str, Any], entries: List[Any]) -> None:
    if service in ("sqs", "events"):
        params["Entries"] = entries
    elif service == "sns":
        params["PublishBatchRequestEntries"] = entries
    elif service in ("kinesis", "firehose"):
        params["Records"] = entries
    elif service == "dynamodb":
        ((table, _),) = params["RequestItems"].items()
        params["RequestItems"] = {table: entries}
    else:
        raise ValueError(f"{service} has no per-entry failures")


def _empty_response(service: str) -> Dict[str, Any]:
    meta = {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}
    if service in ("sqs", "sns"):
        return {"Successful": [], "Failed": [], **meta}
    if service == "kinesis":
        return {"FailedRecordCount": 0, "Records": [], **meta}
    if service == "firehose":
        return {"FailedPutCount": 0, "RequestResponses": [], **meta}
    if service == "events":
        return {"FailedEntryCount": 0, "Entries": [], **meta}
    if service == "dynamodb":
        return {"UnprocessedItems": {}, **meta}
    raise ValueError(service)


def _merge(service: str, parsed: Dict[str, Any], context: Dict[str, Any]) -> Dict[str, Any]:
    """Put the entries that were held back into ``parsed`` as failed, where the service reports them."""
    fault: Fault = context["fault"]
    entries: List[Any] = context["fault_entries"]
    retry_code, final_code = ENTRY_ERRORS[service]
    if service in ("sqs", "sns"):
        failed = parsed.setdefault("Failed", [])
        for pos, retryable in sorted(fault.failing.items()):
            failed.append(
                {
                    "Id": entries[pos]["Id"],
                    "SenderFault": not retryable,
                    "Code": retry_code if retryable else final_code,
                    "Message": "injected entry failure",
                }
            )
        return parsed
    if service == "dynamodb":
        unprocessed = parsed.setdefault("UnprocessedItems", {})
        for pos in sorted(fault.failing):
            unprocessed.setdefault(context["fault_table"], []).append(entries[pos])
        return parsed
    key, count_key = {
        "kinesis": ("Records", "FailedRecordCount"),
        "firehose": ("RequestResponses", "FailedPutCount"),
        "events": ("Entries", "FailedEntryCount"),
    }[service]
    kept = iter(parsed.get(key) or [])
    merged = []
    for pos in range(len(entries)):
        if pos in fault.failing:
            code = retry_code if fault.failing[pos] else final_code
            merged.append({"ErrorCode": code, "ErrorMessage": "injected entry failure"})
        else:
            merged.append(next(kept))
    parsed[key] = merged
    parsed[count_key] = sum(1 for item in merged if item.get("ErrorCode"))
    return parsed


def _http(status: int) -> Any:
    from botocore.awsrequest import AWSResponse

    return AWSResponse("http://fault-injection/", status, {}, _EmptyRaw())


class _EmptyRaw:
    def stream(self, **_: Any) -> Any:
        return iter(())

    def read(self, *_: Any) -> bytes:
        return b""


# -- a network that always succeeds, without sending anything (unit tests) -----------------


class CannedNetwork:
    """Answers every batch call of ``service`` with success, without sending it; counts calls and entries.

    Example::

        network = CannedNetwork(boto3_session, "kinesis")
        dispatcher = KinesisBatchDispatcher("s", boto3_session=boto3_session, region_name="us-east-1")
        ...
        network.batches   # entries per call, in order
    """

    def __init__(self, session: Any, service: str, key_schema: Optional[Dict[str, str]] = None) -> None:
        self.service = service
        self.batches: List[int] = []
        self.sent: List[Any] = []
        self._lock = threading.Lock()
        service_id, operation = OPERATIONS[service]
        session.events.register(f"before-parameter-build.{service_id}.{operation}", self._capture)
        session.events.register(f"before-call.{service_id}.{operation}", self._answer)
        if service == "sqs":  # the queue's settings, read once by the SQS dispatchers
            session.events.register("before-call.sqs.GetQueueUrl", self._queue_url)
            session.events.register("before-call.sqs.GetQueueAttributes", self._queue_attributes)
        if service == "sns":  # the topic's MaximumMessageSize, read once by the SNS dispatcher
            session.events.register("before-call.sns.GetTopicAttributes", self._topic_attributes)
        if service == "dynamodb":  # the table's key ({"pk": "S", "sk": "N"}), read once per process
            from lambda_batch.dispatchers import dynamodb

            dynamodb._table_keys.clear()  # every canned table is new
            self._key_schema = key_schema
            session.events.register("before-call.dynamodb.DescribeTable", self._describe_table)

    def _describe_table(self, **_: Any) -> Any:
        if self._key_schema is None:
            error = {"Code": "AccessDeniedException", "Message": "not authorized"}
            return _http(400), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        roles = ("HASH", "RANGE")
        table = {
            "KeySchema": [
                {"AttributeName": n, "KeyType": r} for n, r in zip(self._key_schema, roles, strict=False)
            ],
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in self._key_schema.items()
            ],
        }
        return _http(200), {"Table": table}

    def _queue_url(self, params: Dict[str, Any], **_: Any) -> Any:
        return _http(200), {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/canned"}

    def _queue_attributes(self, **_: Any) -> Any:
        return _http(200), {
            "Attributes": {"MaximumMessageSize": "1048576", "ContentBasedDeduplication": "false"}
        }

    def _topic_attributes(self, **_: Any) -> Any:
        return _http(200), {"Attributes": {}}  # no MaximumMessageSize: the default, 256 KiB

    def _capture(self, params: Dict[str, Any], context: Dict[str, Any], **_: Any) -> None:
        entries = _get_entries(self.service, params)
        context["canned_entries"] = entries
        with self._lock:
            self.batches.append(len(entries))
            self.sent.extend(entries)

    def _answer(self, context: Dict[str, Any], **_: Any) -> Any:
        return _http(200), success_response(self.service, context["canned_entries"])


def success_response(service: str, entries: List[Any]) -> Dict[str, Any]:
    """The parsed response of a batch call in which every entry succeeded."""
    response = _empty_response(service) if service != "cloudwatch" else {"ResponseMetadata": {}}
    if service in ("sqs", "sns"):
        response["Successful"] = [{"Id": entry["Id"], "MessageId": entry["Id"]} for entry in entries]
    elif service == "kinesis":
        response["Records"] = [{"SequenceNumber": "1", "ShardId": "shardId-000000000000"} for _ in entries]
    elif service == "firehose":
        response["RequestResponses"] = [{"RecordId": "r"} for _ in entries]
    elif service == "events":
        response["Entries"] = [{"EventId": "e"} for _ in entries]
    return response


# -- reading back what arrived at the emulator ------------------------------------------------


def drain_queue(sqs: Any, queue_url: str, attributes: bool = False) -> List[Dict[str, Any]]:
    """Receive and delete every message of a queue (keeps moto's queues shallow)."""
    messages: List[Dict[str, Any]] = []
    extra = {"MessageAttributeNames": ["All"], "AttributeNames": ["All"]} if attributes else {}
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, **extra).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )


def read_stream(kinesis: Any, stream_name: str) -> List[Dict[str, Any]]:
    """Every record on every shard of a Kinesis stream, shard by shard, in sequence order."""
    records: List[Dict[str, Any]] = []
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            response = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            records.extend(response["Records"])
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return records


def queue_arn(sqs: Any, queue_url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    )


def fast_policy(max_attempts: int = 5) -> Any:
    """A retry policy that does not wait (tests must not sleep)."""
    from lambda_batch import RetryPolicy

    return RetryPolicy(max_attempts=max_attempts, base_delay=0.0, max_delay=0.0)


def min_calls(sizes: List[int], max_entries: int, max_bytes: int) -> int:
    """The fewest calls that send ``sizes`` in order under both caps (dynamic programming).

    Computed independently of the dispatchers' next-fit packing, which it checks.
    """
    n = len(sizes)
    best = [0] + [n + 1] * n
    for end in range(1, n + 1):
        total = 0
        for start in range(end - 1, max(-1, end - 1 - max_entries), -1):
            total += sizes[start]
            if total > max_bytes:
                break
            best[end] = min(best[end], best[start] + 1)
    return best[n]


def track_concurrency(session: Any, operation: str, hold: float = 0.05) -> Dict[str, int]:
    """Count ``operation`` calls (e.g. ``"s3.PutObject"``) in flight on ``session``'s clients:
    the returned dict's ``"peak"`` is the most at once. Each call is held ``hold`` seconds so
    that calls meant to overlap do."""
    import time

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def enter(**_: Any) -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(hold)

    def leave(**_: Any) -> None:
        with lock:
            state["now"] -= 1

    session.events.register(f"before-call.{operation}", enter)
    session.events.register(f"after-call.{operation}", leave)
    return state
