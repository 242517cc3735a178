"""Forwarding HTTP requests from a loopback proxy to its upstream emulator, as they came.

The proxies in front of the emulators (the demo's call counter; the fault proxy can use it too)
forward each request on a keep-alive connection of their own thread, open a new one once when
the upstream closed it, and leave out the hop-by-hop headers (RFC 9110, section 7.6.1).

Example::

    upstream = Upstream("127.0.0.1", 5000)
    status, reason, headers, body = upstream.request("POST", "/", b"Action=ListQueues", {"Host": "..."})
"""

from __future__ import annotations

import http.client
import threading
from typing import Dict, List, Optional, Tuple

#: Headers of one connection, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

Response = Tuple[int, str, List[Tuple[str, str]], bytes]


class Upstream:
    """The upstream endpoint of a proxy: one keep-alive connection per thread."""

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._local = threading.local()

    def request(self, method: str, path: str, body: bytes, headers: Dict[str, str]) -> Response:
        """Send the request; its status, reason, headers and body (a closed connection: tried once more)."""
        for attempt in range(2):
            connection = self._connection()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    self._drop(connection)
                return response.status, response.reason, response.getheaders(), data
            except (http.client.HTTPException, OSError):
                self._drop(connection)
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> http.client.HTTPConnection:
        connection: Optional[http.client.HTTPConnection] = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.connection = connection
        return connection

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._local.connection = None
