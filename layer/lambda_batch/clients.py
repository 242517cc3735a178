"""Lazy boto3 clients: made on first use, once per region, never at import time."""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional


class ClientProvider:
    """Hands out boto3 clients of one service, made lazily and cached per region.

    ``client`` is used as given (for every region); otherwise clients come from
    ``boto3_session`` (default: a new ``boto3.session.Session()``) with ``config`` and
    any extra keyword arguments (``endpoint_url``, ``region_name``...).

    Example::

        sqs = ClientProvider("sqs", endpoint_url="http://127.0.0.1:5000")
        sqs.get("eu-west-1").delete_message_batch(...)
    """

    def __init__(
        self,
        service: str,
        *,
        boto3_session: Any = None,
        config: Any = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        self.service = service
        self._session = boto3_session
        self._config = config
        self._client = client
        self._kwargs = client_kwargs
        self._clients: Dict[Optional[str], Any] = {}
        self._lock = threading.Lock()

    @property
    def default_region(self) -> Optional[str]:
        """The region clients get when none is asked for (``None``: boto3's own default)."""
        if self._client is not None:
            return str(self._client.meta.region_name)
        region = self._kwargs.get("region_name")
        if region:
            return str(region)
        if self._config is not None and getattr(self._config, "region_name", None):
            return str(self._config.region_name)
        return None

    def get(self, region: Optional[str] = None) -> Any:
        """The client for ``region`` (``None``: the default region), made on first use."""
        if self._client is not None:
            return self._client
        client = self._clients.get(region)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                client = self._make(region)
                self._clients[region] = client
        return client

    def _make(self, region: Optional[str]) -> Any:
        if self._session is None:
            import boto3.session  # deferred: boto3 costs ~100 ms to import

            self._session = boto3.session.Session()
        kwargs = dict(self._kwargs)
        if region is not None:
            kwargs["region_name"] = region
        if self._config is not None:
            kwargs["config"] = self._config
        return self._session.client(self.service, **kwargs)
