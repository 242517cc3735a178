"""How the SQS event source mapping deletes what an invocation handled: DeleteMessageBatch, retried.

Example::

    deleted, failed = delete_batch(sqs, queue_url, messages, mapping.stats)
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Sequence, Tuple

from local_lambda.batch_outcomes import MappingStats

logger = logging.getLogger("lambda_batch.local_lambda.event_source")

#: The most entries one DeleteMessageBatch call takes.
SQS_DELETE_MAX = 10


def delete_batch(
    sqs: Any, queue_url: str, messages: Sequence[Dict[str, Any]], stats: MappingStats
) -> Tuple[List[str], List[str]]:
    """Delete ``messages`` (as received); return the ids deleted and the ids that could not be.

    10 a call; an entry that failed for a transient reason is tried again (3 attempts, backing
    off); a sender fault (an expired receipt handle...) is final. Calls and seconds go to ``stats``.
    """
    deleted: List[str] = []
    failed: List[str] = []
    for start in range(0, len(messages), SQS_DELETE_MAX):
        chunk = messages[start : start + SQS_DELETE_MAX]
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(chunk)
        ]
        for attempt in range(3):
            started = time.monotonic()
            try:
                response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
            except Exception as exc:
                stats.delete_calls += 1
                stats.delete_seconds += time.monotonic() - started
                logger.warning("DeleteMessageBatch failed (attempt %d): %s", attempt + 1, exc)
                response = {"Failed": [{"Id": entry["Id"], "SenderFault": False} for entry in entries]}
            else:
                stats.delete_calls += 1
                stats.delete_seconds += time.monotonic() - started
            failed_entries = {entry["Id"]: entry for entry in response.get("Failed", [])}
            for entry in entries:
                if entry["Id"] not in failed_entries:
                    deleted.append(chunk[int(entry["Id"])]["MessageId"])
            retry = [entry for entry in entries if entry["Id"] in failed_entries]
            permanent = [entry for entry in retry if failed_entries[entry["Id"]].get("SenderFault")]
            for entry in permanent:
                reason = failed_entries[entry["Id"]]
                message_id = chunk[int(entry["Id"])]["MessageId"]
                failed.append(message_id)
                logger.warning(
                    "could not delete message %s: %s %s",
                    message_id,
                    reason.get("Code", ""),
                    reason.get("Message", ""),
                )
            entries = [entry for entry in retry if not failed_entries[entry["Id"]].get("SenderFault")]
            if not entries:
                break
            time.sleep(0.05 * 2**attempt)
        for entry in entries:  # still failing after the last attempt
            message_id = chunk[int(entry["Id"])]["MessageId"]
            failed.append(message_id)
            logger.warning("could not delete message %s after 3 attempts", message_id)
    return deleted, failed
