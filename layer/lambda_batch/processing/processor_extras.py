"""The processors' optional extras: retry delays, the visibility heartbeat, batch metrics.

Each is off by default and costs nothing then (one attribute check per batch). With them,
a batch runs as follows:

- ``process()`` starts the clock (``metrics_namespace``) and, with ``extend_visibility``, the
  visibility heartbeat (:mod:`lambda_batch.processing.visibility_heartbeat`); it keeps every message
  of the batch invisible (a record that fails leaves it, unless ``retry_delay`` is given), and
  stops when the records are done;
- on leaving the ``with`` block, before the partial response is built or the error raised
  (the processor's ``_clean``), in one round of ChangeMessageVisibilityBatch calls per queue:
  the failed records' messages get their retry delay (:mod:`lambda_batch.processing.retry_delays`),
  and the succeeded ones that Lambda deletes are held invisible for its delete when the heartbeat
  extended them (``VisibilityHeartbeat.holds``); a change that fails is logged and kept in
  ``processor.visibility_failures``, and never hides the processing outcome;
- last, the batch's EMF document is printed (:mod:`lambda_batch.processing.batch_metrics`), whether the
  batch ended in an error or not.

Example::

    processor = BatchProcessor(
        EventType.SQS,
        retry_delay=RetryDelay(initial_seconds=5, max_seconds=900),
        extend_visibility=True,
        metrics_namespace="Orders",
    )
"""

from __future__ import annotations

import time

from ..errors import ConfigurationError, MalformedEventError
from .record_processor import RecordProcessor

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional

    from ..core.clients import ClientProvider
    from ..core.retry import RetryPolicy
    from .base_processor import ProcessingResult
    from .batch_metrics import BatchMetrics
    from .retry_delays import RetryDelay
    from .sqs_deletes import DeleteFailure
    from .visibility_heartbeat import VisibilityHeartbeat


class Extras:
    """What a processor was asked for beyond the core (one object, ``None`` when nothing)."""

    __slots__ = ("clients", "extend_visibility", "metrics", "policy", "retry_delay", "visibility_timeout")

    def __init__(self) -> None:
        self.retry_delay: Optional[RetryDelay] = None
        self.extend_visibility = False
        self.visibility_timeout: Optional[int] = None
        self.metrics: Optional[BatchMetrics] = None
        self.clients: Optional[ClientProvider] = None
        self.policy: Optional[RetryPolicy] = None


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


def _check_visibility_timeout(visibility_timeout: Any, extend_visibility: bool) -> None:
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


class ProcessorExtras(RecordProcessor):
    """A :class:`RecordProcessor` with ``retry_delay``, ``extend_visibility`` and batch metrics."""

    _extras: Optional[Extras] = None
    _heartbeat: Optional[VisibilityHeartbeat] = None
    #: The heartbeat of the batch, once stopped: what ``holds`` the succeeded messages as it ends.
    _ended_heartbeat: Optional[VisibilityHeartbeat] = None
    _delete_calls = 0
    _visibility_calls = 0
    _started = 0.0

    def _init_extras(
        self,
        *,
        retry_delay: Any = None,
        extend_visibility: bool = False,
        visibility_timeout: Any = None,
        metrics_namespace: Any = None,
        metrics_dimensions: Any = None,
        clients: Optional[ClientProvider] = None,
        retry_policy: Optional[RetryPolicy] = None,
    ) -> None:
        """Check and keep the extras (after the core's ``__init__``)."""
        self.visibility_failures: List[DeleteFailure] = []
        extras = Extras()
        sqs_only = retry_delay is not None or extend_visibility is not False or visibility_timeout is not None
        if sqs_only and self.event_type.is_stream:  # the event-spec table: queues only
            raise ConfigurationError("retry_delay and extend_visibility are for EventType.SQS batches")
        if retry_delay is not None:
            from .retry_delays import RetryDelay

            if not isinstance(retry_delay, RetryDelay):
                raise ConfigurationError(f"retry_delay must be a RetryDelay, not {retry_delay!r}")
            extras.retry_delay = retry_delay
        if not isinstance(extend_visibility, bool):
            raise ConfigurationError(f"extend_visibility must be True or False, not {extend_visibility!r}")
        extras.extend_visibility = extend_visibility
        if visibility_timeout is not None:
            _check_visibility_timeout(visibility_timeout, extend_visibility)
            extras.visibility_timeout = visibility_timeout
        if metrics_namespace is not None or metrics_dimensions is not None:
            from .batch_metrics import BatchMetrics

            if metrics_namespace is None:
                raise ConfigurationError("metrics_dimensions needs metrics_namespace")
            extras.metrics = BatchMetrics(metrics_namespace, metrics_dimensions)
        extras.clients = clients
        extras.policy = retry_policy
        if extras.retry_delay is not None or extras.extend_visibility or extras.metrics is not None:
            self._extras = extras

    # -- processing ------------------------------------------------------------------

    def __call__(self, records: List[Any], handler: Any, lambda_context: Any = None) -> Any:
        super().__call__(records, handler, lambda_context)
        self._stop_heartbeat()  # a batch never exited (no ``with``) leaves nothing behind
        self._ended_heartbeat = None
        self.visibility_failures = []
        self._delete_calls = self._visibility_calls = 0
        extras = self._extras
        if extras is not None and (extras.retry_delay is not None or extras.extend_visibility):
            for index, record in enumerate(self.records):
                if not record.get("receiptHandle"):
                    raise MalformedEventError(
                        f"record {self._ids[index]} has no receiptHandle: retry_delay and"
                        " extend_visibility change its message's visibility"
                    )
        return self

    def process(self) -> List[ProcessingResult]:
        if self._extras is None:
            return super().process()
        started = self._start_extras()
        try:
            return super().process()
        finally:
            if started:
                self._stop_heartbeat()

    async def _process_async(self) -> List[ProcessingResult]:
        if self._extras is None:
            return await super()._process_async()
        started = self._start_extras()
        try:
            return await super()._process_async()
        finally:
            if started:
                self._stop_heartbeat()

    def _record_callable(self) -> Callable[[Any], Any]:
        call = super()._record_callable()
        heartbeat = self._heartbeat
        if heartbeat is None:
            return call
        # Every message stays invisible until the batch ends (a succeeded one is deleted only then);
        # a failed one leaves, unless retry_delay sets its delay as the batch ends.
        keep_failed = self._extras is not None and self._extras.retry_delay is not None
        return heartbeat.track(call, keep_failed)

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # The extras wrap the subclass's _clean (the partial response, the deletes and the error).
        extras = self._extras
        if extras is None:
            return super().__exit__(exc_type, exc_value, traceback)
        self._stop_heartbeat()
        heartbeat, self._ended_heartbeat = self._ended_heartbeat, None
        try:
            if exc_type is None and self.processed:
                holds = self._holds(heartbeat) if heartbeat is not None else {}
                if holds or extras.retry_delay is not None:
                    self._apply_retry_delays(extras, holds)
            return super().__exit__(exc_type, exc_value, traceback)
        finally:
            if extras.metrics is not None and self.processed:
                self._emit_metrics(extras.metrics)

    # -- the extras ------------------------------------------------------------------

    def _start_extras(self) -> bool:
        """Start the clock and the heartbeat, unless already started for this batch."""
        if self._heartbeat is not None:
            return False
        self._started = time.monotonic()
        extras = self._extras
        if extras is not None and extras.extend_visibility and self.records:
            self._heartbeat = self._make_heartbeat(extras)
            if self._heartbeat is not None:
                self._heartbeat.start()
        return True

    def _stop_heartbeat(self) -> None:
        heartbeat = self._heartbeat
        if heartbeat is not None:
            heartbeat.stop()
            self._heartbeat = None
            self._ended_heartbeat = heartbeat

    def _lambda_deletes_successes(self) -> bool:
        """Whether Lambda deletes the succeeded messages once the function returns (the native
        response); delete mode says when the layer deletes them itself."""
        return True

    def _holds(self, heartbeat: VisibilityHeartbeat) -> Dict[int, int]:
        """Position -> visibility timeout: succeeded messages kept invisible until Lambda deletes them."""
        if not self._lambda_deletes_successes():
            return {}
        succeeded = self._succeeded_positions(self._failed_positions())
        return heartbeat.holds(self.records, succeeded)

    def _sqs_clients(self, extras: Extras) -> ClientProvider:
        if extras.clients is None:
            from ..core.clients import ClientProvider

            extras.clients = ClientProvider("sqs")
        return extras.clients

    def _policy(self, extras: Extras) -> RetryPolicy:
        if extras.policy is None:
            from ..core.retry import DEFAULT_RETRY_POLICY

            extras.policy = DEFAULT_RETRY_POLICY
        return extras.policy

    def _make_heartbeat(self, extras: Extras) -> Optional[VisibilityHeartbeat]:
        from .visibility_heartbeat import VisibilityHeartbeat, queue_visibility_timeout

        clients, policy = self._sqs_clients(extras), self._policy(extras)
        margin = self.deadline_margin if self.deadline_margin is not None else policy.deadline_margin
        timeouts: Dict[str, int] = {}
        for arn in {record["eventSourceARN"] for record in self.records}:
            if extras.visibility_timeout is not None:
                timeouts[arn] = extras.visibility_timeout
                continue
            try:
                timeouts[arn] = queue_visibility_timeout(arn, clients, policy, self.deadline)
            except Exception as exc:  # no heartbeat for this queue rather than no batch
                self.logger.warning(
                    "extend_visibility: the VisibilityTimeout of %s could not be read (%s); its messages"
                    " are not extended (give visibility_timeout=, or allow sqs:GetQueueAttributes)",
                    arn,
                    type(exc).__name__,
                )
        return VisibilityHeartbeat(
            self.records,
            timeouts,
            clients,
            policy,
            self.deadline,
            stop_at=self.deadline.at - margin,
            on_calls=self._count_visibility_calls,
        )

    def _count_visibility_calls(self, calls: int) -> None:
        self._visibility_calls += calls

    def _count_delete_calls(self, calls: int) -> None:
        self._delete_calls += calls

    def _will_come_back(self) -> bool:
        """Whether the failed messages go back to the queue (not with ``suppress_exception``)."""
        return not getattr(self, "suppress_exception", False)

    def _apply_retry_delays(self, extras: Extras, holds: Dict[int, int]) -> None:
        from .retry_delays import apply_retry_delays

        apply_retry_delays(self, extras, holds)

    def _emit_metrics(self, metrics: BatchMetrics) -> None:
        try:
            failed = len(self._failed_positions())
            skipped = min(self._skipped, failed)
            values: Dict[str, float] = {
                "RecordsSucceeded": len(self.records) - failed,
                "RecordsFailed": failed - skipped,
                "RecordsSkipped": skipped,
                "BatchDuration": round((time.monotonic() - self._started) * 1000.0, 3),
            }
            if self.event_type.value == "SQS":
                values["DeleteCalls"] = self._delete_calls
                values["VisibilityCalls"] = self._visibility_calls
            metrics.emit(values)
        except Exception as exc:  # metrics never change the batch's outcome
            self.logger.warning("batch metrics not written: %s", type(exc).__name__)


__all__ = ["ProcessorExtras", "sqs_clients"]
