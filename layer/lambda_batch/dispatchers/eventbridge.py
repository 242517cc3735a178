"""EventBridge: PutEvents, 10 entries and 1 MB per call (entries up to 1 MB since 29 January 2026)."""

from __future__ import annotations

import datetime
import json
from typing import Any, Dict, List, Optional, Sequence

from ..core.limits import EVENTBRIDGE_TIME_SIZE, SERVICE_LIMITS
from ..core.retry import ErrorInfo, entry_results
from ..engine.dispatcher import BaseDispatcher
from ..engine.packing import Entry
from ..errors import ConfigurationError, PayloadError
from .serialization import payload_to_text, utf8_len

#: PutEvents counts a given Time as 14 bytes (``limits``).
_TIME_SIZE = EVENTBRIDGE_TIME_SIZE


class EventBridgeBatchDispatcher(BaseDispatcher):
    """Puts events on an event bus with PutEvents: 10 entries per call, 1 MB (1,048,576 bytes) in all.

    The payload is the event's detail (a mapping, or a JSON object as ``str``). ``source`` and
    ``detail_type`` default to the ones given here and can be given per event. Entries are
    sized with EventBridge's own formula (Time 14 bytes; Source, DetailType, Detail and each
    resource by their UTF-8 bytes). ``event_bus_name`` is a bus name or ARN. ``resources`` is
    a list of ARNs (a single string is refused); a naive ``time`` is taken as UTC, as boto3
    takes it.

    Example:
        ```python
        events = EventBridgeBatchDispatcher(
            "orders-bus", source="shop.orders", detail_type="OrderPlaced"
        )
        events.submit_payload({"order_id": 7, "total": 30})
        events.flush_payloads()
        ```
    """

    def __init__(
        self,
        event_bus_name: str = "default",
        source: str = "lambda_batch",
        detail_type: str = "lambda_batch.event",
        max_batch_size: int = 10,
        **kwargs: Any,
    ) -> None:
        if not isinstance(event_bus_name, str) or not event_bus_name:
            raise ConfigurationError("event_bus_name must be an event bus name or ARN")
        _check_source(source, ConfigurationError)
        _check_detail_type(detail_type, ConfigurationError)
        region = None
        if event_bus_name.startswith("arn:"):
            region = event_bus_name.split(":")[3] or None
        self.event_bus_name = event_bus_name
        self.source = source
        self.detail_type = detail_type
        self.target_description = f"EventBridge bus {event_bus_name.rsplit('/', 1)[-1]}"
        super().__init__(
            "events",
            SERVICE_LIMITS["events"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )

    def submit_payload(
        self,
        payload: Any,
        source: Optional[str] = None,
        detail_type: Optional[str] = None,
        *,
        resources: Optional[Sequence[str]] = None,
        time: Optional[datetime.datetime] = None,
        trace_header: Optional[str] = None,
    ) -> None:
        """Buffer one event whose detail is ``payload``; raise PayloadError for one PutEvents would reject."""
        source = self.source if source is None else source
        detail_type = self.detail_type if detail_type is None else detail_type
        _check_source(source, PayloadError)
        _check_detail_type(detail_type, PayloadError)
        detail = payload_to_text(payload)
        if not isinstance(payload, dict):
            try:
                parsed = json.loads(detail)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise PayloadError("an event's detail must be a JSON object")
        request: Dict[str, Any] = {
            "EventBusName": self.event_bus_name,
            "Source": source,
            "DetailType": detail_type,
            "Detail": detail,
        }
        size = utf8_len(source) + utf8_len(detail_type) + utf8_len(detail)
        if resources is not None:
            checked = _check_resources(resources)
            if checked:
                request["Resources"] = checked
                size += sum(utf8_len(resource) for resource in checked)
        if time is not None:
            if not isinstance(time, datetime.datetime):
                raise PayloadError(f"time must be a datetime, not {type(time).__name__}")
            if time.tzinfo is None:  # a naive datetime is UTC, as boto3 takes it
                time = time.replace(tzinfo=datetime.UTC)
            request["Time"] = time
            size += _TIME_SIZE
        if trace_header is not None:
            request["TraceHeader"] = trace_header
        self._add(payload, request, size, record_id=f"event {detail_type}")

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        response = client.put_events(Entries=[entry.request for entry in entries])
        return entry_results(response.get("Entries") or [], len(entries))


def _check_resources(resources: Any) -> List[str]:
    """The event's resources as a list of non-empty strings (ARNs); PayloadError otherwise."""
    if isinstance(resources, (str, bytes)):
        raise PayloadError(
            "resources must be a list of ARNs, not a single string "
            "(it would be sent as one resource per character)"
        )
    try:
        items = list(resources)
    except TypeError:
        raise PayloadError(f"resources must be a list of ARNs, not {type(resources).__name__}") from None
    for index, resource in enumerate(items):
        if not isinstance(resource, str) or not resource:
            raise PayloadError(
                f"resources[{index}] must be a non-empty string (an ARN), not {type(resource).__name__}"
            )
    return items


def _check_source(source: Any, error: type) -> None:
    if not isinstance(source, str) or not 1 <= len(source) <= 256:
        raise error("source must be 1 to 256 characters")
    if source.startswith("aws."):
        raise error("sources starting with 'aws.' are reserved for AWS")


def _check_detail_type(detail_type: Any, error: type) -> None:
    if not isinstance(detail_type, str) or not 1 <= len(detail_type) <= 128:
        raise error("detail_type must be 1 to 128 characters")
