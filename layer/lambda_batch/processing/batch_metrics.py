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

The document is a line of its own, written at once: another EMF writer of the function (such as
Powertools' ``Metrics``) prints its own documents beside it, each parsed on its own.

Example::

    processor = BatchProcessor(
        EventType.SQS, metrics_namespace="Orders", metrics_dimensions={"Queue": "jobs"}
    )
    # {"_aws": {"Timestamp": 1733030000000, "CloudWatchMetrics": [{"Namespace": "Orders",
    #  "Dimensions": [["Queue"]], "Metrics": [{"Name": "RecordsSucceeded", "Unit": "Count"}, ...]}]},
    #  "Queue": "jobs", "RecordsSucceeded": 9, "RecordsFailed": 1, ...}
"""

from __future__ import annotations

import json
import sys
import threading
import time

from ..core.limits import (
    CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH,
    CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH,
    CLOUDWATCH_MAX_DIMENSIONS,
)
from ..errors import ConfigurationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, TextIO, Tuple

#: The metrics of a document, in order, with their CloudWatch unit.
COUNT_METRICS: Tuple[str, ...] = ("RecordsSucceeded", "RecordsFailed", "RecordsSkipped")
SQS_CALL_METRICS: Tuple[str, ...] = ("DeleteCalls", "VisibilityCalls")
DURATION_METRIC = "BatchDuration"
#: A CloudWatch namespace: 1 to 255 characters, no leading colon.
MAX_NAMESPACE_LENGTH = 255

_write_lock = threading.Lock()


def check_namespace(namespace: Any) -> Optional[str]:
    """``namespace`` checked (``None``: metrics off)."""
    if namespace is None:
        return None
    if (
        not isinstance(namespace, str)
        or not namespace.strip()
        or len(namespace) > MAX_NAMESPACE_LENGTH
        or namespace.startswith(":")
    ):
        raise ConfigurationError(
            f"metrics_namespace must be a CloudWatch namespace (1 to {MAX_NAMESPACE_LENGTH} characters),"
            f" not {namespace!r}"
        )
    return namespace


def check_dimensions(dimensions: Any, reserved: Any = ()) -> Dict[str, str]:
    """``metrics_dimensions`` checked: names and values strings of CloudWatch's lengths, at most 30."""
    if dimensions is None:
        return {}
    if not hasattr(dimensions, "items"):
        raise ConfigurationError(f"metrics_dimensions must be a dict of names to values, not {dimensions!r}")
    checked: Dict[str, str] = {}
    for name, value in dimensions.items():
        if not isinstance(name, str) or not 1 <= len(name) <= CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH:
            raise ConfigurationError(
                f"metrics_dimensions: a dimension name is 1 to 255 characters, not {name!r}"
            )
        if name in reserved or name == "_aws":
            raise ConfigurationError(f"metrics_dimensions: {name!r} is the name of a metric of the document")
        if not isinstance(value, str) or not 1 <= len(value) <= CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH:
            raise ConfigurationError(
                f"metrics_dimensions[{name!r}] must be a string of 1 to 1,024 characters, not {value!r}"
            )
        checked[name] = value
    if len(checked) > CLOUDWATCH_MAX_DIMENSIONS:
        raise ConfigurationError(f"metrics_dimensions: at most {CLOUDWATCH_MAX_DIMENSIONS} dimensions")
    return checked


class BatchMetrics:
    """Builds and prints the EMF document of each batch.

    Example::

        metrics = BatchMetrics("Orders", {"Queue": "jobs"})
        metrics.emit({"RecordsSucceeded": 9, "RecordsFailed": 1, "RecordsSkipped": 0, "BatchDuration": 12.5})
    """

    __slots__ = ("dimensions", "namespace", "stream")

    def __init__(
        self, namespace: str, dimensions: Optional[Mapping[str, str]] = None, stream: Optional[TextIO] = None
    ) -> None:
        self.namespace = check_namespace(namespace)
        self.dimensions = check_dimensions(dimensions, (*COUNT_METRICS, *SQS_CALL_METRICS, DURATION_METRIC))
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


__all__ = [
    "COUNT_METRICS",
    "DURATION_METRIC",
    "SQS_CALL_METRICS",
    "BatchMetrics",
    "check_dimensions",
    "check_namespace",
]
