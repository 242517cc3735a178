"""DynamoDB: BatchWriteItem, 25 puts or deletes and 16 MB (on the wire) per call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..core.limits import SERVICE_LIMITS
from ..core.retry import ErrorInfo, classify_exception
from ..engine.dispatcher import BaseDispatcher, target_arn
from ..engine.packing import Entry
from ..errors import ConfigurationError, PayloadError
from .dynamodb_items import (
    DELETE_FRAME,
    PUT_FRAME,
    SEPARATOR,
    KeyRule,
    WrittenItem,
    describe_key,
    key_of,
    request_envelope,
    write_item,
)

logger = logging.getLogger("lambda_batch.dispatchers.dynamodb")

#: A table's key schema: ((attribute name, type S/N/B), ...), partition key first.
KeySchema = Tuple[Tuple[str, str], ...]

_UNPROCESSED = ErrorInfo(
    "UnprocessedItems", "DynamoDB returned the write unprocessed (throttled or over capacity)", True
)

#: Each table's key schema, by (region, endpoint, table), for the life of the process: a function
#: that makes its dispatcher on every invocation calls DescribeTable once per execution
#: environment. ``None`` records that it could not be read (no dynamodb:DescribeTable, no such
#: table): writes are then never de-duplicated, and the call is not repeated.
_table_keys: Dict[Tuple[str, str, str], Optional[KeySchema]] = {}
_table_keys_lock = threading.Lock()


class DynamoBatchDispatcher(BaseDispatcher):
    """Writes to a DynamoDB table with BatchWriteItem: 25 puts or deletes per call, 16 MB a request.

    Items are plain Python values (as with ``Table.put_item``): floats are stored as numbers
    (via ``Decimal``), every value keeps its type (a numeric key stays a number). The caller's
    dict is never changed. Values DynamoDB would refuse raise
    `PayloadError` at submit, naming the attribute: empty sets,
    numbers out of DynamoDB's range or over 38 digits, empty or over-long key values, a key of
    another type than the table's. Items are sized as DynamoDB sizes them (400 KB at most);
    calls are filled up to 16 MB as the request goes on the wire (botocore escapes non-ASCII
    text as ``\\uXXXX``).

    The table's key schema is read once per process (``dynamodb:DescribeTable``).
    ``partition_key`` and ``sort_key`` name the attributes for ``partition_key_location`` and
    are used as the key only when the schema cannot be read.

    De-duplication: DynamoDB refuses two writes of one key in a call. With ``deduplicate=True``
    (the default) and the table's key schema known, a later write of the same full key (partition
    and sort key) replaces an earlier one still waiting in the batch; the earlier counts as
    superseded (``stats.superseded``), not as unprocessed. Otherwise (``deduplicate=False``, or
    the schema could not be read) nothing is ever de-duplicated: a write whose key is already in
    the batch starts the next call, so every write is sent, in order. Writes of one key keep
    their order, even with ``max_workers`` > 1.

    Example:
        ```python
        table = DynamoBatchDispatcher(
            "users", partition_key="user_id", sort_key="version"
        )
        table.submit_payload({"user_id": "u-1", "version": 3, "name": "Ada"})
        table.submit_delete({"user_id": "u-2", "version": 1})
        table.flush_payloads()
        ```
    """

    def __init__(
        self,
        dynamo_table_name: str,
        partition_key: str,
        sort_key: Optional[str] = None,
        partition_key_data_type: Callable[[Any], Any] = str,
        max_batch_size: int = 25,
        *,
        deduplicate: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(dynamo_table_name, str) or not dynamo_table_name:
            raise ConfigurationError("dynamo_table_name must be a table name or ARN")
        if not isinstance(partition_key, str) or not partition_key:
            raise ConfigurationError("partition_key must name the table's partition key attribute")
        if sort_key is not None and (not isinstance(sort_key, str) or not sort_key):
            raise ConfigurationError("sort_key must name the table's sort key attribute, or be None")
        if not callable(partition_key_data_type):
            raise ConfigurationError("partition_key_data_type must be a type such as str, int or Decimal")
        if not isinstance(deduplicate, bool):
            raise ConfigurationError(f"deduplicate must be True or False, not {deduplicate!r}")
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
        self.deduplicate = deduplicate
        self.target_description = f"DynamoDB table {name}"
        self._schema: Optional[KeySchema] = None
        self._schema_read = False
        self._schema_lock = threading.Lock()
        given = ((partition_key, None), (sort_key, None)) if sort_key else ((partition_key, None),)
        self._use_schema(given, known=False)
        super().__init__(
            "dynamodb",
            SERVICE_LIMITS["dynamodb"],
            max_batch_size=max_batch_size,
            region=kwargs.pop("region", region),
            **kwargs,
        )
        # The request body holds the writes inside {"RequestItems": {"<table>": [...]}}.
        self.max_batch_bytes = max(1, self.max_batch_bytes - request_envelope(dynamo_table_name))

    # -- the table's key, learned once ----------------------------------------------------

    @property
    def key_schema(self) -> Optional[KeySchema]:
        """The table's key as DescribeTable gave it (``(("pk", "S"), ("sk", "N"))``), or None if unknown."""
        return self._schema

    def _use_schema(self, schema: Sequence[Tuple[str, Optional[str]]], known: bool) -> None:
        roles = ("partition", "sort")
        self._key_names: Tuple[str, ...] = tuple(name for name, _ in schema)
        self._key_rules: Dict[str, KeyRule] = {
            name: KeyRule(role, kind) for (name, kind), role in zip(schema, roles, strict=False)
        }
        self._dedupe = known and self.deduplicate

    def _learn_schema(self) -> None:
        """Read the table's key schema (DescribeTable), once per process; not within the deadline margin."""
        if self._schema_read or self.deadline.expired(self.retry_policy.deadline_margin):
            return
        with self._schema_lock:
            self._read_schema()

    def _read_schema(self) -> None:
        if self._schema_read:  # another thread read it while this one waited
            return
        client = self.client
        cache_key = (
            str(getattr(client.meta, "region_name", "")),
            str(getattr(client.meta, "endpoint_url", "")),
            self.dynamo_table_name,
        )
        with _table_keys_lock:
            known = cache_key in _table_keys
            schema = _table_keys.get(cache_key)
        if not known:
            schema, final = self._describe_table(client)
            if final:
                with _table_keys_lock:
                    _table_keys[cache_key] = schema
        if schema is not None:
            self._check_names(schema)
            self._use_schema(schema, known=True)
        self._schema = schema
        self._schema_read = True

    def _describe_table(self, client: Any) -> Tuple[Optional[KeySchema], bool]:
        """(the key schema or None, whether that answer may be kept for the process)."""
        try:
            table = client.describe_table(TableName=self.dynamo_table_name)["Table"]
            types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
            order = {"HASH": 0, "RANGE": 1}
            elements = sorted(table["KeySchema"], key=lambda element: order[element["KeyType"]])
            return tuple((e["AttributeName"], types[e["AttributeName"]]) for e in elements), True
        except Exception as exc:
            error = classify_exception(exc)
            logger.warning(
                "%s: cannot read the table's key schema (DescribeTable: %s); writes are not "
                "de-duplicated, a write whose %s is already in the batch starts the next call",
                self.target_description,
                error.code,
                " and ".join(repr(name) for name in self._key_names),
            )
            return None, not error.retryable

    def _check_names(self, schema: KeySchema) -> None:
        given = (self.partition_key, self.sort_key) if self.sort_key else (self.partition_key,)
        real = tuple(name for name, _ in schema)
        if given != real:
            logger.warning(
                "%s: the table's key is %s, not %s as given; the table's key is used",
                self.target_description,
                "+".join(real),
                "+".join(given),
            )

    # -- submitting -------------------------------------------------------------------------

    def submit_payload(
        self, payload: Mapping[str, Any], partition_key_location: Optional[str] = None
    ) -> None:
        """Buffer a put of ``payload`` (a mapping of attribute names to Python values).

        With ``partition_key_location``, the item's ``partition_key`` attribute is set to that
        attribute's value cast with ``partition_key_data_type``; the source attribute stays in
        the item (as boto3-batch-utils does). Without it, every value keeps its type. Raises
        PayloadError for an item without its keys, with values DynamoDB would refuse, or over
        400 KB.

        Example:
            ```python
            table.submit_payload({"id": "42", "name": "Ada"}, partition_key_location="id")
            ```
        """
        if not isinstance(payload, Mapping):
            raise PayloadError(f"a DynamoDB item must be a mapping, not {type(payload).__name__}")
        item = payload
        if partition_key_location is not None:
            if partition_key_location not in payload:
                raise PayloadError(
                    f"item has no attribute {partition_key_location!r} (partition_key_location)"
                )
            try:
                value = self.partition_key_data_type(payload[partition_key_location])
            except Exception as exc:
                raise PayloadError(
                    f"attribute {partition_key_location!r} (partition_key_location) cannot be cast "
                    f"with partition_key_data_type: {type(exc).__name__}"
                ) from None
            item = {**payload, self.partition_key: value}
        self._learn_schema()
        written = write_item(item, self._key_rules)
        self._enqueue(payload, {"PutRequest": {"Item": written.attributes}}, written, PUT_FRAME)

    def submit_delete(self, key: Mapping[str, Any]) -> None:
        """Buffer a delete of the item with ``key`` (its partition key and sort key, if any).

        Raises PayloadError for a key without the table's key attributes, with other
        attributes (when the table's key is known), or with values DynamoDB would refuse.

        Example:
            ```python
            table.submit_delete({"user_id": "u-2", "version": 1})
            ```
        """
        if not isinstance(key, Mapping):
            raise PayloadError(f"a DynamoDB key must be a mapping, not {type(key).__name__}")
        self._learn_schema()
        extra = set(key) - set(self._key_names)
        if extra and self._schema is not None:  # unknown: the names given may be part of the key
            raise PayloadError(
                f"a delete key has only the key attributes {sorted(self._key_names)}, not {sorted(extra)}"
            )
        written = write_item(key, self._key_rules)
        self._enqueue(key, {"DeleteRequest": {"Key": written.attributes}}, written, DELETE_FRAME)

    def _enqueue(self, payload: Any, request: Dict[str, Any], written: WrittenItem, frame: int) -> None:
        key = key_of(written.attributes, self._key_names)
        # named by its number; its key values only when asked (keys are often personal data)
        record_id = f"item #{self._buffer.submitted + 1}"
        if self.log_exception_messages:
            record_id = f"{record_id} ({describe_key(key)})"
        if written.item_size > self.limits.max_item_bytes:
            raise PayloadError(
                f"{record_id} is {written.item_size} bytes as DynamoDB counts it, over the "
                f"{self.limits.item_limit_name}"
            )
        wire = written.wire_size + frame + SEPARATOR
        if self._dedupe:
            self._add(payload, request, wire, record_id=record_id, dedupe_key=key)
            return
        buffer = self._buffer
        with buffer.lock:  # never two writes of one key in a call, and none dropped
            if any(entry.order_key == key for entry in buffer.open):
                buffer.seal()
            self._add(payload, request, wire, record_id=record_id, order_key=key)

    def _item_limit(self) -> int:
        # Entries are measured on the wire; the 400 KB item limit is checked by _enqueue.
        return self.max_batch_bytes

    # -- sending ----------------------------------------------------------------------------

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        response = client.batch_write_item(
            RequestItems={self.dynamo_table_name: [entry.request for entry in entries]}
        )
        unprocessed = (response.get("UnprocessedItems") or {}).get(self.dynamo_table_name) or []
        if not unprocessed:
            return [None] * len(entries)
        names = self._key_names
        keys = set()
        for request in unprocessed:
            if "PutRequest" in request:
                keys.add(key_of(request["PutRequest"]["Item"], names))
            elif "DeleteRequest" in request:
                keys.add(key_of(request["DeleteRequest"]["Key"], names))
        results: List[Optional[ErrorInfo]] = []
        for entry in entries:
            body = entry.request.get("PutRequest", {}).get("Item") or entry.request["DeleteRequest"]["Key"]
            results.append(_UNPROCESSED if key_of(body, names) in keys else None)
        return results
