"""Start and stop a moto server on a free loopback port."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Dict, Optional

# The credentials helpers live in devtools (tools/ uses them without importing the emulator).
from devtools.aws_session import (
    FAKE_CREDENTIALS,
    MissingCredentialsError,
    is_loopback,
    session_for_endpoint,
)

__all__ = [
    "FAKE_CREDENTIALS",
    "MissingCredentialsError",
    "MotoServer",
    "is_loopback",
    "moto_config",
    "session_for_endpoint",
    "start_moto_server",
]


class MotoServer:
    """A moto server running in a thread of this process, on 127.0.0.1 and a free port.

    Example::

        server = start_moto_server()
        boto3.client("sqs", endpoint_url=server.endpoint_url, region_name="us-east-1")
        server.stop()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.host = host
        self.port = port

    def start(self) -> MotoServer:
        """Start serving; returns self once the port is bound.

        The server's request log (werkzeug: one line per request, colour-coded) is silenced
        unless the ``werkzeug`` logger has been given a level already: tools print results, not
        thousands of HTTP lines.
        """
        from emulator.cloudformation import install
        from emulator.moto_fixes import (
            honour_table_time_to_live,
            keep_disabled_stream_sources_idle,
            serialize_dynamodb_writes,
        )

        install()  # what `sam deploy` asks of CloudFormation (the Serverless transform, change sets)
        keep_disabled_stream_sources_idle()
        honour_table_time_to_live()
        serialize_dynamodb_writes()
        werkzeug = logging.getLogger("werkzeug")
        if werkzeug.level == logging.NOTSET:
            werkzeug.setLevel(logging.ERROR)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        return self

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def localhost_url(self) -> str:
        """``http://localhost:PORT``: the spelling `sam deploy` needs."""
        return f"http://localhost:{self.port}"

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_moto_server(host: str = "127.0.0.1", port: int = 0, set_credentials: bool = True) -> MotoServer:
    """Start a moto server on ``host`` and a free port (or ``port``) and return it.

    With ``set_credentials`` (default), fake AWS credentials are put in the environment
    unless real ones are already set, so boto3 clients can sign requests.
    """
    if set_credentials:
        for key, value in FAKE_CREDENTIALS.items():
            os.environ.setdefault(key, value)
    return MotoServer(host, port).start()


def moto_config(server_url: str, config: Optional[Dict[str, object]] = None) -> None:
    """Apply moto's runtime configuration (``/moto-api/config``) to a running server."""
    body = json.dumps(config or {}).encode()
    request = urllib.request.Request(
        f"{server_url}/moto-api/config",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
