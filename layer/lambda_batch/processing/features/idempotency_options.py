"""The ``idempotency=`` option: where a processor keeps which records it handled, and their keys.

`Idempotency` is checked when it is made (an unknown keyword raises ``TypeError``, a value
out of range `lambda_batch.ConfigurationError`) and makes each record's table key as
Powertools for AWS Lambda's idempotency utility makes it:
``<function name>.<qualified name>#<md5 of json.dumps(data, sort_keys=True)>``, so that a table
and its history carry over from ``@idempotent_function``. The feature itself is
`lambda_batch.processing.features.idempotency`, loaded when a processor takes the option.

Example:
    ```python
    from lambda_batch import Idempotency

    by_message = Idempotency("idempotency")                       # the record's own id
    by_order = Idempotency("idempotency", key=lambda record: record.json_body["order_id"])
    ```
"""

from __future__ import annotations

import hashlib
import json
import os

from ...core.limits import DYNAMODB_MAX_KEY_BYTES
from ...errors import ConfigurationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ...core.clients import ClientProvider
    from ...core.retry import RetryPolicy

#: Powertools' name for the function part of a key when ``AWS_LAMBDA_FUNCTION_NAME`` is not set.
_NO_FUNCTION_NAME = "test-func"
_MAX_KEY_BYTES = DYNAMODB_MAX_KEY_BYTES["partition"]


def encode_json(value: Any) -> Any:
    """JSON for what ``json`` does not know, as Powertools' encoder gives it."""
    import dataclasses
    import decimal

    if isinstance(value, decimal.Decimal):
        return float("nan") if value.is_nan() else str(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _text(name: str, value: Any, optional: bool = True) -> Optional[str]:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"Idempotency {name} must be a non-empty string, not {value!r}")
    return value


def _check_options(key: Any, expires_after_seconds: Any, store_results: Any) -> None:
    if key is not None and not callable(key):
        raise ConfigurationError("Idempotency key must be a function of the record, or None")
    if isinstance(expires_after_seconds, bool) or not isinstance(expires_after_seconds, int):
        raise ConfigurationError(
            f"expires_after_seconds must be whole seconds, not {expires_after_seconds!r}"
        )
    if expires_after_seconds < 1:
        raise ConfigurationError(f"expires_after_seconds must be 1 or more, not {expires_after_seconds}")
    if not isinstance(store_results, bool):
        raise ConfigurationError(f"store_results must be True or False, not {store_results!r}")


def _key_prefix(function_name: Any, key_prefix: Any) -> str:
    """What comes before ``#`` in a key: ``key_prefix``, or ``<Lambda function name>.<function_name>``."""
    if function_name is not None and key_prefix is not None:
        raise ConfigurationError("Idempotency takes function_name or key_prefix, not both")
    if callable(function_name):
        function_name = f"{function_name.__module__}.{function_name.__qualname__}"
    prefix = _text("key_prefix", key_prefix)
    if prefix is None:
        lambda_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or _NO_FUNCTION_NAME
        prefix = f"{lambda_name}.{_text('function_name', function_name) or 'lambda_batch'}"
    if len(prefix.encode()) + 33 > _MAX_KEY_BYTES:
        raise ConfigurationError(f"Idempotency keys would exceed DynamoDB's {_MAX_KEY_BYTES} bytes")
    return prefix


class Idempotency:
    """Where and how a processor keeps which records it handled (see the module's docstring).

    ``table_name``: the DynamoDB table (partition key ``id``, a string; TTL on ``expiration``).
    ``key``: a function of the record (the record object the handler receives, or the model)
    giving its business key, any JSON value (``None``: the record is handled without
    idempotency, as Powertools does); default: the record's own id. ``expires_after_seconds``:
    how long a completed record is not handled again. Keys are
    ``<function name>.<function_name>#<md5 of the JSON of the key>`` as Powertools makes them
    (``AWS_LAMBDA_FUNCTION_NAME``; ``function_name`` is the qualified name of the function
    Powertools decorated, a string or the function itself; default ``lambda_batch``), or
    ``<key_prefix>#<md5>`` with ``key_prefix``. ``store_results=False`` stores no results (a
    completed record then succeeds with ``None``). ``retry_policy``, ``boto3_session``,
    ``config``, ``client`` and client keywords (``endpoint_url``, ``region_name``) make its
    DynamoDB calls; any other keyword is refused (``TypeError``).

    Example:
        ```python
        from lambda_batch import Idempotency

        orders = Idempotency("idempotency", key=lambda record: record.json_body["order_id"],
                             expires_after_seconds=24 * 3600)
        ```
    """

    def __init__(
        self,
        table_name: str,
        key: Optional[Callable[[Any], Any]] = None,
        expires_after_seconds: int = 3600,
        *,
        function_name: Any = None,
        key_prefix: Optional[str] = None,
        store_results: bool = True,
        retry_policy: Optional[RetryPolicy] = None,
        boto3_session: Any = None,
        config: Any = None,
        client: Any = None,
        **client_kwargs: Any,
    ) -> None:
        from ...core.clients import ClientProvider
        from ...core.retry import DEFAULT_RETRY_POLICY, RetryPolicy

        self.table_name = str(_text("table_name", table_name, optional=False))
        _check_options(key, expires_after_seconds, store_results)
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError("retry_policy must be a lambda_batch.RetryPolicy")
        self.key = key
        self.expires_after_seconds = expires_after_seconds
        self.store_results = store_results
        self.retry_policy = retry_policy or DEFAULT_RETRY_POLICY
        self.prefix = _key_prefix(function_name, key_prefix)
        if boto3_session is not None and not callable(getattr(boto3_session, "client", None)):
            raise TypeError(
                f"Idempotency: boto3_session must be a boto3 Session, not {type(boto3_session).__name__}"
            )
        self.clients: ClientProvider = ClientProvider(
            "dynamodb",
            boto3_session=boto3_session,
            config=config,
            client=client,
            owner="Idempotency",
            **client_kwargs,
        )  # refuses unknown keywords (TypeError naming them)

    def key_of(self, data: Any) -> str:
        """The table key of ``data`` (a record's id or business key), as Powertools makes it.

        >>> Idempotency("t", key_prefix="orders").key_of("m-1")
        'orders#07bfa2edad72a6be5d2cb60e90978991'
        """
        text = json.dumps(data, sort_keys=True, default=encode_json)
        return f"{self.prefix}#{hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()}"

    def __repr__(self) -> str:
        return f"Idempotency({self.table_name!r}, expires_after_seconds={self.expires_after_seconds})"


def own_id(record: Any, batch_id: Optional[str] = None) -> Optional[str]:
    """A record's own id, its default key: ``messageId`` (SQS), ``eventID`` (streams; with the
    sub-sequence number for a KPL user record), ``topic-partition@offset`` (Kafka)."""
    try:
        message_id = record.get("messageId")
        if isinstance(message_id, str) and message_id:
            return message_id
        event_id = record.get("eventID")
        if isinstance(event_id, str) and event_id:
            kinesis = record.get("kinesis")
            if isinstance(kinesis, dict) and kinesis.get("aggregated"):
                return f"{event_id}#{kinesis.get('subSequenceNumber')}"
            return event_id
        if "topic" in record and "offset" in record:
            return f"{record['topic']}-{record['partition']}@{record['offset']}"
    except Exception:  # not a mapping: the batch's id for it
        return batch_id
    return batch_id


__all__ = ["Idempotency", "encode_json", "own_id"]
