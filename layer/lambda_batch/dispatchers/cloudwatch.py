"""CloudWatch metrics: PutMetricData, 1,000 metrics and 1 MB per call."""

from __future__ import annotations

import datetime
import decimal
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from ..core.limits import (
    CLOUDWATCH_MAX_ABS_VALUE,
    CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH,
    CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH,
    CLOUDWATCH_MAX_DIMENSIONS,
    CLOUDWATCH_MAX_METRIC_NAME_LENGTH,
    CLOUDWATCH_MAX_VALUES_PER_METRIC,
    SERVICE_LIMITS,
)
from ..core.retry import ErrorInfo
from ..engine.dispatcher import BaseDispatcher
from ..engine.packing import Entry
from ..errors import ConfigurationError, PayloadError

#: The longest prefix a field of one metric takes in a query-encoded request ("MetricData.member.1000.").
_FIELD_PREFIX = len("MetricData.member.1000.")

Number = Union[int, float, decimal.Decimal]


def cloudwatch_dimension(name: str, value: Any) -> Dict[str, str]:
    """One CloudWatch dimension, ``{"Name": name, "Value": value}`` (both as text), as
    boto3-batch-utils 5.x builds it.

    Example:
        ```python
        metrics.submit_metric(
            "Orders", 1, dimensions=cloudwatch_dimension("Country", "FR")
        )
        metrics.submit_metric("Orders", 1, dimensions=[cloudwatch_dimension("Shop", 7)])
        ```
    """
    return {"Name": str(name), "Value": str(value)}


class CloudwatchBatchDispatcher(BaseDispatcher):
    """Publishes metrics to one CloudWatch namespace with PutMetricData: 1,000 metrics per call.

    `submit_metric` takes a single ``value`` or ``values`` with ``counts`` (up to 150),
    dimensions as a ``{name: value}`` dict, one `cloudwatch_dimension` or the API's list
    of them, and a ``timestamp`` (default: now; a naive datetime is taken as UTC, as boto3
    takes it). `submit_payload` takes a ready ``MetricDatum`` mapping. PutMetricData succeeds
    or fails as a whole, so a failed call hands back all its metrics.

    Example:
        ```python
        metrics = CloudwatchBatchDispatcher("Shop")
        metrics.submit_metric("Orders", 1, dimensions={"Country": "FR"})
        metrics.submit_metric(
            "Latency", values=[12.0, 15.5], counts=[3, 1], unit="Milliseconds"
        )
        metrics.flush_payloads()
        ```
    """

    def __init__(self, namespace: str, max_batch_size: int = 1000, **kwargs: Any) -> None:
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            raise ConfigurationError("namespace must be 1 to 255 characters")
        if namespace.startswith("AWS/"):
            raise ConfigurationError("namespaces starting with 'AWS/' are reserved for AWS")
        self.namespace = namespace
        self.target_description = f"CloudWatch namespace {namespace}"
        super().__init__("cloudwatch", SERVICE_LIMITS["cloudwatch"], max_batch_size=max_batch_size, **kwargs)

    def submit_metric(
        self,
        metric_name: str,
        value: Optional[Number] = None,
        timestamp: Optional[datetime.datetime] = None,
        dimensions: Union[Mapping[str, str], Sequence[Mapping[str, str]], None] = None,
        unit: str = "Count",
        *,
        values: Optional[Sequence[Number]] = None,
        counts: Optional[Sequence[Number]] = None,
        storage_resolution: Optional[int] = None,
    ) -> None:
        """Buffer one metric datum; raise PayloadError for one CloudWatch would reject.

        The datum built here (a dict) is what `flush_payloads` hands back if it fails.
        """
        datum: Dict[str, Any] = {"MetricName": metric_name, "Unit": unit}
        datum["Timestamp"] = timestamp if timestamp is not None else datetime.datetime.now(datetime.UTC)
        if value is not None:
            datum["Value"] = value
        if values is not None:
            datum["Values"] = list(values)
        if counts is not None:
            datum["Counts"] = list(counts)
        if dimensions:
            if isinstance(dimensions, Mapping) and set(dimensions) == {"Name", "Value"}:
                datum["Dimensions"] = [dict(dimensions)]  # one cloudwatch_dimension(...)
            elif isinstance(dimensions, Mapping):
                datum["Dimensions"] = [{"Name": name, "Value": dim} for name, dim in dimensions.items()]
            else:
                datum["Dimensions"] = [dict(dim) for dim in dimensions]
        if storage_resolution is not None:
            datum["StorageResolution"] = storage_resolution
        self.submit_payload(datum)

    def submit_payload(self, payload: Mapping[str, Any]) -> None:
        """Buffer one ``MetricDatum`` mapping (the API's shape), checked and measured.

        Example:
            ```python
            metrics.submit_payload({"MetricName": "Errors", "Value": 2, "Unit": "Count"})
            ```
        """
        size = _check_and_measure(payload)
        request = dict(payload)
        for key in ("Value", "Values", "Counts"):  # botocore wants floats; Decimals are welcome here
            if key in request:
                item = request[key]
                request[key] = [float(x) for x in item] if key != "Value" else float(item)
        timestamp = request.get("Timestamp")
        if isinstance(timestamp, datetime.datetime) and timestamp.tzinfo is None:
            request["Timestamp"] = timestamp.replace(tzinfo=datetime.UTC)  # naive is UTC
        self._add(payload, request, size, record_id=f"metric {payload['MetricName']}")

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        client.put_metric_data(Namespace=self.namespace, MetricData=[entry.request for entry in entries])
        return [None] * len(entries)


def _check_and_measure(datum: Mapping[str, Any]) -> int:
    if not isinstance(datum, Mapping):
        raise PayloadError(f"a metric datum must be a mapping, not {type(datum).__name__}")
    name = datum.get("MetricName")
    if not isinstance(name, str) or not 1 <= len(name) <= CLOUDWATCH_MAX_METRIC_NAME_LENGTH:
        raise PayloadError(
            f"a metric needs a MetricName of 1 to {CLOUDWATCH_MAX_METRIC_NAME_LENGTH} characters"
        )
    label = f"metric {name}"
    size = _field("MetricName", name)
    if "Value" in datum:
        _check_number(datum["Value"], label)
        size += _field("Value", datum["Value"])
    size += _measure_values(datum.get("Values"), datum.get("Counts"), label)
    if "Value" not in datum and datum.get("Values") is None and "StatisticValues" not in datum:
        raise PayloadError(f"{label} has no Value, Values or StatisticValues")
    size += _measure_statistics(datum.get("StatisticValues"), label)
    timestamp = datum.get("Timestamp")
    if timestamp is not None:
        if not isinstance(timestamp, datetime.datetime):
            raise PayloadError(f"{label}: Timestamp must be a datetime, not {type(timestamp).__name__}")
        size += _field("Timestamp", "2000-01-01T00:00:00.000000Z")
    size += _measure_dimensions(datum.get("Dimensions") or [], label)
    for key in ("Unit", "StorageResolution"):
        if key in datum:
            size += _field(key, datum[key])
    if datum.get("StorageResolution") not in (None, 1, 60):
        raise PayloadError(f"{label}: StorageResolution must be 1 or 60")
    return size


def _measure_values(values: Any, counts: Any, label: str) -> int:
    """Check a metric's Values and Counts; the bytes they take."""
    size = 0
    if values is not None:
        if len(values) > CLOUDWATCH_MAX_VALUES_PER_METRIC:
            raise PayloadError(
                f"{label} has {len(values)} values, "
                f"over the limit of {CLOUDWATCH_MAX_VALUES_PER_METRIC} per metric"
            )
        for index, item in enumerate(values):
            _check_number(item, label)
            size += _field(f"Values.member.{index + 1}", item)
    if counts is not None:
        if values is None or len(counts) != len(values):
            raise PayloadError(f"{label}: Counts needs Values of the same length")
        for index, item in enumerate(counts):
            _check_number(item, label)
            size += _field(f"Counts.member.{index + 1}", item)
    return size


def _measure_statistics(statistics: Any, label: str) -> int:
    """Check a metric's StatisticValues; the bytes they take."""
    size = 0
    for key, item in dict(statistics or {}).items():
        _check_number(item, label)
        size += _field(f"StatisticValues.{key}", item)
    return size


def _measure_dimensions(dimensions: Sequence[Any], label: str) -> int:
    """Check a metric's Dimensions; the bytes they take."""
    if len(dimensions) > CLOUDWATCH_MAX_DIMENSIONS:
        raise PayloadError(
            f"{label} has {len(dimensions)} dimensions, over the limit of {CLOUDWATCH_MAX_DIMENSIONS}"
        )
    size = 0
    for index, dimension in enumerate(dimensions):
        if not isinstance(dimension, Mapping) or not dimension.get("Name") or not dimension.get("Value"):
            raise PayloadError(f"{label}: each dimension needs a Name and a Value")
        _check_dimension(dimension["Name"], dimension["Value"], label, index)
        size += _field(f"Dimensions.member.{index + 1}.Name", dimension["Name"])
        size += _field(f"Dimensions.member.{index + 1}.Value", dimension["Value"])
    return size


def _check_dimension(name: Any, value: Any, label: str, index: int) -> None:
    where = f"{label}: dimension {index + 1}"
    if not isinstance(name, str):
        raise PayloadError(f"{where}: its Name must be a str, not {type(name).__name__}")
    if not isinstance(value, str):
        raise PayloadError(
            f"{where} ({name}): its Value must be a str, not {type(value).__name__}"
            + (" (decode bytes first)" if isinstance(value, (bytes, bytearray)) else "")
        )
    if len(name) > CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH:
        raise PayloadError(f"{where}: its Name is over {CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH} characters")
    if len(value) > CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH:
        raise PayloadError(
            f"{where} ({name}): its Value is over {CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH} characters"
        )


def _field(path: str, value: Any) -> int:
    """Bytes one field takes in a query-encoded request (an upper bound of its JSON or CBOR form)."""
    return _FIELD_PREFIX + len(path) + 2 + len(quote(str(value), safe=""))


def _check_number(value: Any, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise PayloadError(f"{label}: {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number) or abs(number) > CLOUDWATCH_MAX_ABS_VALUE:
        raise PayloadError(f"{label}: {value!r} is outside the range CloudWatch accepts (-2^360 to 2^360)")
