"""The consumer's rule for one SQS record, kept apart from Lambda so it is easy to test.

A record succeeds when its body is a JSON object without ``"poison": true``. It fails
(raises :class:`RecordRejectedError`) when:

* the body is not valid JSON, or is JSON but not an object;
* the object has ``"poison": true`` - the way the sample events and the producer mark
  a message that must fail every time and end in the dead-letter queue.

A record with ``"work_seconds": n`` (0 to 10) takes that long to handle, as slow work does: the
demo's slow records, which outlive the queue's visibility timeout and are kept invisible by the
processor's visibility heartbeat meanwhile.

Example::

    >>> handle_record({"messageId": "m-1", "body": '{"id": "job-1"}'})
    {'message_id': 'm-1', 'id': 'job-1'}
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict

#: The longest a record may work (the function's timeout is 20 s).
MAX_WORK_SECONDS = 10.0


class RecordRejectedError(Exception):
    """The record cannot be handled; the message says why, never what the body holds."""


def handle_record(record: Dict[str, Any]) -> Dict[str, Any]:
    """Decide one record: return a small summary, or raise :class:`RecordRejectedError`."""
    message_id = record.get("messageId")
    body = record.get("body")
    if not isinstance(body, str):
        raise RecordRejectedError(f"message {message_id}: body is missing")
    try:
        payload = json.loads(body)
    except ValueError:
        raise RecordRejectedError(f"message {message_id}: body is not JSON") from None
    if not isinstance(payload, dict):
        raise RecordRejectedError(f"message {message_id}: body is JSON but not an object")
    if payload.get("poison") is True:
        raise RecordRejectedError(f"message {message_id}: marked poison")
    work = payload.get("work_seconds")
    if isinstance(work, (int, float)) and not isinstance(work, bool) and work > 0:
        time.sleep(min(float(work), MAX_WORK_SECONDS))
    return {"message_id": message_id, "id": payload.get("id")}
