"""A fault-injecting HTTP proxy on loopback, in front of an emulator: partial failures and 5xx on the wire.

The emulators never fail part of a batch. This proxy makes them do so, the way the services
do, with nothing in the client changed (clients use ``proxy.endpoint_url``):

- **entry failures** (``entry_failure``, a fraction): for a Kinesis ``PutRecords`` the chosen
  records are taken out of the request before it is forwarded (so they are not stored), and
  put back into the answer at their positions as ``ProvisionedThroughputExceededException``
  entries, ``FailedRecordCount`` counting them; for a DynamoDB ``BatchWriteItem`` the chosen
  writes are taken out and come back in ``UnprocessedItems``, as sent. If every entry fails,
  nothing is forwarded.
- **server errors** (``server_error``, a fraction of calls): HTTP 500 ``InternalFailure``,
  answered by the proxy, so the emulator never sees the call.
- **slow bodies** (``body_rate``, bytes per second): the body of every answer to a GET is sent
  at that rate, in small writes after the headers, as a slow S3 GetObject arrives; the bytes
  actually sent are counted in :attr:`FaultProxy.body_bytes_sent` (a client that hangs up
  stops the sending).

Only the batch operations (``PutRecords``, ``BatchWriteItem``) suffer; set-up and reads
(``CreateTable``, ``Scan``, ``GetRecords``...) pass through untouched. A request over
``body_limit`` is forwarded unchanged (the emulator answers its bare 413; taking entries out
would hide that). Choices are seeded and depend only on the request's content and how many
times that same content came before, so a run reproduces even with concurrent callers.

Responses of the JSON protocols only (DynamoDB's ``x-amz-crc32`` is recomputed when the
answer is rewritten). Every batch call is recorded in :attr:`FaultProxy.calls`.

Example::

    from emulator.strict import start_emulator
    from emulator.fault_proxy import FaultProxy

    kinesalite = start_emulator("kinesalite")
    with FaultProxy(kinesalite.endpoint_url, entry_failure=0.3, server_error=0.05, seed=7) as proxy:
        client = boto3.client("kinesis", endpoint_url=proxy.endpoint_url, ...)
        ...
        proxy.count("PutRecords")
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from emulator.forwarding import HOP_BY_HOP, Upstream

#: Headers not forwarded as they came: the hop-by-hop ones and the length (set for the body sent).
_HOP_BY_HOP = HOP_BY_HOP | {"content-length"}
#: X-Amz-Target operation -> how its entries fail.
BATCH_OPERATIONS = ("PutRecords", "BatchWriteItem")
KINESIS_ENTRY_ERROR = ("ProvisionedThroughputExceededException", "Rate exceeded for shard (injected)")


@dataclass
class ProxyCall:
    """One batch call as the proxy saw it."""

    operation: str
    request_bytes: int  # the body as the client sent it (the wire size)
    entries: int  # entries in the client's request
    failed_entries: int  # of which the proxy failed (never forwarded)
    status: int  # the status the client got
    injected_500: bool  # the proxy answered 500 itself


Headers = List[Tuple[str, str]]


class FaultProxy:
    """A reverse proxy on ``host`` and a free port, forwarding to ``upstream_url`` with faults."""

    def __init__(
        self,
        upstream_url: str,
        *,
        entry_failure: float = 0.0,
        server_error: float = 0.0,
        seed: int = 0,
        body_limit: Optional[int] = None,
        body_rate: Optional[float] = None,
        host: str = "127.0.0.1",
    ) -> None:
        parsed = urllib.parse.urlparse(upstream_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(
                f"the fault proxy forwards to plain http:// endpoints only, not {upstream_url!r}"
            )
        self.upstream = (parsed.hostname, parsed.port or 80)
        self.host = host
        self.body_limit = body_limit
        if body_rate is not None and not body_rate > 0:
            raise ValueError("body_rate is a number of bytes per second > 0")
        self.body_rate = body_rate
        self.body_bytes_sent = 0
        self.calls: List[ProxyCall] = []
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._upstream = Upstream(*self.upstream, timeout=120)
        self._server: Optional[_Server] = None
        self.set_faults(entry_failure=entry_failure, server_error=server_error, seed=seed)

    # ------------------------------------------------------------------ control

    def set_faults(self, *, entry_failure: float = 0.0, server_error: float = 0.0, seed: int = 0) -> None:
        """Change the fault rates and seed; forgets the calls seen so far."""
        if not (0.0 <= entry_failure <= 1.0 and 0.0 <= server_error <= 1.0):
            raise ValueError("fault rates are fractions from 0 to 1")
        with self._lock:
            self.entry_failure = entry_failure
            self.server_error = server_error
            self.seed = seed
            self._seen.clear()
            self.calls = []

    def start(self) -> FaultProxy:
        """Listen; returns self."""
        if self._server is None:
            self._server = _Server(self)
            threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
            ).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: give it to clients as their endpoint."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` (``PutRecords``, ``BatchWriteItem``) the proxy saw."""
        with self._lock:
            return sum(1 for call in self.calls if call.operation == operation)

    # ------------------------------------------------------------------ the work

    def _rng(self, body: bytes) -> random.Random:
        """Seeded by the content and its occurrence: identical retries get fresh, reproducible draws."""
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            occurrence = self._seen[digest]
            self._seen[digest] += 1
        return random.Random(f"{self.seed}:{digest}:{occurrence}")

    def handle(
        self, method: str, path: str, headers: Headers, body: bytes
    ) -> Tuple[int, str, Headers, bytes]:
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
        operation = target.rsplit(".", 1)[-1]
        if operation not in BATCH_OPERATIONS:
            return self._forward(method, path, headers, body)
        rng = self._rng(body)
        request = json.loads(body)
        entries = _entries(operation, request)
        if rng.random() < self.server_error:
            answer = _error_answer(headers, 500, "InternalFailure", "injected server error")
            self._record(ProxyCall(operation, len(body), len(entries), 0, 500, True))
            return answer
        oversized = self.body_limit is not None and len(body) > self.body_limit
        failing = (
            set()
            if oversized
            else {position for position in range(len(entries)) if rng.random() < self.entry_failure}
        )
        if not failing:
            answer = self._forward(method, path, headers, body)
            self._record(ProxyCall(operation, len(body), len(entries), 0, answer[0], False))
            return answer
        kept = _without(operation, request, failing)
        if kept is None:  # every entry fails: nothing to forward
            status, reason = 200, "OK"
            response_headers = [("Content-Type", _content_type(headers))]
            response: Dict[str, Any] = {}
            if operation == "BatchWriteItem":
                response_headers.append(("x-amz-crc32", "0"))
        else:
            status, reason, response_headers, raw = self._forward(
                method, path, _replace_length(headers, len(kept)), kept
            )
            if status != 200:  # the emulator refused what was left: pass its answer on as it is
                self._record(ProxyCall(operation, len(body), len(entries), 0, status, False))
                return status, reason, response_headers, raw
            response = json.loads(raw)
        _merge_failures(operation, request, response, failing)
        self._record(ProxyCall(operation, len(body), len(entries), len(failing), status, False))
        return status, reason, *_json_answer(response_headers, response)

    def _record(self, call: ProxyCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _forward(
        self, method: str, path: str, headers: Headers, body: bytes
    ) -> Tuple[int, str, Headers, bytes]:
        forwarded = {k: v for k, v in headers if k.lower() not in _HOP_BY_HOP}
        forwarded["Content-Length"] = str(len(body))
        return self._upstream.request(method, path, body, forwarded)


# ---------------------------------------------------------------------- request and answer shapes


def _entries(operation: str, request: Dict[str, Any]) -> List[Any]:
    if operation == "PutRecords":
        return list(request.get("Records") or [])
    return [entry for requests in (request.get("RequestItems") or {}).values() for entry in requests]


def _without(operation: str, request: Dict[str, Any], failing: set[int]) -> Optional[bytes]:
    """The request body without the failing entries (None if none is left)."""
    if operation == "PutRecords":
        records = [r for position, r in enumerate(request["Records"]) if position not in failing]
        return json.dumps({**request, "Records": records}).encode() if records else None
    position = 0
    kept: Dict[str, List[Any]] = {}
    for table, requests in request["RequestItems"].items():
        for entry in requests:
            if position not in failing:
                kept.setdefault(table, []).append(entry)
            position += 1
    return json.dumps({**request, "RequestItems": kept}).encode() if kept else None


def _merge_failures(
    operation: str, request: Dict[str, Any], response: Dict[str, Any], failing: set[int]
) -> None:
    """Put the failed entries back into ``response``, where and as the service reports them."""
    if operation == "PutRecords":
        stored = iter(response.get("Records") or [])
        code, message = KINESIS_ENTRY_ERROR
        merged = [
            {"ErrorCode": code, "ErrorMessage": message} if position in failing else next(stored)
            for position in range(len(request["Records"]))
        ]
        response["Records"] = merged
        response["FailedRecordCount"] = sum(1 for record in merged if "ErrorCode" in record)
        return
    unprocessed = response.setdefault("UnprocessedItems", {})
    position = 0
    for table, requests in request["RequestItems"].items():
        for entry in requests:
            if position in failing:
                unprocessed.setdefault(table, []).append(entry)
            position += 1


def _content_type(headers: Headers) -> str:
    return next((v for k, v in headers if k.lower() == "content-type"), "application/x-amz-json-1.0")


def _replace_length(headers: Headers, length: int) -> Headers:
    return [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(length))]


def _json_answer(headers: Headers, response: Dict[str, Any]) -> Tuple[Headers, bytes]:
    body = json.dumps(response).encode()
    kept = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP and k.lower() != "x-amz-crc32"]
    if any(k.lower() == "x-amz-crc32" for k, _ in headers):
        kept.append(("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF)))
    return kept, body


def _error_answer(
    request_headers: Headers, status: int, code: str, message: str
) -> Tuple[int, str, Headers, bytes]:
    content_type = _content_type(request_headers)
    dynamodb = "1.0" in content_type
    error = {"__type": f"com.amazon.coral.service#{code}" if dynamodb else code, "message": message}
    headers, body = _json_answer(
        [("Content-Type", content_type)] + ([("x-amz-crc32", "0")] if dynamodb else []), error
    )
    return status, http.client.responses.get(status, "Error"), headers, body


# ---------------------------------------------------------------------- the HTTP server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK hold the body back 40 ms on every call.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, reason, headers, data = self.server.proxy.handle(
                self.command, self.path, list(self.headers.items()), body
            )
        except (http.client.HTTPException, OSError, ValueError) as exc:
            status, reason, headers, data = 502, "Bad Gateway", [], f"fault proxy: {exc}".encode()
        self.send_response(status, reason)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        rate = self.server.proxy.body_rate
        if rate is None or self.command != "GET":
            self.wfile.write(data)
            return
        self._trickle(data, rate)

    def _trickle(self, data: bytes, rate: float) -> None:
        """Send ``data`` at ``rate`` bytes per second, a tenth of a second's worth at a time."""
        proxy = self.server.proxy
        step = max(1, int(rate / 10))
        start = time.monotonic()
        for offset in range(0, len(data), step):
            due = start + offset / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            try:
                self.wfile.write(data[offset : offset + step])
                self.wfile.flush()
            except OSError:  # the client hung up
                self.close_connection = True
                return
            with proxy._lock:
                proxy.body_bytes_sent += len(data[offset : offset + step])

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__((proxy.host, 0), _Handler)
        self.proxy = proxy
