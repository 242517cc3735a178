"""Lazy boto3 clients: made on first use, once per region, never at import time.

Every client the layer makes goes through `make_client`, which merges "no botocore
retries" into its ``Config`` (the user's, if one is given) with botocore's ``Config.merge``:
the layer's own retry policy is the one retry loop, so it can keep to the deadline. A
client made for a call under a deadline also gets connect and read timeouts that end
before it (``client_config.timeout_bucket``). How a client is configured is in ``client_config``.

Making a boto3 session and client costs 50-200 ms of CPU, more than most batch calls.
Clients made with defaults (no session, no config, no client given) are therefore shared by
every dispatcher and processor of the process, so a function that builds its dispatchers
on every warm invocation pays for its clients once, on the cold start. boto3 clients are
thread-safe; sessions are not, so the shared session is used under a lock.

A ``client=`` given by the user is used as it is: its own retries (botocore's default is 3
attempts per call) add to the layer's, and its timeouts do not follow the deadline. The
layer logs that once, at WARNING.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from .client_config import (
    CLIENT_KEYWORDS,
    NO_BOTOCORE_RETRIES,
    check_client_kwargs,
    finish_client,
    layer_config,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Hashable, Optional, Tuple

logger = logging.getLogger("lambda_batch.clients")

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
_warned_lock = threading.Lock()
_warned_clients: Any = None  # a weakref.WeakSet of the user clients already warned about (made on first use)


def make_client(
    service: str,
    region: Optional[str] = None,
    session: Any = None,
    config: Any = None,
    *,
    options: Optional[Mapping[str, Any]] = None,
    timeout: Optional[float] = None,
    **client_kwargs: Any,
) -> Any:
    """A boto3 client of ``service`` for the layer: botocore's retries off, timeouts as asked.

    ``session`` is the user's boto3 session (default: a process-wide one, and then, without a
    ``config``, the client is shared by the process); ``config`` the user's botocore Config,
    merged under "no botocore retries"; ``options`` Config options of the layer's own (pool
    size...); ``timeout`` the connect and read timeout; ``client_kwargs`` go to
    ``Session.client`` (``endpoint_url``...), checked against what it accepts.

    Example:
        ```python
        sqs = make_client("sqs", "eu-west-1", endpoint_url="http://127.0.0.1:5000")
        sqs.meta.config.retries         # {'total_max_attempts': 1}
        ```
    """
    check_client_kwargs(client_kwargs, "make_client")
    kwargs = dict(client_kwargs)
    if region is not None:
        kwargs["region_name"] = region
    if session is None and config is None:
        shared = dict(options or {})
        if timeout is not None:
            shared["connect_timeout"] = shared["read_timeout"] = timeout
        return _shared_client(service, kwargs, shared)
    kwargs["config"] = layer_config(config, options, timeout)
    if session is None:
        import boto3.session  # deferred: boto3 costs ~100 ms to import

        session = boto3.session.Session()
    return finish_client(session.client(service, **kwargs))


def warn_user_client(client: Any, owner: str) -> None:
    """Log once per client, at WARNING, that a user-given client's own retries add to the layer's."""
    global _warned_clients  # noqa: PLW0603 - process-wide, and holds no client alive
    with _warned_lock:
        if _warned_clients is None:
            import weakref

            _warned_clients = weakref.WeakSet()
        try:
            if client in _warned_clients:
                return
            _warned_clients.add(client)
        except TypeError:  # not weakly referenceable: warn every time rather than keep it alive
            pass
    config = getattr(getattr(client, "meta", None), "config", None)
    retries = getattr(config, "retries", None) or {}
    if retries.get("total_max_attempts") == 1 or retries.get("max_attempts") == 0:
        return
    logger.warning(
        "%s: the client given is used as it is: its own botocore retries (%s) add to the layer's "
        "retry policy, and its timeouts do not follow the deadline; pass boto3_session= or config= "
        "instead to have one retry loop",
        owner,
        retries or "botocore's default",
    )


def _freeze(value: Any) -> Any:
    """``value`` with every mapping turned into a sorted tuple of pairs (a cache key part)."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    return value


def _shared_client(service: str, kwargs: Dict[str, Any], options: Mapping[str, Any]) -> Any:
    """A process-wide client of ``service`` made with ``kwargs`` (and the layer's Config with
    ``options``) from the default session."""
    global _shared_session  # noqa: PLW0603 - the process-wide cache is the point
    service_env = f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"
    environment = tuple(os.environ.get(name) for name in (*_CLIENT_ENVIRONMENT, service_env))
    try:
        key: Tuple[Hashable, ...] = (service, _freeze(kwargs), _freeze(options), environment)
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
            timeout = options.get("read_timeout")
            rest = {k: v for k, v in options.items() if k not in ("connect_timeout", "read_timeout")}
            config = layer_config(None, rest, timeout)
            client = finish_client(_shared_session.client(service, config=config, **kwargs))
            if key:
                _shared_clients[key] = client
    return client


class ClientProvider:
    """Hands out boto3 clients of one service, made lazily and cached per region (and timeout).

    ``client`` is used as given (for every region; see the module's docstring); otherwise
    clients come from `make_client` with ``boto3_session``, ``config`` and any extra
    keyword arguments (``endpoint_url``, ``region_name``...), which are checked against
    what a boto3 client accepts. With neither a session nor a config, clients are shared
    with the rest of the process. ``shared_config`` gives Config options of the layer's own
    (for example the connection pool size). Every client made here makes one attempt per
    call: the caller's retry policy retries.

    Example:
        ```python
        sqs = ClientProvider("sqs", endpoint_url="http://127.0.0.1:5000")
        sqs.get("eu-west-1").delete_message_batch(...)
        sqs.get("eu-west-1", timeout=2.0)        # connect and read timeouts of 2 s
        ```
    """

    def __init__(
        self,
        service: str,
        *,
        boto3_session: Any = None,
        config: Any = None,
        client: Any = None,
        shared_config: Optional[Mapping[str, Any]] = None,
        owner: Optional[str] = None,
        **client_kwargs: Any,
    ) -> None:
        owner = owner or "ClientProvider"
        if client_kwargs:
            check_client_kwargs(client_kwargs, owner)
        if client is not None:
            warn_user_client(client, owner)
        self.service = service
        self._shared_config = shared_config
        self._session = boto3_session
        self._config = config
        self._client = client
        self._kwargs = client_kwargs
        self._clients: Dict[Tuple[Optional[str], Optional[float]], Any] = {}
        self._lock = threading.Lock()

    @property
    def user_client(self) -> bool:
        """Whether the client was given by the user (its retries and timeouts are its own)."""
        return self._client is not None

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

    def get(self, region: Optional[str] = None, timeout: Optional[float] = None) -> Any:
        """The client for ``region`` (``None``: the default region) with connect and read
        timeouts of ``timeout`` seconds (``None``: botocore's), made on first use."""
        if self._client is not None:
            return self._client
        key = (region, timeout)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._make(region, timeout)
                self._clients[key] = client
        return client

    def _make(self, region: Optional[str], timeout: Optional[float]) -> Any:
        return make_client(
            self.service,
            region,
            self._session,
            self._config,
            options=self._shared_config,
            timeout=timeout,
            **self._kwargs,
        )


__all__ = [
    "CLIENT_KEYWORDS",
    "NO_BOTOCORE_RETRIES",
    "ClientProvider",
    "check_client_kwargs",
    "layer_config",
    "make_client",
    "warn_user_client",
]
