"""The idempotency table, as Powertools for AWS Lambda lays it out: one read, one claim, one write-back.

An item per idempotency key, with Powertools' attribute names: ``id`` (the key), ``status``
(``INPROGRESS`` or ``COMPLETED``), ``expiration`` (epoch seconds: the item counts until then, and
DynamoDB's TTL removes it after), ``in_progress_expiration`` (epoch milliseconds: an
``INPROGRESS`` claim counts until then), ``data`` (the handler's result as JSON) and
``validation`` (left alone). For a whole batch, in as few calls as DynamoDB allows:

- `IdempotencyTable.read`: BatchGetItem, 100 keys a call, strongly consistent, the
  ``UnprocessedKeys`` read again;
- `IdempotencyTable.claim`: TransactWriteItems, 100 conditional puts a call, on
  Powertools' condition (no item, an expired item, or an expired ``INPROGRESS`` claim). A
  cancelled transaction's ``CancellationReasons`` say which keys lost (their items come back with
  it); the others are claimed again in a new transaction. A ``ClientRequestToken`` makes a retry
  after a lost response harmless;
- `IdempotencyTable.write_back`: completed items put and failed claims deleted with
  BatchWriteItem, 25 a call, on the one batching engine (``UnprocessedItems`` retried).

Every call runs under the retry policy and the deadline, on clients with botocore's retries off;
none starts within the policy's ``deadline_margin`` of the deadline.

Example:
    ```python
    table = IdempotencyTable("idempotency", clients, DEFAULT_RETRY_POLICY)
    items, unread = table.read(["fn.handler#0cc1..."], deadline)
    ```
"""

from __future__ import annotations

import logging
import uuid

from ...core import client_config
from ...core.error_rules import CANCELLATION_LOST, CANCELLATION_RETRY, DYNAMODB_CANCELLATION_REASONS
from ...core.limits import DYNAMODB_BATCH_GET_LIMITS, DYNAMODB_TRANSACT_WRITE_LIMITS, SERVICE_LIMITS
from ...core.retry import ErrorInfo
from ...engine.dispatcher import BaseDispatcher

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

    from ...core.clients import ClientProvider
    from ...core.deadline import Deadline
    from ...core.retry import RetryPolicy
    from ...core.unprocessed import UnprocessedItem
    from ...engine.packing import Entry

    Item = Dict[str, Any]  # an item in DynamoDB's JSON ({"S": ...}, {"N": ...})

#: Powertools' attribute names and status values (``DynamoDBPersistenceLayer``, ``STATUS_CONSTANTS``).
KEY = "id"
EXPIRATION = "expiration"
IN_PROGRESS_EXPIRATION = "in_progress_expiration"
STATUS = "status"
DATA = "data"
INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"

#: What an item says of its key now (`state_of`).
FREE = "free"  # no item, or an expired one: the key may be claimed
DONE = "completed"
BUSY = "in-progress"
INVALID = "invalid"

#: Powertools' claim condition (``DynamoDBPersistenceLayer._put_record``).
CLAIM_CONDITION = (
    "attribute_not_exists(#id) OR #expiry < :now OR (#status = :inprogress"
    " AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)"
)
CLAIM_NAMES = {
    "#id": KEY,
    "#expiry": EXPIRATION,
    "#in_progress_expiry": IN_PROGRESS_EXPIRATION,
    "#status": STATUS,
}

_UNPROCESSED = ErrorInfo("UnprocessedItems", "DynamoDB returned the write unprocessed", True)

logger = logging.getLogger("lambda_batch.processing")


def _number(item: Item, name: str) -> Optional[int]:
    value = item.get(name)
    if not isinstance(value, dict) or "N" not in value:
        return None
    try:
        return int(float(value["N"]))
    except (TypeError, ValueError, OverflowError):
        return None


def state_of(item: Optional[Item], now_seconds: int, now_millis: int) -> str:
    """What ``item`` says of its key at ``now``: `FREE`, `DONE`, `BUSY` or
    `INVALID` (read as Powertools reads it: an item counts until ``expiration``, an
    ``INPROGRESS`` claim until ``in_progress_expiration`` when it has one).

    >>> state_of({"status": {"S": "COMPLETED"}, "expiration": {"N": "20"}}, 10, 10_000)
    'completed'
    """
    if item is None:
        return FREE
    expiration = _number(item, EXPIRATION)
    status = item.get(STATUS, {}).get("S") if isinstance(item.get(STATUS), dict) else None
    if expiration is None or status not in (INPROGRESS, COMPLETED):
        return INVALID
    if expiration < now_seconds:
        return FREE
    if status == COMPLETED:
        return DONE
    claim_end = _number(item, IN_PROGRESS_EXPIRATION)
    if claim_end is not None and claim_end < now_millis:
        return FREE
    return BUSY


def stored_data(item: Item) -> Optional[str]:
    """The ``data`` of a completed item (the handler's result as JSON), ``None`` when absent."""
    value = item.get(DATA)
    return value.get("S") if isinstance(value, dict) and isinstance(value.get("S"), str) else None


def chunks[T](values: Sequence[T], size: int) -> List[Sequence[T]]:
    """``values`` cut into runs of at most ``size``."""
    return [values[start : start + size] for start in range(0, len(values), size)]


class IdempotencyTable:
    """The reads, claims and write-backs of one table (see the module's docstring).

    ``clients`` hands out the DynamoDB clients (botocore's retries off); ``policy`` is the one
    retry loop; ``calls`` counts the calls made (retries included). ``write_workers`` bounds the
    BatchWriteItem calls in flight.
    """

    def __init__(
        self,
        table_name: str,
        clients: ClientProvider,
        policy: RetryPolicy,
        *,
        region: Optional[str] = None,
        write_workers: int = 4,
    ) -> None:
        self.table_name = table_name
        self.clients = clients
        self.policy = policy
        self.region = region
        self.write_workers = write_workers
        self.calls = 0

    # -- the shared parts of a call ---------------------------------------------------

    def _client(self, deadline: Deadline) -> Any:
        """A client whose connect and read timeouts end before the deadline's margin."""
        remaining = deadline.remaining()
        if remaining == float("inf"):
            return self.clients.get(self.region)
        timeout = client_config.timeout_bucket(
            client_config.call_timeout(remaining, self.policy.deadline_margin)
        )
        return self.clients.get(self.region, timeout)

    def _startable(self, deadline: Deadline) -> bool:
        return not deadline.expired(self.policy.deadline_margin)

    def _again(self, attempt: int, deadline: Deadline) -> bool:
        """After failed attempt ``attempt``: wait and say True when another may start."""
        delay = self.policy.backoff(attempt)
        if not self.policy.can_retry(attempt, delay, deadline):
            return False
        self.policy.sleep(delay)
        return True

    def _call(self, deadline: Deadline, method: str, **request: Any) -> Any:
        self.calls += 1
        return getattr(self._client(deadline), method)(**request)

    # -- reading -----------------------------------------------------------------------

    def read(self, keys: Sequence[str], deadline: Deadline) -> Tuple[Dict[str, Item], Dict[str, ErrorInfo]]:
        """The items of ``keys`` that exist (by key), and the keys not read with why.

        BatchGetItem, 100 keys a call, ``ConsistentRead``; ``UnprocessedKeys`` are read again
        under the retry policy; a call that fails for good leaves its keys unread.
        """
        found: Dict[str, Item] = {}
        unread: Dict[str, ErrorInfo] = {}
        for part in chunks(list(keys), DYNAMODB_BATCH_GET_LIMITS.max_entries):
            self._read_part(list(part), deadline, found, unread)
        return found, unread

    def _read_part(
        self, pending: List[str], deadline: Deadline, found: Dict[str, Item], unread: Dict[str, ErrorInfo]
    ) -> None:
        table = self.table_name
        attempt = 0
        error = ErrorInfo("DeadlineExceeded", "not read: the deadline is near", True)
        while pending:
            attempt += 1
            if not self._startable(deadline):
                break
            request = {table: {"Keys": [{KEY: {"S": key}} for key in pending], "ConsistentRead": True}}
            try:
                response = self._call(deadline, "batch_get_item", RequestItems=request)
            except Exception as exc:
                error = self.policy.classify(exc)
                if error.retryable and self._again(attempt, deadline):
                    continue
                break
            pending = _read_response(response, table, found)
            error = ErrorInfo("UnprocessedKeys", "DynamoDB returned the keys unread", True)
            if pending and not self._again(attempt, deadline):
                break
        for key in pending:
            unread[key] = error

    # -- claiming ----------------------------------------------------------------------

    def claim(
        self, items: Sequence[Tuple[str, Item]], now_seconds: int, now_millis: int, deadline: Deadline
    ) -> Dict[str, Any]:
        """Claim each ``(key, item)`` on Powertools' condition; by key: ``None`` (claimed), the
        `Lost` the key was lost to, or the `lambda_batch.core.retry.ErrorInfo` of a
        claim not made (or not known to be made: a call whose answer was lost)."""
        values = {
            ":now": {"N": str(now_seconds)},
            ":now_in_millis": {"N": str(now_millis)},
            ":inprogress": {"S": INPROGRESS},
        }
        results: Dict[str, Any] = {}
        for part in chunks(list(items), DYNAMODB_TRANSACT_WRITE_LIMITS.max_entries):
            self._claim_part(list(part), values, deadline, results)
        return results

    def _claim_part(
        self, pending: List[Tuple[str, Item]], values: Item, deadline: Deadline, results: Dict[str, Any]
    ) -> None:
        attempt = 0
        token = uuid.uuid4().hex  # the same request under the same token: DynamoDB applies it once
        error = ErrorInfo("DeadlineExceeded", "not claimed: the deadline is near", True)
        while pending:
            attempt += 1
            if not self._startable(deadline):
                break
            actions = [self._put(item, values) for _, item in pending]
            try:
                self._call(deadline, "transact_write_items", TransactItems=actions, ClientRequestToken=token)
            except Exception as exc:
                reasons = _cancellation_reasons(exc, len(pending))
                if reasons is None:
                    error = self.policy.classify(exc)
                    if error.retryable and self._again(attempt, deadline):
                        continue
                    break
                pending, error, only_lost = _settle_cancelled(pending, reasons, results)
                if pending:
                    token = uuid.uuid4().hex  # another request: another token
                if only_lost:  # the condition losers are out: the rest goes again at once
                    attempt -= 1
                elif pending and not self._again(attempt, deadline):
                    break
                continue
            for key, _ in pending:
                results[key] = None
            pending = []
        for key, _ in pending:
            results[key] = error

    def _put(self, item: Item, values: Item) -> Item:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": item,
                "ConditionExpression": CLAIM_CONDITION,
                "ExpressionAttributeNames": CLAIM_NAMES,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    # -- writing back ------------------------------------------------------------------

    def write_back(
        self, puts: Sequence[Tuple[str, Item]], deletes: Sequence[Tuple[str, str]], deadline: Deadline
    ) -> List[UnprocessedItem]:
        """Put the completed items and delete the released keys (``(record id, item or key)``);
        the writes not made, each with its record id and reason."""
        if not puts and not deletes:
            return []
        needed = -(-(len(puts) + len(deletes)) // SERVICE_LIMITS["dynamodb"].max_entries)
        writes = TableWrites(
            self.table_name,
            clients=self.clients,
            retry_policy=self.policy,
            deadline=deadline,
            max_workers=max(1, min(self.write_workers, needed)),
            region=self.region,
        )
        try:
            for record_id, item in puts:
                writes.put(record_id, item)
            for record_id, key in deletes:
                writes.delete(record_id, key)
            writes.flush_payloads()
            return writes.unprocessed_details
        finally:
            writes.close()
            self.calls += writes.stats.calls


def _read_response(response: Any, table: str, found: Dict[str, Item]) -> List[str]:
    """Keep the items a BatchGetItem returned (by key); the keys it handed back unread."""
    for item in (response.get("Responses") or {}).get(table) or ():
        key = (item.get(KEY) or {}).get("S")
        if isinstance(key, str):
            found[key] = item
    left = ((response.get("UnprocessedKeys") or {}).get(table) or {}).get("Keys") or ()
    return [entry[KEY]["S"] for entry in left]


class Lost:
    """A claim lost to another writer: the item it found (``None`` when DynamoDB did not return it)."""

    __slots__ = ("item",)

    def __init__(self, item: Optional[Item]) -> None:
        self.item = item


def _cancellation_reasons(exc: BaseException, count: int) -> Optional[List[str]]:
    """The reason codes of a cancelled transaction (one per action), ``None`` for another error."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    if (response.get("Error") or {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = response.get("CancellationReasons")
    if not isinstance(reasons, list) or len(reasons) != count:
        return ["None"] * count  # no per-action reasons: every action goes again
    return [reason if isinstance(reason, dict) else {} for reason in reasons]  # type: ignore[misc]


def _settle_cancelled(
    pending: List[Tuple[str, Item]], reasons: List[Any], results: Dict[str, Any]
) -> Tuple[List[Tuple[str, Item]], ErrorInfo, bool]:
    """Sort a cancelled transaction's actions: the lost keys and the refused ones into
    ``results``; the rest to claim again, the error they carry, and whether only losers cancelled it."""
    again: List[Tuple[str, Item]] = []
    only_lost = len(reasons) > 0
    error = ErrorInfo("TransactionCanceledException", "the transaction was cancelled", True)
    for (key, item), reason in zip(pending, reasons, strict=True):
        code = str(reason.get("Code") or "None") if isinstance(reason, dict) else str(reason)
        kind = DYNAMODB_CANCELLATION_REASONS.get(code)
        if kind == CANCELLATION_LOST:
            old = reason.get("Item") if isinstance(reason, dict) else None
            results[key] = Lost(old if isinstance(old, dict) else None)
        elif kind == CANCELLATION_RETRY:
            again.append((key, item))
            if code != "None":
                only_lost = False
                error = ErrorInfo(code, str(reason.get("Message") or code), True)
        else:
            results[key] = ErrorInfo(code, "the claim was refused", False)
    if len(again) == len(pending):  # nobody lost, nothing refused: no progress without waiting
        only_lost = False
    return again, error, only_lost


class TableWrites(BaseDispatcher):
    """BatchWriteItem on the idempotency table: puts and deletes, 25 a call, through the engine.

    Each write is submitted with the record id it belongs to; what is not written comes back
    from `flush_payloads` (the record ids) with `unprocessed_details`.

    Example:
        ```python
        with TableWrites("idempotency", deadline=context) as writes:
            writes.put("m-1", {"id": {"S": "fn.h#0cc1..."}, "status": {"S": "COMPLETED"}, ...})
        writes.unprocessed_details
        ```
    """

    _failure_log_level = logging.DEBUG  # the feature reports what was not written, by record id

    def __init__(self, table_name: str, **options: Any) -> None:
        limits = SERVICE_LIMITS["dynamodb"]
        super().__init__("dynamodb", limits, max_batch_size=limits.max_entries, **options)
        self.table_name = table_name
        self.target_description = f"DynamoDB table {table_name} (idempotency)"

    def put(self, record_id: str, item: Item) -> None:
        """Write ``item`` (DynamoDB JSON) whole."""
        key = item[KEY]["S"]
        self._add(record_id, {"PutRequest": {"Item": item}}, _size(item), record_id=record_id, order_key=key)

    def delete(self, record_id: str, key: str) -> None:
        """Delete the item of ``key``."""
        self._add(
            record_id,
            {"DeleteRequest": {"Key": {KEY: {"S": key}}}},
            len(key) + 8,
            record_id=record_id,
            order_key=key,
        )

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        table = self.table_name
        response = client.batch_write_item(RequestItems={table: [entry.request for entry in entries]})
        left: Set[str] = set()
        for request in (response.get("UnprocessedItems") or {}).get(table) or ():
            body = (
                request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key") or {}
            )
            key = (body.get(KEY) or {}).get("S")
            if isinstance(key, str):
                left.add(key)
        return [_UNPROCESSED if entry.order_key in left else None for entry in entries]


def _size(item: Item) -> int:
    """An item's size as DynamoDB counts it, near enough for packing: names plus values."""
    total = 0
    for name, value in item.items():
        total += len(name.encode()) + sum(len(str(part).encode()) for part in value.values())
    return total


__all__ = [
    "BUSY",
    "COMPLETED",
    "DONE",
    "FREE",
    "INPROGRESS",
    "INVALID",
    "IdempotencyTable",
    "Lost",
    "TableWrites",
    "state_of",
    "stored_data",
]
