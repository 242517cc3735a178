"""ConsumerFunction: handles each SQS record of a batch on its own.

Fed by the work queues (standard and FIFO) through Lambda event source mappings.
Records are handled by lambda_batch's `sqs_batch_processor`:

* every record succeeds: the handler returns and Lambda deletes the batch;
* some fail: the successes are deleted at once with `sqs:DeleteMessageBatch` and
  `SQSBatchProcessingError` is raised, so only the failures return to the queue
  (and, after the queue's maxReceiveCount, go to its dead-letter queue);
* from the FIFO queue (`skip_group_on_error=True`), a failure returns only the later
  records of its message group; the other groups' records are still handled and deleted;
* the event is malformed (no `Records`, a record without `messageId`,
  `receiptHandle` or `eventSourceARN`...): `MalformedEventError` is raised before
  anything is handled or deleted - never a silent success.

Which records fail is decided by `record_rules.handle_record` (a body that is not a
JSON object, or one with `"poison": true`). Logs carry message ids and reasons, never
bodies; metrics (`RecordsSucceeded`, `RecordsFailed`) go out as CloudWatch EMF.

A failed message comes back after a delay that doubles with each receive (`retry_delay`:
1, 2, 4... seconds, at most a minute) instead of every 150 s (the queues' VisibilityTimeout):
the role's `sqs:ChangeMessageVisibility`. A slow record (`"work_seconds"`) is kept invisible
while it is handled (`extend_visibility`: a heartbeat from the queue's VisibilityTimeout, read
with the `sqs:GetQueueAttributes` the event source already needs), so it is not delivered
twice. Each batch also prints one EMF document of its own
(`metrics_namespace`: `<MetricsNamespace>/Batches`, beside Powertools' documents in
`<MetricsNamespace>`): records succeeded, failed and skipped, the batch's duration and its
delete and visibility calls.

Each record is handled once, however often it is delivered (`idempotency`: the stack's
IdempotencyTable, from `IDEMPOTENCY_TABLE_NAME`): a message delivered twice, or a batch handed to two
pollers at once, runs its handler once; the second delivery counts as succeeded (completed within the
hour) or, while the first still runs, as failed, so it comes back later. The bookkeeping costs one
`BatchGetItem` per batch and a few batched writes, not two calls per record. The handler's effect is a
counter per job in the results table (`RESULTS_TABLE_NAME`, item `<id>#handled`, `handled` added
1 by `UpdateItem`): what a duplicate would double, and what the demo reads back.

Example event: `events/sqs-batch-with-failures.json`.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Dict

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from record_rules import RecordRejectedError, handle_record

from lambda_batch import Idempotency, RetryDelay, sqs_batch_processor

logger = Logger()
metrics = Metrics()

#: The namespace of the layer's per-batch EMF documents (Powertools' own stay in the parent one).
BATCH_METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "LambdaBatch") + "/Batches"
#: The only bucket a large payload's S3 pointer may name (the stack's PayloadBucket); a pointer to
#: any other bucket fails its record, unread. Without it, pointers are not resolved at all.
PAYLOAD_BUCKETS = [name for name in [os.environ.get("PAYLOAD_BUCKET_NAME")] if name] or None
#: A failed message comes back after 1 s, then 2, 4, 8... at most 60 s (no jitter: the demo shows them).
RETRY_DELAY = RetryDelay(initial_seconds=1, max_seconds=60, multiplier=2.0, jitter=False)
#: Each record handled once (the stack's IdempotencyTable): its key is the record's messageId.
IDEMPOTENCY = Idempotency(os.environ["IDEMPOTENCY_TABLE_NAME"])
#: Where each job handled is counted (the effect a duplicate would double); unset: nothing counted.
RESULTS_TABLE_NAME = os.environ.get("RESULTS_TABLE_NAME")
#: The job counters expire with the producer's items (a day).
#: The longest job id counted under its own name (a partition key takes 2,048 bytes; 4 per character).
MAX_JOB_ID_LENGTH = 500
JOB_COUNT_TTL_SECONDS = 24 * 3600


@functools.lru_cache(maxsize=1)
def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


def count_job(job_id: str) -> None:
    """The handler's effect: add 1 to `handled` of the item `<job_id>#handled` in the results table."""
    if RESULTS_TABLE_NAME is None:
        return
    _dynamodb().update_item(
        TableName=RESULTS_TABLE_NAME,
        Key={"pk": {"S": f"{job_id}#handled"}},
        UpdateExpression="ADD handled :one SET expires_at = :expires",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":expires": {"N": str(int(time.time()) + JOB_COUNT_TTL_SECONDS)},
        },
    )


def record_handler(record: Dict[str, Any]) -> Dict[str, Any]:
    """Handle one SQS record; raise to have it returned to the queue."""
    message_id = record.get("messageId")
    try:
        result = handle_record(record)
    except RecordRejectedError as exc:
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("record rejected", extra={"message_id": message_id, "reason": str(exc)})
        raise
    # The job's own id (a body field: hostile, so bounded to a key DynamoDB takes), else the message's.
    job = result.get("id")
    count_job(job if isinstance(job, str) and 0 < len(job) <= MAX_JOB_ID_LENGTH else str(message_id))
    metrics.add_metric(name="RecordsSucceeded", unit=MetricUnit.Count, value=1)
    logger.debug("record handled", extra={"message_id": message_id})
    return result


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
# FIFO queue: a failed record returns only the later records of its own message group (their
# order holds); the other groups' records are handled and deleted. Stopping the whole batch at
# the first failure would return every later record of every group, and each return counts as a
# receive: after the queue's maxReceiveCount, good messages would be moved to the DLQ.
# A message whose payload the producer sent through the payload bucket (an S3 pointer) reaches
# record_handler with the payload as its body; its object is deleted once the message is. Only
# the stack's payload bucket is read (PAYLOAD_BUCKET_NAME), as the function's own account.
# A record already handled (a duplicate delivery) is not handled again (IDEMPOTENCY).
@sqs_batch_processor(
    record_handler=record_handler,
    skip_group_on_error=True,
    resolve_large_payloads=PAYLOAD_BUCKETS is not None,
    large_payload_buckets=PAYLOAD_BUCKETS,
    delete_large_payloads=PAYLOAD_BUCKETS is not None,
    retry_delay=RETRY_DELAY,
    extend_visibility=True,
    metrics_namespace=BATCH_METRICS_NAMESPACE,
    idempotency=IDEMPOTENCY,
)
def lambda_handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    """Reached only when every record succeeded (the decorator raises otherwise)."""
    count = len(event["Records"])
    logger.info("batch handled", extra={"records": count})
    return {"batchItemFailures": [], "processed": count}
