"""A counting HTTP proxy on loopback: every AWS API call of a role, seen on the wire.

Each *role* (``producer``, ``consumer``, ``event-source``...) gets its own loopback port;
clients of that role use ``counter.endpoint_url(role)`` as their endpoint and the proxy
forwards each request, unchanged (Host header included, so queue URLs in responses stay
valid), to the upstream endpoint (the moto server, or LocalStack). Because it sits on
the wire it counts calls made anywhere - in this process, in a function run by an
invoker, in a subprocess - with no hook in the code being measured.

For each call it records the service, the operation, the HTTP status, and how many items
a batch operation carried (``Entries``, ``Records``, ``RequestItems``, ``MetricData``,
or the messages a ``ReceiveMessage`` returned), and hands the parsed JSON request and
response to observers, which is how ``make demo`` keeps its ledger of every message.

Plain HTTP only: against an HTTPS endpoint (real AWS) calls cannot be seen this way.

Example::

    from emulator import start_moto_server
    from emulator.call_counter import CallCounter

    server = start_moto_server()
    with CallCounter(server.endpoint_url, ["producer", "consumer"]) as counter:
        sqs = boto3.client("sqs", endpoint_url=counter.endpoint_url("producer"))
        ...
        counter.totals("producer")   # {("sqs", "SendMessageBatch"): OperationCount(calls=3, items=25, ...)}
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from emulator.forwarding import HOP_BY_HOP, Upstream

#: Hop-by-hop headers, and ``Expect`` (the proxy answers the whole request at once).
_HOP_BY_HOP = HOP_BY_HOP | {"expect"}
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_BATCH_KEYS = ("Entries", "Records", "MetricData", "PutRequests", "TransactItems")


@dataclass
class CallRecord:
    """One API call seen on the wire."""

    role: str
    service: str
    operation: str
    status: int
    items: int
    seconds: float
    request: Any
    response: Any


@dataclass
class OperationCount:
    """Calls of one operation: how many, how many items they carried, how many failed (HTTP >= 400)."""

    calls: int = 0
    items: int = 0
    errors: int = 0
    seconds: float = 0.0


Observer = Callable[[CallRecord], None]


def _service(headers: Any) -> str:
    target = str(headers.get("X-Amz-Target", ""))
    match = _CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
    if match:
        return match.group(1)
    if target:
        return target.split(".", 1)[0].lower()
    return "unknown"


def _operation(method: str, path: str, headers: Any, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    if "/operation/" in path:  # Smithy RPC v2 CBOR
        return path.rsplit("/operation/", 1)[-1].split("?", 1)[0]
    content_type = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in content_type:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    query = urllib.parse.urlparse(path).query
    action = urllib.parse.parse_qs(query).get("Action")
    if action:
        return action[0]
    return f"{method} {urllib.parse.urlparse(path).path}"


def _parse_json(body: bytes, content_type: str) -> Any:
    if not body or "json" not in content_type:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _items(operation: str, request: Any, response: Any, form: Optional[Dict[str, List[str]]]) -> int:
    """How many items a call carried: entries of a batch, messages received; 1 for a single-item call."""
    if operation == "ReceiveMessage":
        return len((response or {}).get("Messages", [])) if isinstance(response, dict) else 0
    if isinstance(request, dict):
        if operation == "BatchWriteItem":
            return sum(len(v) for v in (request.get("RequestItems") or {}).values())
        if operation == "BatchGetItem":
            return sum(len(v.get("Keys", [])) for v in (request.get("RequestItems") or {}).values())
        for key in _BATCH_KEYS:
            if isinstance(request.get(key), list):
                return len(request[key])
    if form:
        members = {k.split(".")[2] for k in form if k.startswith(("MetricData.member.", "Entries.member."))}
        if members:
            return len(members)
    return 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RoleServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the proxy is silent; the counts are its output

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        started = time.monotonic()
        status, reason, response_headers, response_body = self.server.counter._upstream_request(
            self.command, self.path, body, headers
        )
        seconds = time.monotonic() - started
        # Recorded before the caller gets its answer: whoever acts on a response (the demo's
        # ledger reading the queue's depth) sees the call already counted.
        self.server.counter._record(
            self.server.role,
            self.command,
            self.path,
            self.headers,
            body,
            status,
            response_headers,
            response_body,
            seconds,
        )
        self.send_response(status, reason)
        for key, value in response_headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response_body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response_body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


class _RoleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, counter: CallCounter, role: str, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.counter = counter
        self.role = role

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-answer (the run stopped, Ctrl-C) is not an error of the proxy's: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class CallCounter:
    """A counting reverse proxy in front of ``upstream_url``, one loopback port per role.

    ``observers`` are called with each :class:`CallRecord` (from the proxy's threads).

    Example::

        counter = CallCounter("http://127.0.0.1:5000", ["producer"]).start()
        counter.endpoint_url("producer")      # http://127.0.0.1:PORT
        counter.stop()
    """

    def __init__(
        self,
        upstream_url: str,
        roles: Sequence[str],
        host: str = "127.0.0.1",
        observers: Sequence[Observer] = (),
    ) -> None:
        parsed = urllib.parse.urlparse(upstream_url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(
                f"the call counter forwards to plain http:// endpoints only, not {upstream_url!r}"
            )
        if not roles:
            raise ValueError("give at least one role")
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port or 80
        self.host = host
        self.roles = list(dict.fromkeys(roles))
        self._observers: List[Observer] = list(observers)
        self._servers: Dict[str, _RoleServer] = {}
        self._threads: List[threading.Thread] = []
        self._upstream = Upstream(self.upstream_host, self.upstream_port)
        self._lock = threading.Lock()
        self._counts: Dict[str, Dict[Tuple[str, str], OperationCount]] = {role: {} for role in self.roles}

    # ------------------------------------------------------------ lifecycle

    def start(self) -> CallCounter:
        """Listen on one free loopback port per role; returns self."""
        for role in self.roles:
            server = _RoleServer(self, role, self.host)
            thread = threading.Thread(target=server.serve_forever, name=f"call-counter-{role}", daemon=True)
            thread.start()
            self._servers[role] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop listening."""
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def __enter__(self) -> CallCounter:
        return self.start() if not self._servers else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ use

    def endpoint_url(self, role: str) -> str:
        """The endpoint clients of ``role`` should use."""
        server = self._servers.get(role)
        if server is None:
            raise KeyError(f"no running listener for role {role!r} (roles: {', '.join(self.roles)})")
        return f"http://{self.host}:{server.server_address[1]}"

    def add_observer(self, observer: Observer) -> None:
        """Call ``observer(record)`` for every call from now on."""
        with self._lock:
            self._observers.append(observer)

    def totals(self, role: str) -> Dict[Tuple[str, str], OperationCount]:
        """``(service, operation) -> OperationCount`` of ``role`` so far (a copy)."""
        with self._lock:
            return {key: OperationCount(**vars(count)) for key, count in self._counts[role].items()}

    def calls(self, role: str) -> int:
        """Every call of ``role`` so far."""
        return sum(count.calls for count in self.totals(role).values())

    def reset(self) -> None:
        """Forget the counts."""
        with self._lock:
            self._counts = {role: {} for role in self.roles}

    # ------------------------------------------------------------ internals

    def _upstream_request(
        self, method: str, path: str, body: bytes, headers: Dict[str, str]
    ) -> Tuple[int, str, List[Tuple[str, str]], bytes]:
        return self._upstream.request(method, path, body, headers)

    def _record(  # noqa: PLR0917 - internal, called from one place
        self,
        role: str,
        method: str,
        path: str,
        headers: Any,
        body: bytes,
        status: int,
        response_headers: List[Tuple[str, str]],
        response_body: bytes,
        seconds: float,
    ) -> None:
        service = _service(headers)
        operation = _operation(method, path, headers, body)
        request = _parse_json(body, headers.get("Content-Type", ""))
        response_type = next((v for k, v in response_headers if k.lower() == "content-type"), "")
        response = _parse_json(response_body, response_type)
        form = None
        if request is None and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        items = _items(operation, request, response, form)
        record = CallRecord(role, service, operation, status, items, seconds, request, response)
        with self._lock:
            count = self._counts[role].setdefault((service, operation), OperationCount())
            count.calls += 1
            count.items += items
            count.seconds += seconds
            if status >= 400:
                count.errors += 1
            observers = list(self._observers)
        for observer in observers:
            observer(record)
