"""Batch metrics: one CloudWatch Embedded Metric Format (EMF) document per batch, on stdout.

Once failures are reported per record, the function no longer errors and failure rates leave
Lambda's own metrics. With ``metrics_namespace="..."`` a processor prints, when each batch is
done, one JSON line that CloudWatch Logs turns into metrics (no API call, no dependency, nothing
for the role to allow): ``RecordsSucceeded``, ``RecordsFailed`` (the handler failed),
``RecordsSkipped`` (returned unprocessed: FIFO order, ``stop_on_first_failure``, the deadline
guard), ``BatchDuration`` (milliseconds, from ``process()`` to the end of the batch's own calls)
and, for SQS, ``DeleteCalls`` and ``VisibilityCalls`` (DeleteMessageBatch and
ChangeMessageVisibilityBatch calls made, retries included). ``metrics_dimensions={...}`` adds
dimensions (at most 30, string values).

The names are checked against CloudWatch's rules when the processor is built
(``core.limits.CLOUDWATCH_NAME_RULES``): printable ASCII, their lengths, no namespace starting
with ``AWS/``, no name starting with ``:``, no value of whitespace only. CloudWatch Logs drops
the metrics of a document that breaks them without a word, so they are refused up front.

The document is a line of its own, written at once: another EMF writer of the function (such as
Powertools' ``Metrics``) prints its own documents beside it, each parsed on its own.

Example:
    ```python
    processor = BatchProcessor(
        EventType.SQS,
        metrics_namespace="Orders",
        metrics_dimensions={"Queue": "jobs"},
    )
    # {"_aws": {"Timestamp": 1733030000000,
    #  "CloudWatchMetrics": [{"Namespace": "Orders", "Dimensions": [["Queue"]],
    #  "Metrics": [{"Name": "RecordsSucceeded", "Unit": "Count"}, ...]}]},
    #  "Queue": "jobs", "RecordsSucceeded": 9, "RecordsFailed": 1, ...}
    ```
"""

from __future__ import annotations

import json
import sys
import threading
import time

from ...core.limits import CLOUDWATCH_MAX_DIMENSIONS, CLOUDWATCH_NAME_CHARACTERS, CLOUDWATCH_NAME_RULES
from ...errors import ConfigurationError
from .hooks import Feature

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, TextIO, Tuple

    from ...core.limits import CloudWatchNameRule
    from ..batch import Batch, Outcome
    from .hooks import FeatureSettings

#: The metrics of a document, in order, with their CloudWatch unit.
COUNT_METRICS: Tuple[str, ...] = ("RecordsSucceeded", "RecordsFailed", "RecordsSkipped")
SQS_CALL_METRICS: Tuple[str, ...] = ("DeleteCalls", "VisibilityCalls")
DURATION_METRIC = "BatchDuration"
#: A CloudWatch namespace: 1 to 255 characters, no leading colon.
MAX_NAMESPACE_LENGTH = CLOUDWATCH_NAME_RULES["namespace"].max_length

_write_lock = threading.Lock()


def name_problem(value: str, rule: CloudWatchNameRule) -> Optional[str]:
    """The CloudWatch rule ``value`` breaks, in words (``None``: it is a valid ``rule.kind``).

    Example:
        ```python
        name_problem("AWS/Lambda", CLOUDWATCH_NAME_RULES["namespace"])
        # "starts with 'AWS/', reserved for AWS's own namespaces"
        ```
    """
    if not rule.min_length <= len(value) <= rule.max_length:
        return f"is {len(value)} characters, not {rule.min_length} to {rule.max_length}"
    low, high = CLOUDWATCH_NAME_CHARACTERS
    for position, char in enumerate(value):
        if not low <= ord(char) <= high:
            what = "a control character" if ord(char) < low or ord(char) == 0x7F else "a non-ASCII character"
            return f"holds {what} ({char!r} at position {position}): printable ASCII only"
    if rule.not_blank and not value.strip():
        return "is only whitespace: it needs a character other than whitespace"
    if rule.no_leading_colon and value.startswith(":"):
        return "starts with ':'"
    for prefix in rule.reserved_prefixes:
        if value.startswith(prefix):
            return f"starts with {prefix!r}, reserved for AWS's own namespaces"
    return None


def check_name(option: str, value: Any, kind: str) -> str:
    """``value`` if it is a valid CloudWatch ``kind``; else ConfigurationError naming ``option``, the rule."""
    rule = CLOUDWATCH_NAME_RULES[kind]
    if not isinstance(value, str):
        raise ConfigurationError(f"{option}: a CloudWatch {kind} is a string, not {value!r}")
    problem = name_problem(value, rule)
    if problem is not None:
        raise ConfigurationError(
            f"{option}: {value!r} is not a CloudWatch {kind}: it {problem} (CloudWatch drops the"
            f" metrics of such a document; see {rule.source})"
        )
    return value


def check_namespace(namespace: Any) -> Optional[str]:
    """``namespace`` checked against CloudWatch's rules (``None``: metrics off)."""
    if namespace is None:
        return None
    return check_name("metrics_namespace", namespace, "namespace")


def check_dimensions(dimensions: Any, reserved: Any = ()) -> Dict[str, str]:
    """``metrics_dimensions`` checked: names and values as CloudWatch takes them, at most 30."""
    if dimensions is None:
        return {}
    if not hasattr(dimensions, "items"):
        raise ConfigurationError(f"metrics_dimensions must be a dict of names to values, not {dimensions!r}")
    checked: Dict[str, str] = {}
    for name, value in dimensions.items():
        check_name("metrics_dimensions", name, "dimension name")
        if name in reserved or name == "_aws":
            raise ConfigurationError(f"metrics_dimensions: {name!r} is the name of a metric of the document")
        checked[name] = check_name(f"metrics_dimensions[{name!r}]", value, "dimension value")
    if len(checked) > CLOUDWATCH_MAX_DIMENSIONS:
        raise ConfigurationError(
            f"metrics_dimensions: {len(checked)} dimensions, over CloudWatch's limit of"
            f" {CLOUDWATCH_MAX_DIMENSIONS} per metric"
        )
    return checked


class BatchMetrics:
    """Builds and prints the EMF document of each batch.

    Example:
        ```python
        metrics = BatchMetrics("Orders", {"Queue": "jobs"})
        metrics.emit(
            {
                "RecordsSucceeded": 9,
                "RecordsFailed": 1,
                "RecordsSkipped": 0,
                "BatchDuration": 12.5,
            }
        )
        ```
    """

    __slots__ = ("dimensions", "namespace", "stream")

    def __init__(
        self, namespace: str, dimensions: Optional[Mapping[str, str]] = None, stream: Optional[TextIO] = None
    ) -> None:
        self.namespace = check_namespace(namespace)
        metric_names = (*COUNT_METRICS, *SQS_CALL_METRICS, DURATION_METRIC)
        for metric in metric_names:  # the document's own names keep to CloudWatch's rules too
            check_name("metric", metric, "metric name")
        self.dimensions = check_dimensions(dimensions, metric_names)
        #: Where documents go (``None``: ``sys.stdout`` at the time of writing).
        self.stream = stream

    def document(self, values: Mapping[str, float], timestamp_ms: Optional[int] = None) -> Dict[str, Any]:
        """The EMF document of ``values`` (metric name -> value; ``BatchDuration`` in milliseconds)."""
        metrics: List[Dict[str, str]] = [
            {"Name": name, "Unit": "Milliseconds" if name == DURATION_METRIC else "Count"} for name in values
        ]
        document: Dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
                "CloudWatchMetrics": [
                    {"Namespace": self.namespace, "Dimensions": [list(self.dimensions)], "Metrics": metrics}
                ],
            }
        }
        document.update(self.dimensions)
        document.update(values)
        return document

    def emit(self, values: Mapping[str, float]) -> Dict[str, Any]:
        """Print the document of ``values`` as one line; returns it."""
        document = self.document(values)
        line = json.dumps(document, separators=(",", ":")) + "\n"
        stream = self.stream if self.stream is not None else sys.stdout
        with _write_lock:  # one whole line at a time, whichever thread writes
            stream.write(line)
            stream.flush()
        return document


class Metrics(Feature):
    """``metrics_namespace``: one EMF document per batch, written last, whatever the batch came to."""

    def __init__(self, settings: FeatureSettings, metrics: BatchMetrics) -> None:
        self.settings = settings
        self.metrics = metrics

    def start(self, batch: Batch, outcome: Outcome) -> None:
        outcome.started = time.monotonic()

    def after_batch(self, batch: Batch, outcome: Outcome) -> None:
        try:
            failed = len(outcome.failed_positions())
            skipped = min(outcome.skipped, failed)
            values: Dict[str, float] = {
                "RecordsSucceeded": len(batch.records) - failed,
                "RecordsFailed": failed - skipped,
                "RecordsSkipped": skipped,
                "BatchDuration": round((time.monotonic() - outcome.started) * 1000.0, 3),
            }
            if self.settings.event_type.value == "SQS":
                values["DeleteCalls"] = outcome.counters.get("DeleteCalls", 0)
                values["VisibilityCalls"] = outcome.counters.get("VisibilityCalls", 0)
            self.metrics.emit(values)
        except Exception as exc:  # metrics never change the batch's outcome
            self.settings.logger.warning("batch metrics not written: %s", type(exc).__name__)


__all__ = [
    "BatchMetrics",
    "COUNT_METRICS",
    "DURATION_METRIC",
    "Metrics",
    "SQS_CALL_METRICS",
    "check_dimensions",
    "check_name",
    "check_namespace",
    "name_problem",
]
