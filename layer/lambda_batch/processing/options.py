"""A processor's options, checked when it is made, and the features they turn on.

The core options (event type, concurrency, deadline margin, ordering key) are checked here; each
optional feature is made here, and its module imported, only when its option is on: large
payloads, retry delays, the visibility heartbeat, batch metrics
(:mod:`lambda_batch.processing.features`). An option out of range, or one that does not apply to
the event type, raises :class:`~lambda_batch.ConfigurationError` naming it.

Options shared by every built-in processor:

* ``model``: a pydantic model or data class the handler receives instead of the
  raw record dict; a record that fails validation is a per-record failure.
* ``deadline_margin``: with a Lambda context, records not started when fewer than
  this many seconds remain are returned as failures instead of the whole batch
  timing out (``None`` switches the guard off).
* ``max_concurrency``: above 1, records run on that many threads (or asyncio
  tasks for an ``async def`` handler); FIFO message groups and stream shards keep
  their order, results stay in record order.
* ``skip_group_on_error`` (FIFO): return only the later records of a failed message
  group, instead of every later record.
* ``stop_on_first_failure`` (streams, standard queues): return every record after
  the first failure unprocessed; Lambda would redeliver them anyway.
* ``concurrency_key``: a function of the record giving its ordering key under
  concurrency (default: message group for FIFO, shard for streams, none for
  standard queues).
* ``log_exception_messages``: failures are logged, and named in the error raised,
  by record id, exception type and a reason that never quotes the record nor a key
  it carries; ``True`` adds each exception's own message, which may quote the message
  body (``int(body)`` fails with ``invalid literal for int() ... '<the body>'``), and the
  S3 object keys of large payloads (chosen by the sender). The dispatchers' option of
  the same name adds their items' keys.
* ``logger``: the ``logging.Logger`` failures are logged to (default: ``lambda_batch.processing``).
* ``resolve_large_payloads`` (SQS): a record whose body is an S3 pointer (sent with
  ``large_payload_bucket=`` or by the AWS SQS/SNS Extended Client libraries) reaches the
  handler with the payload in ``record["body"]``, read from S3 just before its handler
  runs; a pointer that cannot be read fails its record. ``large_payload_buckets`` (required
  with it) names the buckets a pointer may name, ``large_payload_bucket_owner`` the account
  that must own them (default: the function's own), ``max_large_payload_bytes`` the largest
  payload read (default: a quarter of the function's memory). ``delete_large_payloads=True``
  deletes the objects of succeeded records (see :mod:`lambda_batch.processing.features.large_payloads`).
* ``idempotency``: an ``Idempotency(table_name, ...)``: records completed within its window are not
  handled again, records in progress elsewhere come back later (see
  `lambda_batch.processing.features.idempotency`).

Example::

    features, metrics = sqs_features(settings, retry_delay=RetryDelay(5), extend_visibility=True)
"""

from __future__ import annotations

import math

from ..errors import ConfigurationError
from .events.spec import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Mapping, Optional, Tuple

    from ..core.clients import ClientProvider
    from ..core.deadline import Deadline
    from .features.hooks import Feature, FeatureSettings
    from .features.large_payloads import LargePayloads


def large_payloads_feature(
    owner_name: str,
    event_type: EventType,
    given: Tuple[Any, Any, Any, Any, Any],
    *,
    deadline: Callable[[], Deadline],
    context: Callable[[], Any],
    logger: Any,
    reveal_keys: bool,
    delete_mode: bool,
) -> Optional[LargePayloads]:
    """The large payloads feature of ``(resolve, delete, buckets, owner, max_bytes)`` (``None``: off)."""
    if event_type.is_stream:
        raise ConfigurationError("resolve_large_payloads is for EventType.SQS batches")
    from .features.large_payloads import LargePayloads, make_resolver

    resolve, delete, buckets, owner, max_bytes = given
    resolver = make_resolver(
        owner_name,
        resolve,
        delete,
        buckets=buckets,
        owner=owner,
        max_bytes=max_bytes,
        deadline=deadline,
        context=context,
        log=logger,
    )
    if resolver is None:
        return None
    resolver.reveal_keys = reveal_keys  # object keys are the sender's: named only when asked
    return LargePayloads(resolver, logger, delete_mode=delete_mode)


def sqs_features(
    settings: FeatureSettings,
    *,
    retry_delay: Any = None,
    extend_visibility: Any = False,
    visibility_timeout: Any = None,
    metrics_namespace: Any = None,
    metrics_dimensions: Any = None,
) -> Tuple[List[Feature], Any]:
    """The visibility heartbeat, retry delays and batch metrics asked for, in hook order, and the
    ``BatchMetrics`` (``None`` without ``metrics_namespace``)."""
    sqs_only = retry_delay is not None or extend_visibility is not False or visibility_timeout is not None
    if sqs_only and settings.event_type.is_stream:  # the event-spec table: queues only
        raise ConfigurationError("retry_delay and extend_visibility are for EventType.SQS batches")
    if retry_delay is not None:
        from .features.retry_delays import RetryDelay

        if not isinstance(retry_delay, RetryDelay):
            raise ConfigurationError(f"retry_delay must be a RetryDelay, not {retry_delay!r}")
    if not isinstance(extend_visibility, bool):
        raise ConfigurationError(f"extend_visibility must be True or False, not {extend_visibility!r}")
    if visibility_timeout is not None:
        check_visibility_timeout(visibility_timeout, extend_visibility)
    if metrics_namespace is None and metrics_dimensions is not None:
        raise ConfigurationError("metrics_dimensions needs metrics_namespace")
    features: List[Feature] = []
    if extend_visibility:
        from .features.heartbeat import Heartbeat

        features.append(Heartbeat(settings, visibility_timeout, keep_failed=retry_delay is not None))
    if retry_delay is not None:
        from .features.retry_delays import RetryDelays

        features.append(RetryDelays(settings, retry_delay))
    metrics = None
    if metrics_namespace is not None:
        from .features.metrics import BatchMetrics, Metrics

        metrics = BatchMetrics(metrics_namespace, metrics_dimensions)
        features.append(Metrics(settings, metrics))
    return features, metrics


def idempotency_feature(idempotency: Any, logger: Any) -> Optional[Feature]:
    """The idempotency feature of ``idempotency=`` (``None``: off); anything but an ``Idempotency``
    is refused with a ConfigurationError."""
    if idempotency is None:
        return None
    from .features.idempotency import IdempotencyFeature
    from .features.idempotency_options import Idempotency

    if not isinstance(idempotency, Idempotency):
        raise ConfigurationError(f"idempotency must be an Idempotency, not {type(idempotency).__name__}")
    return IdempotencyFeature(idempotency, logger=logger)


def sqs_clients(
    owner: str, boto3_session: Any, config: Any, client: Any, client_kwargs: Mapping[str, Any]
) -> ClientProvider:
    """The SQS clients of a processor (``TypeError`` naming an unknown keyword)."""
    from ..core.clients import ClientProvider

    if boto3_session is not None and not callable(getattr(boto3_session, "client", None)):
        raise TypeError(f"{owner}: boto3_session must be a boto3 Session, not {type(boto3_session).__name__}")
    return ClientProvider(
        "sqs", boto3_session=boto3_session, config=config, client=client, owner=owner, **client_kwargs
    )


def check_visibility_timeout(visibility_timeout: Any, extend_visibility: bool) -> None:
    """Refuse a heartbeat's ``visibility_timeout`` out of SQS's range, or without the heartbeat."""
    from ..core.limits import SQS_MAX_VISIBILITY_TIMEOUT

    if (
        isinstance(visibility_timeout, bool)
        or not isinstance(visibility_timeout, int)
        or not 1 <= visibility_timeout <= SQS_MAX_VISIBILITY_TIMEOUT
    ):
        raise ConfigurationError(
            f"visibility_timeout must be whole seconds from 1 to {SQS_MAX_VISIBILITY_TIMEOUT},"
            f" not {visibility_timeout!r}"
        )
    if not extend_visibility:
        raise ConfigurationError("visibility_timeout is the heartbeat's: give extend_visibility=True")


def check_options(event_type: Any, max_concurrency: Any, deadline_margin: Any, concurrency_key: Any) -> None:
    """Refuse the engine's options out of range, with a ConfigurationError naming them."""
    if not isinstance(event_type, EventType):
        raise ConfigurationError(f"event_type must be an EventType, not {event_type!r}")
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be a positive integer, not {max_concurrency!r}")
    if deadline_margin is not None and (
        not isinstance(deadline_margin, (int, float)) or deadline_margin < 0 or math.isnan(deadline_margin)
    ):
        raise ConfigurationError(
            f"deadline_margin must be a number of seconds >= 0 or None, not {deadline_margin!r}"
        )
    if concurrency_key is not None and not callable(concurrency_key):
        raise ConfigurationError("concurrency_key must be a function of the record")


__all__ = [
    "check_options",
    "check_visibility_timeout",
    "idempotency_feature",
    "large_payloads_feature",
    "sqs_clients",
    "sqs_features",
]
