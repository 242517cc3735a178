"""Batch-aware idempotency: each record's effects once, at a few DynamoDB calls per batch.

``idempotency=Idempotency(table_name)`` on any processor keeps, in a DynamoDB table laid out as
Powertools for AWS Lambda's idempotency utility lays it out
(`lambda_batch.processing.features.idempotency_table`), which record keys were handled. For
each batch, before any record runs:

1. every record's key is worked out: by default the record's own id (an SQS ``messageId``, a
   stream record's ``eventID``, a KPL user record's ``eventID#subSequenceNumber``, a Kafka
   record's ``topic-partition@offset``), or ``key(record)`` for a business key; a record whose
   key is the same as an earlier record's of the batch comes back later (it fails, as in
   progress);
2. the keys are read in one BatchGetItem per 100 keys. A record completed within the window
   (``expires_after_seconds``) is not handled again: it succeeds, with the result stored then. A
   record in progress elsewhere (a claim that has not expired) fails with
   `RecordInProgressError`, so that it comes back later and is never handled twice;
3. the other keys are claimed with TransactWriteItems (100 conditional puts a call). A claim
   expires with the invocation's deadline (the Lambda context's remaining time), so the records
   of a crashed invocation run again after it;
4. the claimed records are handled; once they are done (before the response is built), the
   succeeded ones are marked completed (expiring ``expires_after_seconds`` from then, with the
   handler's result in ``data`` as Powertools stores it, unless ``store_results=False`` or it
   does not fit DynamoDB's 400 KB) and the claims of the failed ones (and of records held back)
   are deleted so that their retry runs: BatchWriteItem, 25 a call.

A record whose bookkeeping could not be done (the table unreadable, a claim not made, ``key``
raising) fails with `IdempotencyError`: it is never handled without its claim. Every call
runs under the retry policy and the deadline, botocore's retries off. FIFO queues and ordered
streams keep their rules: a record skipped as completed holds nothing back; a record in progress
elsewhere holds back its message group (or the batch) like a failure. Logs name record ids,
never keys or bodies.

The function's role needs ``dynamodb:BatchGetItem``, ``dynamodb:PutItem`` (which authorizes the
puts of a TransactWriteItems) and ``dynamodb:BatchWriteItem`` on the table.

Example:
    ```python
    from lambda_batch import BatchProcessor, EventType, Idempotency, process_partial_response

    processor = BatchProcessor(EventType.SQS, idempotency=Idempotency("idempotency"))

    def lambda_handler(event, context):
        return process_partial_response(event, record_handler, processor, context)
    ```
"""

from __future__ import annotations

import json
import time

from ...core.limits import SERVICE_LIMITS
from ...errors import IdempotencyError, RecordInProgressError
from ..base import SUCCESS
from .hooks import Feature
from .idempotency_options import encode_json, own_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from ..batch import Batch, Outcome
    from .idempotency_options import Idempotency
    from .idempotency_table import IdempotencyTable, Item

_MAX_ITEM_BYTES = SERVICE_LIMITS["dynamodb"].max_item_bytes


def _failure(error: Exception) -> Tuple[bool, Any]:
    return (False, (type(error), error, None))


class _BatchClaims:
    """One batch's bookkeeping: the claimed keys by position, and how to find a record's position."""

    __slots__ = ("by_id", "by_identity", "claimed", "finished", "preset")

    def __init__(self, preset: Dict[int, Tuple[bool, Any]]) -> None:
        self.claimed: Dict[int, str] = {}
        self.preset = preset
        self.by_identity: Dict[int, int] = {}
        self.by_id: Dict[str, int] = {}
        self.finished = False

    def locate(self, record: Any) -> Optional[int]:
        """The position of ``record`` (the event's record, or a copy made for the handler)."""
        position = self.by_identity.get(id(record))
        if position is None:
            rid = own_id(record)
            position = self.by_id.get(rid) if rid is not None else None
        return position


class IdempotencyFeature(Feature):
    """``idempotency=``: the batch read and claimed in ``start``, written back in ``before_response``
    (or ``after_batch`` when the ``with`` block raised). ``wall_clock`` is the clock of the
    table's times (epoch seconds): a hook for tests."""

    def __init__(self, options: Idempotency, *, logger: Any) -> None:
        self.options = options
        self.logger = logger
        self.wall_clock: Callable[[], float] = time.time
        self._table: Optional[IdempotencyTable] = None
        self._claims: Optional[_BatchClaims] = None
        self._converters: Dict[int, Any] = {}

    @property
    def table(self) -> IdempotencyTable:
        """The table's reads and writes (made on first need)."""
        if self._table is None:
            from .idempotency_table import IdempotencyTable

            options = self.options
            self._table = IdempotencyTable(options.table_name, options.clients, options.retry_policy)
        return self._table

    # -- start: read, then claim ---------------------------------------------------------

    def start(self, batch: Batch, outcome: Outcome) -> None:
        claims = self._claims = _BatchClaims(outcome.preset)
        keyed = self._keys(batch, outcome)
        if not keyed:
            return
        table = self.table
        calls = table.calls
        try:
            self._read_and_claim(batch, outcome, keyed, claims)
        except Exception as exc:  # never a record handled unclaimed
            self.logger.error("idempotency: the table was not read or claimed: %s", type(exc).__name__)
            for position in keyed.values():
                if position not in outcome.preset:
                    outcome.preset[position] = _failure(
                        IdempotencyError(f"record {batch.ids[position]} not claimed: {type(exc).__name__}")
                    )
            claims.claimed.clear()
        finally:
            outcome.count("IdempotencyCalls", table.calls - calls)
        if outcome.preset:
            records = batch.records
            if isinstance(records, list):
                claims.by_identity = {id(record): index for index, record in enumerate(records)}
            claims.by_id = {rid: index for index, rid in enumerate(_own_ids(batch)) if rid is not None}

    def _keys(self, batch: Batch, outcome: Outcome) -> Dict[str, int]:
        """Each record's table key -> its position (the first of the batch with it); the later
        records of a key, and those whose key could not be made, preset to fail."""
        options = self.options
        make = self._handler_object(batch) if options.key is not None else None
        keyed: Dict[str, int] = {}
        ids = batch.ids
        unkeyed: List[str] = []
        for position, record in enumerate(batch.records):
            try:
                data = own_id(record, ids[position]) if make is None else options.key(make(record))  # type: ignore[misc]
                if data is None or data in ("", [], {}):
                    unkeyed.append(ids[position])
                    continue
                key = options.key_of(data)
            except Exception as exc:
                outcome.preset[position] = _failure(
                    IdempotencyError(
                        f"record {ids[position]}: its idempotency key was not made: {type(exc).__name__}"
                    )
                )
                continue
            first = keyed.setdefault(key, position)
            if first != position:
                outcome.preset[position] = _failure(
                    RecordInProgressError(
                        f"record {ids[position]} has the key of record {ids[first]}, earlier in the batch"
                    )
                )
        if unkeyed:
            self.logger.warning(
                "idempotency: %d records have no key and are handled without idempotency: %s",
                len(unkeyed),
                ", ".join(map(str, unkeyed[:10])),
            )
        return keyed

    def _handler_object(self, batch: Batch) -> Callable[[Any], Any]:
        """What makes the object the handler receives from a record of ``batch`` (for ``key``)."""
        make = batch.make_record
        if make is not None:
            return make
        model = batch.options.model
        if model is None:
            return lambda record: record
        convert = self._converters.get(id(model))
        if convert is None:
            from ..events.record import make_converter

            convert = self._converters[id(model)] = make_converter(model)
        return convert if convert is not None else (lambda record: record)

    def _read_and_claim(
        self, batch: Batch, outcome: Outcome, keyed: Dict[str, int], claims: _BatchClaims
    ) -> None:
        from .idempotency_table import BUSY, DONE, FREE

        table, preset, ids = self.table, outcome.preset, batch.ids
        deadline = batch.deadline
        now = self.wall_clock()
        found, unread = table.read(list(keyed), deadline)
        to_claim: List[Tuple[str, Item]] = []
        for key, position in keyed.items():
            if key in unread:
                preset[position] = _failure(
                    IdempotencyError(f"record {ids[position]} not read: {unread[key].code}")
                )
                continue
            state = self._state(found.get(key), now)
            if state == FREE:
                to_claim.append((key, self._claim_item(key, batch, now)))
            else:
                preset[position] = self._settled(batch, position, state, found[key])
        if not to_claim:
            self._log_presets(batch, outcome)
            return
        results = table.claim(to_claim, int(now), int(now * 1000), deadline)
        from .idempotency_table import Lost

        for key, _ in to_claim:
            position = keyed[key]
            result = results.get(key)
            if result is None:
                claims.claimed[position] = key
            elif isinstance(result, Lost):
                state = BUSY if result.item is None else self._state(result.item, now)
                preset[position] = self._settled(
                    batch, position, DONE if state == DONE else BUSY, result.item
                )
            else:
                preset[position] = _failure(
                    IdempotencyError(f"record {ids[position]} not claimed: {result.code}")
                )
        self._log_presets(batch, outcome)

    def _state(self, item: Optional[Item], now: float) -> str:
        from .idempotency_table import state_of

        return state_of(item, int(now), int(now * 1000))

    def _settled(self, batch: Batch, position: int, state: str, item: Optional[Item]) -> Tuple[bool, Any]:
        """The preset outcome of a record whose key another delivery holds or completed."""
        from .idempotency_table import DONE, INVALID, stored_data

        rid = batch.ids[position]
        if state == DONE:
            data = stored_data(item) if item is not None else None
            try:
                return (True, json.loads(data) if data else None)
            except ValueError:
                return (True, None)
        if state == INVALID:
            return _failure(
                IdempotencyError(f"record {rid}: its idempotency item is not one Powertools reads")
            )
        return _failure(RecordInProgressError(f"record {rid} is in progress elsewhere: it comes back later"))

    def _claim_item(self, key: str, batch: Batch, now: float) -> Item:
        """An ``INPROGRESS`` claim of ``key``, expiring with the invocation (when it has a deadline)."""
        from .idempotency_table import EXPIRATION, IN_PROGRESS_EXPIRATION, INPROGRESS, KEY, STATUS

        item: Item = {
            KEY: {"S": key},
            STATUS: {"S": INPROGRESS},
            EXPIRATION: {"N": str(int(now) + self.options.expires_after_seconds)},
        }
        remaining = batch.deadline.remaining()
        if remaining != float("inf"):
            item[IN_PROGRESS_EXPIRATION] = {"N": str(int((now + max(0.0, remaining)) * 1000))}
        return item

    def _log_presets(self, batch: Batch, outcome: Outcome) -> None:
        done = [index for index, (succeeded, _) in outcome.preset.items() if succeeded]
        busy = [index for index, (succeeded, _) in outcome.preset.items() if not succeeded]
        if done:
            outcome.count("IdempotencyCompleted", len(done))
            self.logger.info("idempotency: %d records already completed, not handled again", len(done))
        if busy:
            outcome.count("IdempotencyNotClaimed", len(busy))
            self.logger.warning(
                "idempotency: %d records not handled (in progress elsewhere, or not claimed): %s",
                len(busy),
                ", ".join(str(batch.ids[index]) for index in sorted(busy)[:10]),
            )

    # -- each record -----------------------------------------------------------------------

    def wrap(self, call: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Records with a preset outcome never reach the handler, whatever the run mode."""
        claims = self._claims
        if claims is None or not claims.preset:
            return call
        preset, locate = claims.preset, claims.locate

        def guarded(record: Any) -> Any:
            position = locate(record)
            if position is not None and position in preset:
                succeeded, value = preset[position]
                if succeeded:
                    return value
                raise value[1]
            return call(record)

        return guarded

    # -- the end: completed or released ------------------------------------------------------

    def before_response(self, batch: Batch, outcome: Outcome) -> None:
        self._finish(batch, outcome)

    def after_batch(self, batch: Batch, outcome: Outcome) -> None:
        self._finish(batch, outcome)  # the ``with`` block raised: before_response did not run

    def _finish(self, batch: Batch, outcome: Outcome) -> None:
        claims = self._claims
        if claims is None or claims.finished or not claims.claimed:
            return
        claims.finished = True
        results = outcome.results or []
        now = self.wall_clock()
        puts: List[Tuple[str, Item]] = []
        deletes: List[Tuple[str, str]] = []
        oversized: List[str] = []
        for position, key in claims.claimed.items():
            entry = results[position] if position < len(results) else None
            rid = str(batch.ids[position])
            if isinstance(entry, tuple) and entry and entry[0] == SUCCESS:
                item, fits = self._completed_item(key, entry[1], now)
                if not fits:
                    oversized.append(rid)
                puts.append((rid, item))
            else:
                deletes.append((rid, key))
        if oversized:
            self.logger.warning(
                "idempotency: the results of %d records were not stored (not JSON, or over DynamoDB's"
                " item size): %s",
                len(oversized),
                ", ".join(oversized[:10]),
            )
        table = self.table
        calls = table.calls
        try:
            not_written = table.write_back(puts, deletes, batch.deadline)
        except Exception as exc:  # never let the write-back hide the batch's outcome
            self.logger.error("idempotency: the completions were not written: %s", type(exc).__name__)
            return
        finally:
            outcome.count("IdempotencyCalls", table.calls - calls)
        self._log_not_written(not_written, {rid for rid, _ in puts})

    def _completed_item(self, key: str, result: Any, now: float) -> Tuple[Item, bool]:
        """The ``COMPLETED`` item of ``key`` with the result in ``data`` (when asked, and it fits)."""
        from .idempotency_table import DATA, EXPIRATION, KEY, STATUS

        item: Item = {
            KEY: {"S": key},
            STATUS: {"S": "COMPLETED"},
            EXPIRATION: {"N": str(int(now) + self.options.expires_after_seconds)},
        }
        if not self.options.store_results:
            return item, True
        try:
            data = json.dumps(result, sort_keys=True, default=encode_json)
        except (TypeError, ValueError):
            return item, False
        if len(data.encode()) + len(key.encode()) + 64 > _MAX_ITEM_BYTES:
            return item, False
        item[DATA] = {"S": data}
        return item, True

    def _log_not_written(self, not_written: List[Any], completions: Any) -> None:
        for failure in not_written:
            rid = str(failure.item)
            if rid in completions:
                self.logger.error(
                    "idempotency: record %s succeeded but was not marked completed: %s; a delivery"
                    " of it after its claim expires runs it again",
                    rid,
                    failure.code,
                )
            else:
                self.logger.warning(
                    "idempotency: the claim of failed record %s was not released: %s; it runs again"
                    " once the claim expires",
                    rid,
                    failure.code,
                )


def _own_ids(batch: Batch) -> List[Optional[str]]:
    ids = batch.ids
    return [own_id(record, ids[index]) for index, record in enumerate(batch.records)]


__all__ = ["IdempotencyFeature"]
