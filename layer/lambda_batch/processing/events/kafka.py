"""Amazon MSK and self-managed Apache Kafka events: their records, checked, and as the handler gets them.

Lambda's Kafka event source mappings group records by topic-partition:

```text
{"eventSource": "aws:kafka", "eventSourceArn": "...", "bootstrapServers": "...",
 "records": {"mytopic-0": [{"topic": "mytopic", "partition": 0, "offset": 15,
                           "timestamp": 1545084650987, "timestampType": "CREATE_TIME",
                           "key": "<base64>", "value": "<base64>", "headers": [...]}]}}
```

``eventSource`` is ``aws:kafka`` (Amazon MSK) or ``SelfManagedKafka`` (some samples spell it
``aws:SelfManagedKafka``). A failed record is reported to Lambda as
``{"itemIdentifier": {"partition": "<topic>-<partition>", "offset": <offset>}}``: the partition
string is the event's ``records`` key, which must equal the record's own topic and partition.

The handler receives a `KafkaEventRecord`: the record's dict, answering the attributes
of Powertools for AWS Lambda's ``KafkaEventRecord`` (``value`` and ``key`` are the base64 text
as delivered; ``decoded_value``, ``decoded_key`` and ``json_value`` decode them).

Example:
    ```python
    processor = BatchProcessor(event_type=EventType.Kafka)

    def record_handler(record):
        # the value, base64-decoded and parsed as JSON
        order = record.json_value
        save(order, partition=record.partition, offset=record.offset)
    ```
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ...errors import MalformedEventError
from .record import _Dict, _key, _optional
from .spec import EVENT_SPECS

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

#: The eventSource values of Kafka events: Amazon MSK, and self-managed Kafka as Lambda and
#: some samples spell it.
KAFKA_EVENT_SOURCES = frozenset(EVENT_SPECS["Kafka"].event_sources)  # the event-spec table
_MAX_REPORTED_PROBLEMS = 10


class KafkaEventRecord(_Dict):
    """One Kafka record, as Lambda delivers it.

    Example:
        ```python
        record = KafkaEventRecord(
            {"topic": "t", "partition": 0, "offset": 7, "value": "eyJuIjogMX0="}
        )
        record.json_value, record.offset  # ({'n': 1}, 7)
        ```
    """

    __slots__ = ("_json_value",)
    _repr_keys = (
        ("topic", "topic"),
        ("partition", "partition"),
        ("offset", "offset"),
        ("source", "eventSource"),  # a Pipes record names its source
    )

    topic = _key("topic", "The topic.")
    partition = _key("partition", "The partition number.")
    offset = _key("offset", "Its offset in the partition.")
    timestamp = _key("timestamp", "Its timestamp (epoch ms).")
    timestamp_type = _key("timestampType", "``CREATE_TIME`` or ``LOG_APPEND_TIME``.")
    key = _optional("key", "The key, base64-encoded as delivered (``None`` when it has none).")
    value = _key("value", "The value, base64-encoded as delivered.")
    key_schema_metadata = _optional("keySchemaMetadata", "The key's schema registry metadata, if any.")
    value_schema_metadata = _optional("valueSchemaMetadata", "The value's schema registry metadata, if any.")

    @property
    def decoded_key(self) -> Optional[bytes]:
        """The key's bytes (``None`` when it has none)."""
        from base64 import b64decode

        raw = self.get("key")
        return None if raw is None else b64decode(raw)

    @property
    def decoded_value(self) -> bytes:
        """The value's bytes."""
        from base64 import b64decode

        return b64decode(self["value"])

    @property
    def json_value(self) -> Any:
        """The value parsed as JSON (UTF-8 text; parsed once, on first use)."""
        try:
            return self._json_value
        except AttributeError:
            self._json_value: Any = json.loads(self.decoded_value.decode("utf-8"))
            return self._json_value

    @property
    def headers(self) -> List[Dict[str, List[int]]]:
        """The headers as delivered: a list of ``{name: [byte, ...]}``."""
        return self.get("headers") or []

    @property
    def decoded_headers(self) -> Dict[str, bytes]:
        """The headers as ``{name: bytes}`` (a later header of the same name wins)."""
        return {name: bytes(value) for chunk in self.headers for name, value in chunk.items()}

    def get_header_value(
        self, name: str, default_value: Optional[bytes] = None, case_sensitive: bool = True
    ) -> Optional[bytes]:
        """The value of header ``name`` as bytes, or ``default_value``."""
        for header, value in self.decoded_headers.items():
            if header == name or (not case_sensitive and header.lower() == name.lower()):
                return value
        return default_value


def kafka_event_records(event: Mapping[str, Any]) -> List[Any]:
    """The records of a Kafka event, partition after partition, each in offset order as delivered.

    Raises `MalformedEventError` (nothing is handled) for an ``eventSource`` that is not
    Kafka's, ``records`` that is not an object of lists, or a record filed under a key that is
    not its own ``<topic>-<partition>``.

    Example:
        ```python
        event = {
            "eventSource": "aws:kafka",
            "records": {"t-0": [{"topic": "t", "partition": 0}]},
        }
        kafka_event_records(event)  # [{'topic': 't', 'partition': 0}]
        ```
    """
    source = event.get("eventSource")
    if source not in KAFKA_EVENT_SOURCES:
        keys = ", ".join(sorted(str(k) for k in event)[:10])
        raise MalformedEventError(
            f"the event has no 'Records' list, and 'records' but eventSource {source!r}, not one of"
            f" {sorted(KAFKA_EVENT_SOURCES)} (its keys: {keys})"
        )
    groups = event.get("records")
    if not isinstance(groups, Mapping):
        raise MalformedEventError(f"the Kafka event's 'records' is a {type(groups).__name__}, not an object")
    records: List[Any] = []
    problems: List[str] = []
    for name, group in groups.items():
        if not isinstance(group, list):
            problems.append(f"records[{name!r}] is a {type(group).__name__}, not a list")
            continue
        for index, record in enumerate(group):
            if isinstance(record, Mapping) and f"{record.get('topic')}-{record.get('partition')}" != name:
                problems.append(f"records[{name!r}][{index}] has another topic and partition")
            records.append(record)
    if problems:
        raise MalformedEventError(_summary(problems, len(records)))
    return records


def kafka_ids(records: Any, *, pipes: bool = False) -> Tuple[List[str], List[Dict[str, Any]]]:
    """Each record's id for logs (``<topic>-<partition>@<offset>``) and its item identifier.

    Raises `MalformedEventError` naming every record that is not an object, lacks a
    topic, or has a partition or offset that is not an integer (a Pipes batch carries the
    partition as text: digits are accepted there), or, in a Pipes batch, another eventSource.
    """
    ids: List[str] = []
    identifiers: List[Dict[str, Any]] = []
    problems: List[str] = []
    for index, record in enumerate(records):
        problem = _problem(record, pipes)
        if problem is not None:
            problems.append(f"record {index} {problem}")
            continue
        partition = f"{record['topic']}-{record['partition']}"
        ids.append(f"{partition}@{record['offset']}")
        identifiers.append({"partition": partition, "offset": record["offset"]})
    if problems:
        raise MalformedEventError(_summary(problems, len(records)))
    return ids, identifiers


def _problem(record: Any, pipes: bool) -> Optional[str]:
    if not isinstance(record, Mapping):
        return f"is not an object (got {type(record).__name__})"
    if pipes and record.get("eventSource") not in KAFKA_EVENT_SOURCES:
        return f"has eventSource {record.get('eventSource')!r}, not Kafka's"
    topic = record.get("topic")
    if not isinstance(topic, str) or not topic:
        return "has no topic"
    partition = record.get("partition")
    text_partition = pipes and isinstance(partition, str) and partition.isdigit()
    if not text_partition and (isinstance(partition, bool) or not isinstance(partition, int)):
        return "has no integer partition"
    offset = record.get("offset")
    if isinstance(offset, bool) or not isinstance(offset, int):
        return "has no integer offset"
    return None


def _summary(problems: List[str], total: int) -> str:
    shown = problems[:_MAX_REPORTED_PROBLEMS]
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    return (
        f"{len(problems)} problem(s) in a Kafka batch of {total} records{more}; nothing was processed: "
        + ("; ".join(shown))
    )


__all__ = ["KAFKA_EVENT_SOURCES", "KafkaEventRecord", "kafka_event_records", "kafka_ids"]
