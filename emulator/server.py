"""Start and stop a moto server on a free loopback port."""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
import urllib.request
from typing import Any, Dict, Optional

#: Credentials for the emulator; moto accepts any.
FAKE_CREDENTIALS: Dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


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


class MissingCredentialsError(RuntimeError):
    """No AWS credentials for an endpoint that is not an emulator on this machine."""


def is_loopback(endpoint_url: Optional[str]) -> bool:
    """Whether ``endpoint_url`` is on this machine (a loopback address): an emulator, not AWS."""
    if not endpoint_url:
        return False
    host = (urllib.parse.urlsplit(endpoint_url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def session_for_endpoint(endpoint_url: Optional[str], region: Optional[str] = None) -> Any:
    """A boto3 session for ``endpoint_url``, with credentials that can sign for it.

    The caller's credentials (environment, profile...) when there are any; otherwise, for a
    loopback endpoint (moto, LocalStack), the same fake credentials the other tools use; for
    any other endpoint (AWS itself), :class:`MissingCredentialsError` saying so plainly.

    Example::

        session = session_for_endpoint("http://127.0.0.1:5000", "us-east-1")
        session.client("sqs", endpoint_url="http://127.0.0.1:5000")
    """
    import boto3.session

    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is not None:
        return session
    if is_loopback(endpoint_url):
        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
    where = endpoint_url or "AWS"
    raise MissingCredentialsError(
        f"AWS credentials are missing for {where}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (see `aws configure`)"
    )
