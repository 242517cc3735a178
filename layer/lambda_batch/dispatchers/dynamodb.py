"""DynamoDB: BatchWriteItem, 25 puts or deletes and 16 MB per call."""

from __future__ import annotations

import decimal
import math
from collections.abc import Mapping
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from ..exceptions import ConfigurationError, PayloadError
from ..limits import SERVICE_LIMITS
from ..retry import ErrorInfo
from ..serialization import utf8_len
from .base import BaseDispatcher, Entry, target_arn

#: An item's key: ((attribute name, DynamoDB type, value), ...), hashable, numbers compared as numbers.
KeyTuple = Tuple[Tuple[str, str, Hashable], ...]

_UNPROCESSED = ErrorInfo(
    "UnprocessedItems", "DynamoDB returned the write unprocessed (throttled or over capacity)", True
)


class DynamoBatchDispatcher(BaseDispatcher):
    """Writes to a DynamoDB table with BatchWriteItem: 25 puts or deletes per call.

    Items are plain Python values (as with ``Table.put_item``): floats are stored as numbers
    (via ``Decimal``), the partition key is cast with ``partition_key_data_type``. The caller's
    dict is never changed. Within one batch, a later write of the same key replaces the earlier
    one (DynamoDB refuses two writes of one key in a call); the earlier counts as superseded
    (``stats.superseded``), not as unprocessed. Writes of one key keep their order, even with
    ``max_workers`` > 1. Items are sized as DynamoDB sizes them (400 KB at most).

    Example::

        table = DynamoBatchDispatcher("users", partition_key="user_id", sort_key="version")
        table.submit_payload({"user_id": "u-1", "version": 3, "name": "Ada"})
        table.submit_delete({"user_id": "u-2", "version": 1})
        table.flush_payloads()
    """

    def __init__(
        self,
        dynamo_table_name: str,
        partition_key: str,
        sort_key: Optional[str] = None,
        partition_key_data_type: Callable[[Any], Any] = str,
        max_batch_size: int = 25,
        **kwargs: Any,
    ) -> None:
        if not isinstance(dynamo_table_name, str) or not dynamo_table_name:
            raise ConfigurationError("dynamo_table_name must be a table name or ARN")
        if not isinstance(partition_key, str) or not partition_key:
            raise ConfigurationError("partition_key must name the table's partition key attribute")
        if not callable(partition_key_data_type):
            raise ConfigurationError("partition_key_data_type must be a type such as str, int or Decimal")
        region = None
        name = dynamo_table_name
        if dynamo_table_name.startswith("arn:"):
            arn = target_arn(dynamo_table_name, "dynamodb", "DynamoDB table", "table/")
            region = arn.region or None
            name = arn.resource.split("/", 2)[1]
        self.dynamo_table_name = dynamo_table_name
        self.partition_key = partition_key
        self.sort_key = sort_key
        self.partition_key_data_type = partition_key_data_type
        self.target_description = f"DynamoDB table {name}"
        self._serializer: Any = None
        super().__init__(
            "dynamodb",
            SERVICE_LIMITS["dynamodb"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )

    def submit_payload(
        self, payload: Mapping[str, Any], partition_key_location: Optional[str] = None
    ) -> None:
        """Buffer a put of ``payload`` (a mapping of attribute names to Python values).

        With ``partition_key_location``, the partition key's value is taken from that attribute
        (which is then left out of the stored item). Raises PayloadError for an item without its
        keys, with values DynamoDB cannot store, or over 400 KB.
        """
        if not isinstance(payload, Mapping):
            raise PayloadError(f"a DynamoDB item must be a mapping, not {type(payload).__name__}")
        item = {name: _to_dynamo(value, name) for name, value in payload.items()}
        if partition_key_location is not None:
            if partition_key_location not in item:
                raise PayloadError(
                    f"item has no attribute {partition_key_location!r} (partition_key_location)"
                )
            item[self.partition_key] = item.pop(partition_key_location)
        serialized, key = self._serialize(item, label="item")
        size = sum(utf8_len(name) + _attribute_size(value) for name, value in serialized.items())
        self._add(
            payload, {"PutRequest": {"Item": serialized}}, size, record_id=_describe(key), dedupe_key=key
        )

    def submit_delete(self, key: Mapping[str, Any]) -> None:
        """Buffer a delete of the item with ``key`` (its partition key and sort key, if any).

        Example::

            table.submit_delete({"user_id": "u-2", "version": 1})
        """
        if not isinstance(key, Mapping):
            raise PayloadError(f"a DynamoDB key must be a mapping, not {type(key).__name__}")
        names = {self.partition_key} | ({self.sort_key} if self.sort_key else set())
        extra = set(key) - names
        if extra:
            raise PayloadError(
                f"a delete key has only the key attributes {sorted(names)}, not {sorted(extra)}"
            )
        item = {name: _to_dynamo(value, name) for name, value in key.items()}
        serialized, dedupe = self._serialize(item, label="key")
        size = sum(utf8_len(name) + _attribute_size(value) for name, value in serialized.items())
        self._add(
            key, {"DeleteRequest": {"Key": serialized}}, size, record_id=_describe(dedupe), dedupe_key=dedupe
        )

    def _serialize(self, item: Dict[str, Any], label: str) -> Tuple[Dict[str, Any], KeyTuple]:
        if self.partition_key not in item:
            raise PayloadError(f"{label} has no partition key attribute {self.partition_key!r}")
        try:
            item[self.partition_key] = self.partition_key_data_type(item[self.partition_key])
        except (TypeError, ValueError, decimal.InvalidOperation) as exc:
            raise PayloadError(f"partition key {self.partition_key!r} cannot be cast: {exc}") from None
        if self.sort_key is not None and self.sort_key not in item:
            raise PayloadError(f"{label} has no sort key attribute {self.sort_key!r}")
        if self._serializer is None:
            from boto3.dynamodb.types import TypeSerializer  # deferred: boto3 comes with the runtime

            self._serializer = TypeSerializer()
        serialized: Dict[str, Any] = {}
        for name, value in item.items():
            try:
                serialized[name] = self._serializer.serialize(value)
            except (TypeError, ValueError, decimal.Inexact, decimal.Rounded, decimal.InvalidOperation) as exc:
                raise PayloadError(f"attribute {name!r} cannot be stored in DynamoDB: {exc}") from None
        return serialized, self._key_of(serialized)

    def _key_of(self, serialized: Mapping[str, Any]) -> KeyTuple:
        names = (self.partition_key, self.sort_key) if self.sort_key else (self.partition_key,)
        key: List[Tuple[str, str, Hashable]] = []
        for name in names:
            if name not in serialized:
                raise PayloadError(f"missing key attribute {name!r}")
            ((kind, value),) = serialized[name].items()
            if kind not in ("S", "N", "B"):
                raise PayloadError(f"key attribute {name!r} must be a string, number or binary, not {kind}")
            plain: Hashable = (
                decimal.Decimal(value) if kind == "N" else bytes(value) if kind == "B" else value
            )
            key.append((name, kind, plain))
        return tuple(key)

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        response = client.batch_write_item(
            RequestItems={self.dynamo_table_name: [entry.request for entry in entries]}
        )
        unprocessed = (response.get("UnprocessedItems") or {}).get(self.dynamo_table_name) or []
        if not unprocessed:
            return [None] * len(entries)
        keys = set()
        for request in unprocessed:
            if "PutRequest" in request:
                keys.add(self._key_of(request["PutRequest"]["Item"]))
            elif "DeleteRequest" in request:
                keys.add(self._key_of(request["DeleteRequest"]["Key"]))
        results: List[Optional[ErrorInfo]] = []
        for entry in entries:
            body = entry.request.get("PutRequest", {}).get("Item") or entry.request["DeleteRequest"]["Key"]
            results.append(_UNPROCESSED if self._key_of(body) in keys else None)
        return results


def _describe(key: KeyTuple) -> str:
    return "item " + ",".join(f"{name}={value!s}" for name, _kind, value in key)


_PLAIN = frozenset({str, int, bool, bytes, decimal.Decimal, type(None)})


def _to_dynamo(value: Any, name: str) -> Any:
    """A copy of ``value`` DynamoDB can store: floats become Decimals; the caller's objects stay untouched."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(f"attribute {name!r}: DynamoDB cannot store {value}")
        return decimal.Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _to_dynamo(item, name) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(item, name) for item in value]
    if isinstance(value, (set, frozenset)):
        return {_to_dynamo(item, name) for item in value}
    return value


def _number_size(text: str) -> int:
    return min(21, len(text) // 2 + 2)


_SCALAR_SIZE: Dict[str, Callable[[Any], int]] = {
    "S": utf8_len,
    "N": _number_size,
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
    "SS": lambda items: sum(utf8_len(item) for item in items),
    "NS": lambda items: sum(_number_size(item) for item in items),
    "BS": lambda items: sum(len(item) for item in items),
}


def _attribute_size(value: Mapping[str, Any]) -> int:
    """An attribute value's size as DynamoDB counts it (numbers: an upper bound of their storage)."""
    ((kind, data),) = value.items()
    sizer = _SCALAR_SIZE.get(kind)
    if sizer is not None:
        return sizer(data)
    if kind == "L":
        return 3 + sum(1 + _attribute_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + utf8_len(key) + _attribute_size(item) for key, item in data.items())
    return utf8_len(str(data))  # pragma: no cover - a type DynamoDB may add
