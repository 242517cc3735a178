"""The hooks a processor's optional features plug into, each with a no-op default.

A feature is one object made when the processor is made (only when its option is on, so a
processor without features imports none of them and runs no hook). For every batch, in order:

1. ``start(batch, outcome)``: before any record runs. A feature may read the whole batch, and
   decide some records' outcomes without running them: ``outcome.preset[position] = (True,
   result)`` (already succeeded) or ``(False, exc_info)`` (failed);
2. ``wrap(call)``: around each record's call (the handler, after the record object or model is
   made); the wrapper may act before and after every record;
3. ``before_response(batch, outcome)``: once the records are done, before the partial response
   is built, the successes deleted or the batch error raised (not when the block raised);
4. ``after_batch(batch, outcome)``: last, whatever happened (in a ``finally``).

``stop(outcome)`` is called when a batch ends without its ``with`` block being left (the next
call of the processor), so that nothing of it is left running.

A hook that raises in ``before_response`` or ``after_batch`` is logged and never hides the
batch's outcome.

Example:
    ```python
    class CountRecords(Feature):
        def start(self, batch, outcome):
            outcome.count("Records", len(batch.records))
    ```
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ...core.clients import ClientProvider
    from ...core.retry import RetryPolicy
    from ..batch import Batch, Outcome


class Feature:
    """A processor's optional behaviour on the batch hooks; every hook does nothing by default."""

    def start(self, batch: Batch, outcome: Outcome) -> None:
        """Before any record runs: read the batch, start what runs beside it, preset outcomes."""

    def wrap(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """The record callable, wrapped to act around each record (``call`` itself by default)."""
        return call

    def before_response(self, batch: Batch, outcome: Outcome) -> None:
        """Once the records are done, before the response, the deletes or the batch error."""

    def after_batch(self, batch: Batch, outcome: Outcome) -> None:
        """Last, whatever the batch came to."""

    def stop(self, outcome: Outcome) -> None:
        """Stop whatever this feature runs beside a batch (a batch never exited)."""


class SqsAccess:
    """The SQS clients and retry policy of a processor's features (made on first need)."""

    __slots__ = ("_clients", "_policy")

    def __init__(self, clients: Optional[ClientProvider], policy: Optional[RetryPolicy]) -> None:
        self._clients = clients
        self._policy = policy

    @property
    def clients(self) -> ClientProvider:
        if self._clients is None:
            from ...core.clients import ClientProvider

            self._clients = ClientProvider("sqs")
        return self._clients

    @property
    def policy(self) -> RetryPolicy:
        if self._policy is None:
            from ...core.retry import DEFAULT_RETRY_POLICY

            self._policy = DEFAULT_RETRY_POLICY
        return self._policy


class FeatureSettings:
    """What the features read of their processor's options: the SQS access, the logger, the
    deadline margin, the event type, whether failed messages come back and who deletes successes."""

    __slots__ = ("_come_back", "delete_mode", "event_type", "logger", "margin", "sqs")

    def __init__(
        self,
        sqs: SqsAccess,
        *,
        logger: Any,
        margin: Optional[float],
        event_type: Any,
        delete_mode: bool,
        failures_come_back: Callable[[], bool],
    ) -> None:
        self.sqs = sqs
        self.logger = logger
        self.margin = margin
        self.event_type = event_type
        #: The layer deletes the successes itself when some records failed (PartialSQSProcessor).
        self.delete_mode = delete_mode
        self._come_back = failures_come_back

    def failures_come_back(self) -> bool:
        """Whether the failed messages go back to the queue (not with ``suppress_exception``)."""
        return self._come_back()


__all__ = ["Feature", "FeatureSettings", "SqsAccess"]
