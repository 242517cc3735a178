"""The whole system end to end: build, deploy, produce, consume, retry, dead-letter, account.

:func:`run_demo` does, in order:

1. starts a moto server on loopback (unless an endpoint URL is given);
2. runs ``sam build`` and creates the stack's resources from ``template.yaml`` on the
   emulator (``emulator.stack.deploy_stack``), or, with an endpoint, uses the stack
   already deployed there (``sam deploy``), read from its CloudFormation outputs;
3. reads the queue, DLQ, ``maxReceiveCount``, batch size, batching window and the
   functions' timeouts from the template;
4. starts the counting proxy (one loopback port for the producer, one for the consumer,
   one for the event source) so every API call is counted and every message followed;
5. invokes the built producer (``local_lambda.invoker.LocalFunction``) with the sample
   event ``events/producer-*.json`` in waves, while the built consumer is driven by the
   SQS event source mapping driver (``local_lambda.event_source``): waves keep the queue
   shallow, because moto's SQS costs time in proportion to the queue's depth;
6. keeps polling until the work queue is empty (the poison messages go to the DLQ by the
   queue's own redrive after ``maxReceiveCount`` receives), then reads the DLQ in full and
   closes the ledger: sent, processed, retried, in the DLQ, still in the queue, lost.

Example::

    from demo.pipeline import DemoOptions, run_demo

    result = run_demo(DemoOptions(messages=200, poison_rate=0.05))
    assert result.counts.lost == 0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from demo.duplicates import DuplicateCounts
from demo.effects import EffectCounts
from demo.ledger import LedgerCounts

ROOT = Path(__file__).resolve().parent.parent

ROLES = ("producer", "consumer", "event-source", "demo")


class DemoError(RuntimeError):
    """The demo could not run (bad option, missing stack, failed build); the message says why."""


@dataclass
class DemoOptions:
    """Everything ``python -m demo`` can be told (see ``python -m demo --help``)."""

    messages: int = 500
    poison_rate: float = 0.05
    fifo: bool = False
    endpoint_url: Optional[str] = None
    region: str = "us-east-1"
    stack_name: str = "lambda-batch"
    #: Messages per producer invocation; the next wave goes out once fewer than this many are on the queue.
    wave_size: int = 50
    #: The work queue's visibility timeout for the run (``None``: 2 s, so that retries take seconds).
    #: On a stack deployed beforehand (``endpoint_url``) the queue's own value is restored afterwards.
    visibility_timeout: Optional[int] = None
    message_groups: int = 10
    targets: Optional[List[str]] = None
    build_dir: Optional[Path] = None
    skip_build: bool = False
    max_seconds: float = 900.0
    count_calls: bool = True
    run_id: Optional[str] = None
    seed: int = 0
    #: Messages padded past SQS's 1 MiB: the producer sends them through the stack's payload
    #: bucket (S3 pointers), the consumer reads them back; the ledger follows them like the rest.
    large_messages: int = 3
    #: Messages that take the consumer ``work_seconds`` each, longer than the run's visibility
    #: timeout: its visibility heartbeat keeps them invisible meanwhile (delivered once).
    slow_records: int = 1
    work_seconds: float = 5.0
    #: Tenants of the standard queue's messages (0: none). Each wave gives one message to each of
    #: ``tenants - 1`` quiet tenants, after the rest, the noisy tenant's: each message's tenant
    #: is its MessageGroupId (a fair queue), and the summary gives each tenant's receive delay.
    tenants: int = 0
    #: Messages the event source hands a second time after their batch (as SQS may deliver a
    #: message twice), and batches (the first ones) handed to two pollers at once (as when a
    #: visibility timeout lapses): the consumer's idempotency keeps every effect single.
    duplicates: int = 5
    concurrent_batches: int = 1

    def check(self) -> None:
        """Raise :class:`DemoError` for an option out of range."""
        if self.messages < 1:
            raise DemoError("--messages must be at least 1")
        if not 0 <= self.poison_rate <= 1:
            raise DemoError("--poison-rate must be between 0 and 1")
        if not 1 <= self.wave_size <= 5000:
            raise DemoError("--wave-size must be 1 to 5000 (the producer's limit per invocation)")
        if self.visibility_timeout is not None and not 0 < self.visibility_timeout <= 43200:
            raise DemoError("--visibility-timeout must be 1 to 43200 seconds")
        if not 1 <= self.message_groups <= 100:
            raise DemoError("--message-groups must be 1 to 100")
        if not 0 <= self.large_messages <= self.messages:
            raise DemoError("--large-messages must be 0 to --messages")
        if not 0 <= self.slow_records <= min(self.messages, self.wave_size):
            raise DemoError("--slow-records must be 0 to --messages (and at most --wave-size)")
        if not 0 <= self.work_seconds <= 10:
            raise DemoError("--work-seconds must be 0 to 10 (the consumer's timeout is 20 s)")
        if self.duplicates < 0:
            raise DemoError("--duplicates must be 0 or more (at most the messages handled are handed twice)")
        if not 0 <= self.concurrent_batches <= 100:
            raise DemoError("--concurrent-batches must be 0 to 100")
        if self.tenants and (self.fifo or not 2 <= self.tenants <= 100):
            raise DemoError("--tenants must be 0 (none) or 2 to 100, on the standard queue only")


@dataclass
class PhaseTimes:
    """Wall-clock seconds of each phase."""

    emulator_start: float = 0.0
    build: float = 0.0
    deploy: float = 0.0
    produce: float = 0.0
    consume: float = 0.0
    receive: float = 0.0
    delete: float = 0.0
    consumer_invoke: float = 0.0
    drain_dlq: float = 0.0
    total: float = 0.0


@dataclass
class CallCounts:
    """API calls of one role, and what one call per message would have cost."""

    calls: int
    one_per_message: int
    by_operation: Dict[str, int] = field(default_factory=dict)
    #: Seconds the endpoint took to answer these calls (seen on the wire; 0 when not counted there).
    endpoint_seconds: float = 0.0


@dataclass
class DemoResult:
    """What :func:`run_demo` returns: the accounting, the calls, the times, the settings used."""

    counts: LedgerCounts
    producer_calls: CallCounts
    consumer_calls: CallCounts
    event_source_calls: CallCounts
    times: PhaseTimes
    settings: Dict[str, Any]
    invocations: Dict[str, int]
    counted_on_wire: bool
    #: ``--messages``: what the run was asked to send.
    messages_asked: int = 0
    #: True when ``--max-seconds`` ran out before the queue was empty.
    timed_out: bool = False
    #: The consumer's per-batch EMF documents (``metrics_namespace``), summed metric by metric,
    #: and how many there were.
    batch_metrics: Dict[str, float] = field(default_factory=dict)
    batch_documents: int = 0
    #: The duplicate deliveries injected, and the consumer's effects read back.
    duplicates: DuplicateCounts = field(default_factory=DuplicateCounts)
    effects: EffectCounts = field(default_factory=EffectCounts)
    #: The consumer's record handler's own calls (one `UpdateItem` per job counted), left out of
    #: `consumer_calls`, which are the layer's.
    effect_calls: int = 0

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing left, the DLQ holds exactly the poison messages, and each handled
        message's effect happened exactly once (duplicate deliveries included)."""
        c = self.counts
        return (
            not self.timed_out
            and c.requested == self.messages_asked
            and c.lost == 0
            and c.in_queue == 0
            and c.good_in_dlq == 0
            and c.poison_processed == 0
            and c.poison_in_dlq == c.poison_sent
            and c.sent + c.returned_unsent == c.requested
            and c.large_processed + c.large_in_dlq == c.large_sent
            and self.effects.duplicated == 0
            and self.effects.missing == 0
        )

    def as_dict(self) -> Dict[str, Any]:
        """A JSON-ready view (``--json``)."""
        from dataclasses import asdict

        data = asdict(self)
        data["ok"] = self.ok
        data["duplicates"]["delivered"] = self.duplicates.delivered
        data["effects"]["duplicated"] = self.effects.duplicated
        data["effects"]["missing"] = self.effects.missing
        return data


Progress = Callable[[str, Dict[str, Any]], None]


def run_demo(options: DemoOptions, progress: Optional[Progress] = None) -> DemoResult:
    """Run the pipeline (see the module's documentation) and return its :class:`DemoResult`.

    The phases, in order, are the methods of :class:`demo.phases.DemoRun`.
    """
    from demo.phases import DemoRun

    return DemoRun(options, progress).run()


def _read_dlq(sqs: Any, url: str, prefix: str, resolve: Any = None) -> Dict[str, Any]:
    """See :func:`demo.queues.read_dlq`."""
    from demo.queues import read_dlq

    return read_dlq(sqs, url, prefix, resolve)
