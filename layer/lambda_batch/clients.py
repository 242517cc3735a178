"""Lazy boto3 clients: made on first use, once per region, never at import time.

Making a boto3 session and client costs 50-200 ms of CPU, more than most batch calls.
Clients made with defaults (no session, no config, no client given) are therefore shared by
every dispatcher and processor of the process, so a function that builds its dispatchers
on every warm invocation pays for its clients once, on the cold start. boto3 clients are
thread-safe; sessions are not, so the shared session is used under a lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Hashable, Optional, Tuple

#: Environment variables that change what a default client talks to, or as whom.
_CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
)

_shared_lock = threading.Lock()
_shared_session: Any = None
_shared_clients: Dict[Tuple[Hashable, ...], Any] = {}


def _freeze(value: Any) -> Any:
    """``value`` with every mapping turned into a sorted tuple of pairs (a cache key part)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


def _config(options: Mapping[str, Any]) -> Any:
    """A botocore ``Config`` of a deep copy of ``options`` (botocore edits what it is given)."""
    import copy

    from botocore.config import Config

    return Config(**copy.deepcopy(dict(options)))


def _shared_client(
    service: str, kwargs: Dict[str, Any], config_options: Optional[Mapping[str, Any]] = None
) -> Any:
    """A process-wide client of ``service`` made with ``kwargs`` (and a botocore Config of
    ``config_options``) from the default session."""
    global _shared_session  # noqa: PLW0603 - the process-wide cache is the point
    service_env = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    environment = tuple(os.environ.get(name) for name in (*_CLIENT_ENVIRONMENT, service_env))
    try:
        key: Tuple[Hashable, ...] = (service, _freeze(kwargs), _freeze(config_options or {}), environment)
        hash(key)
    except TypeError:  # an unhashable argument: make a client of its own
        key = ()
    client = _shared_clients.get(key) if key else None
    if client is not None:
        return client
    with _shared_lock:
        client = _shared_clients.get(key) if key else None
        if client is None:
            if _shared_session is None:
                import boto3.session  # deferred: boto3 costs ~100 ms to import

                _shared_session = boto3.session.Session()
            if config_options:
                kwargs = dict(kwargs, config=_config(config_options))
            client = _shared_session.client(service, **kwargs)
            if key:
                _shared_clients[key] = client
    return client


class ClientProvider:
    """Hands out boto3 clients of one service, made lazily and cached per region.

    ``client`` is used as given (for every region); otherwise clients come from
    ``boto3_session`` with ``config`` and any extra keyword arguments (``endpoint_url``,
    ``region_name``...). With neither a session nor a config, clients are shared with
    the rest of the process (see the module's docstring); ``shared_config`` then gives
    the botocore ``Config`` options of those shared clients (for example one attempt per
    call, where the caller retries itself).

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
        shared_config: Optional[Mapping[str, Any]] = None,
        **client_kwargs: Any,
    ) -> None:
        self.service = service
        self._shared_config = shared_config
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
        kwargs = dict(self._kwargs)
        if region is not None:
            kwargs["region_name"] = region
        if self._session is None and self._config is None:
            return _shared_client(self.service, kwargs, self._shared_config)
        if self._config is not None:
            kwargs["config"] = self._config
        elif self._shared_config:
            kwargs["config"] = _config(self._shared_config)
        if self._session is None:
            import boto3.session  # deferred: boto3 costs ~100 ms to import

            self._session = boto3.session.Session()
        return self._session.client(self.service, **kwargs)
