"""How the layer configures a boto3 client: the keywords it takes, no botocore retries, timeouts.

Every client the layer makes gets "no botocore retries" merged into its ``Config`` (the
user's, if one is given) with botocore's ``Config.merge`` (`layer_config`): the layer's
retry policy is the one retry loop. A client made for a call under a deadline gets connect
and read timeouts that end before it, rounded to a few steps (`timeout_bucket`). A bare
HTTP 413 parses as an error for every protocol (`finish_client`).

Example:
    ```python
    layer_config(Config(region_name="eu-west-1")).retries
    # {'total_max_attempts': 1}
    ```
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, Mapping, Optional

#: The keyword arguments of ``boto3.session.Session.client`` besides the service name
#: (boto3 1.44; a unit test keeps this list equal to the installed boto3's signature).
CLIENT_KEYWORDS = frozenset(
    {
        "region_name",
        "api_version",
        "use_ssl",
        "verify",
        "endpoint_url",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "config",
        "aws_account_id",
    }
)

#: What every client of the layer gets merged into its Config: one attempt per call.
NO_BOTOCORE_RETRIES: Dict[str, Any] = {"retries": {"total_max_attempts": 1}}

#: Connect/read timeouts a call under a deadline may get (seconds): a client per bucket.
_TIMEOUT_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0)
#: botocore's default connect and read timeouts: time left above this needs no bucket.
_BOTOCORE_DEFAULT_TIMEOUT = 60.0


def check_client_kwargs(kwargs: Iterable[str], owner: str) -> None:
    """Refuse keyword arguments a boto3 client does not take (a misspelt option), naming them.

    Example:
        ```python
        check_client_kwargs({"endpoint_url": url}, "SQSBatchDispatcher")    # fine
        check_client_kwargs({"max_batch_sise": 5}, "SQSBatchDispatcher")    # TypeError
        ```
    """
    unknown = sorted(name for name in kwargs if name not in CLIENT_KEYWORDS)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise TypeError(
            f"{owner}() got unexpected keyword argument(s) {names}: neither an option of {owner} nor a "
            f"boto3 client argument ({', '.join(sorted(CLIENT_KEYWORDS))})"
        )


def timeout_bucket(seconds: float) -> Optional[float]:
    """The connect and read timeout for a call that must end within ``seconds`` (None: botocore's).

    Rounded down to a few fixed values, so that a process makes few clients.

    Example:
        ```python
        timeout_bucket(4.2)     # 3.0
        timeout_bucket(600)     # None: botocore's 60 s ends first
        ```
    """
    if seconds >= _BOTOCORE_DEFAULT_TIMEOUT:
        return None
    chosen = _TIMEOUT_BUCKETS[0]
    for bucket in _TIMEOUT_BUCKETS:
        if bucket <= seconds:
            chosen = bucket
    return chosen


def call_timeout(remaining: float, margin: float) -> float:
    """The connect (and read) timeout of a call that starts with ``remaining`` seconds left:
    both together end before the deadline's ``margin``.

    Example:
        ```python
        timeout_bucket(call_timeout(deadline.remaining(), policy.deadline_margin))
        ```
    """
    return max(0.0, remaining - margin) / 2.0


def layer_config(
    config: Any = None, options: Optional[Mapping[str, Any]] = None, timeout: Optional[float] = None
) -> Any:
    """The botocore ``Config`` of a client the layer makes.

    ``options`` (a mapping of Config options) under ``config`` (the user's), then "no botocore
    retries" and the ``timeout`` (connect and read) merged over both with ``Config.merge``.

    Example:
        ```python
        layer_config(Config(region_name="eu-west-1")).retries
        # {'total_max_attempts': 1}
        ```
    """
    import copy

    from botocore.config import Config

    merged = Config(**copy.deepcopy(dict(options))) if options else Config()
    if config is not None:
        merged = merged.merge(config)
    forced: Dict[str, Any] = copy.deepcopy(NO_BOTOCORE_RETRIES)
    if timeout is not None:
        forced["connect_timeout"] = timeout
        forced["read_timeout"] = timeout
    return merged.merge(Config(**forced))


#: What a bare HTTP 413 (no body) becomes for XML protocols, whose parser cannot read an empty error.
_BARE_413_XML = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>RequestEntityTooLarge</Code>"
    b"<Message>HTTP 413: the request was too large</Message></Error></ErrorResponse>"
)


def _name_bare_413(operation_model: Any = None, response_dict: Any = None, **_: Any) -> None:
    """Let a bare HTTP 413 parse as an error for every protocol (JSON ones report code "413")."""
    if not isinstance(response_dict, dict) or response_dict.get("status_code") != 413:
        return
    protocol = getattr(operation_model, "metadata", {}).get("protocol")
    if not response_dict.get("body") and protocol in ("query", "ec2", "rest-xml"):
        response_dict["body"] = _BARE_413_XML


def finish_client(client: Any) -> Any:
    """Register the layer's response hooks on a client it made (a bare HTTP 413 named)."""
    client.meta.events.register("before-parse", _name_bare_413)
    return client


__all__ = [
    "CLIENT_KEYWORDS",
    "NO_BOTOCORE_RETRIES",
    "call_timeout",
    "check_client_kwargs",
    "finish_client",
    "layer_config",
    "timeout_bucket",
]
