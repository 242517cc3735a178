"""S3 DeleteObjects of large payload objects, as a thin user of the one delivery engine.

The objects of processed records (``delete_large_payloads``) and of messages finally not
sent (``large_payload_bucket``) are deleted in calls of up to 1,000 keys
(``limits.S3_DELETE_OBJECTS_LIMITS``). The engine (``engine.delivery``) retries
whole calls and the keys the response lists in ``Errors`` when their code is worth
retrying, under the one retry policy, with timeouts that end before the deadline; calls
start until the deadline itself (an object left behind only waits for the bucket's lifecycle
rule). What is not deleted comes back, key by key, with its error code.

Example:
    ```python
    deletes = ObjectDeletes(
        "payload-bucket", clients=ClientProvider("s3"), deadline=context
    )
    for key in keys:
        deletes.delete(key)
    not_deleted = deletes.run()  # UnprocessedItem per key, with its code
    ```
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

from ..core.limits import S3_DELETE_OBJECTS_LIMITS
from ..core.retry import ErrorInfo, is_retryable_code
from ..core.unprocessed import UnprocessedItem
from ..engine.dispatcher import BaseDispatcher
from ..engine.packing import Entry

__all__ = ["ObjectDeletes", "key_results"]


class ObjectDeletes(BaseDispatcher):
    """Deletes objects of one bucket with DeleteObjects (``Quiet``: only the failures come back)."""

    #: A late delete is still worth making: calls start until the deadline itself.
    _start_margin = 0.0
    #: The callers log what was not deleted, in one line.
    _failure_log_level = logging.DEBUG

    def __init__(self, bucket: str, *, expected_owner: Optional[str] = None, **options: Any) -> None:
        limits = S3_DELETE_OBJECTS_LIMITS
        super().__init__("s3", limits, max_batch_size=limits.max_entries, **options)
        self.bucket = bucket
        self.expected_owner = expected_owner  # sent as ExpectedBucketOwner when given
        self.target_description = f"S3 bucket {bucket} (DeleteObjects)"

    def delete(self, key: str) -> None:
        """Delete one object (in a call with up to 999 others).

        Logs name it by position (``item #n``); by its key with ``log_exception_messages=True``
        (a key may be chosen by a message's sender).
        """
        rid = f"s3://{self.bucket}/{key}" if self.log_exception_messages else None
        self._add(key, {"Key": key}, len(key.encode("utf-8")), record_id=rid)

    def _send(self, client: Any, entries: Sequence[Entry]) -> List[Optional[ErrorInfo]]:
        params: Dict[str, Any] = {
            "Bucket": self.bucket,
            "Delete": {"Objects": [entry.request for entry in entries], "Quiet": True},
        }
        if self.expected_owner is not None:
            params["ExpectedBucketOwner"] = self.expected_owner
        response = client.delete_objects(**params)
        return key_results([entry.request["Key"] for entry in entries], response)

    def run(self) -> List[UnprocessedItem]:
        """Make the calls for what was submitted; return the objects not deleted, each with its reason."""
        self.flush_payloads()
        return self.unprocessed_details


def key_results(keys: Sequence[str], response: Dict[str, Any]) -> List[Optional[ErrorInfo]]:
    """Per-key results of a ``Quiet`` DeleteObjects response: the keys in ``Errors`` failed (retryably
    when their code says so); the others were deleted.

    Example:
        ```python
        response = {"Errors": [{"Key": "b", "Code": "InternalError"}]}
        key_results(["a", "b"], response)[1].retryable  # True
        ```
    """
    errors = {str(item.get("Key")): item for item in response.get("Errors") or ()}
    results: List[Optional[ErrorInfo]] = []
    for key in keys:
        error = errors.get(key)
        if error is None:
            results.append(None)
            continue
        code = str(error.get("Code") or "Error")
        results.append(ErrorInfo(code, str(error.get("Message") or code), is_retryable_code(code)))
    return results
