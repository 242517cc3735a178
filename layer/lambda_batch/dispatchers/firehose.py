"""Amazon Data Firehose: PutRecordBatch, 500 records and 4 MiB per call."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from ..core.limits import SERVICE_LIMITS
from ..core.retry import ErrorInfo, entry_results
from ..engine.dispatcher import BaseDispatcher, target_arn
from ..engine.packing import Entry
from ..errors import ConfigurationError
from .serialization import RAW, check_encoding, payload_to_bytes


class FirehoseBatchDispatcher(BaseDispatcher):
    """Puts records on a Firehose stream with PutRecordBatch: 500 records and 4 MiB per call.

    ``delivery_stream_name`` is the stream's name or ARN. A record is ``bytes`` as is, a
    ``str`` as UTF-8 or anything else as JSON, followed by ``record_delimiter`` when given
    (``b"\\n"`` keeps JSON records apart at the destination); it is sized before base64, as
    Firehose sizes it (1,000 KiB at most).

    Example:
        ```python
        firehose = FirehoseBatchDispatcher("events-to-s3", record_delimiter=b"\\n")
        firehose.submit_payload({"event": "signup"})
        firehose.flush_payloads()
        ```
    """

    def __init__(
        self,
        delivery_stream_name: str,
        max_batch_size: int = 500,
        *,
        record_delimiter: Optional[bytes] = None,
        payload_encoding: str = RAW,
        **kwargs: Any,
    ) -> None:
        #: How a payload becomes the data: ``"raw"`` (a ``str`` as is) or ``"json"`` (``json.dumps``).
        self.payload_encoding = check_encoding(payload_encoding)
        if not isinstance(delivery_stream_name, str) or not delivery_stream_name:
            raise ConfigurationError("delivery_stream_name must be a Firehose stream name or ARN")
        region = None
        name = delivery_stream_name
        if delivery_stream_name.startswith("arn:"):
            arn = target_arn(delivery_stream_name, "firehose", "Firehose stream", "deliverystream/")
            region = arn.region or None
            name = arn.resource.split("/", 1)[1]
        if record_delimiter is not None and not isinstance(record_delimiter, bytes):
            raise ConfigurationError("record_delimiter must be bytes, e.g. b'\\n'")
        self.delivery_stream_name = name
        self.record_delimiter = record_delimiter or b""
        self.target_description = f"Firehose stream {name}"
        super().__init__(
            "firehose",
            SERVICE_LIMITS["firehose"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )

    def submit_payload(self, payload: Any) -> None:
        """Buffer one record; raise PayloadError when it cannot be serialised or is over 1,000 KiB."""
        data = payload_to_bytes(payload, self.payload_encoding) + self.record_delimiter
        self._add(payload, {"Data": data}, len(data))

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        response = client.put_record_batch(
            DeliveryStreamName=self.delivery_stream_name, Records=[entry.request for entry in entries]
        )
        return entry_results(response.get("RequestResponses") or [], len(entries))
