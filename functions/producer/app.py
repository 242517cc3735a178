"""ProducerFunction: sends what its request asks for through lambda_batch's dispatchers.

The request (see :mod:`request`) says how many items, to which targets, to the standard
or the FIFO work queue, and which share is poison. Each target gets every item:

* ``sqs``: the work queue (SQSBatchDispatcher / SQSFifoBatchDispatcher, SendMessageBatch);
* ``dynamodb``: the results table, one item per id (DynamoBatchDispatcher, BatchWriteItem);
* ``kinesis``: the event stream, partition key = item id (KinesisBatchDispatcher, PutRecords),
  when the stack was deployed with ``EnableKinesis=true``;
* ``cloudwatch``: one ``ItemsSent`` metric per target (CloudwatchBatchDispatcher, PutMetricData).

It returns what was sent and what was not (ids and reasons, never bodies)::

    {"run_id": "r1", "requested": 10, "queue": "standard", "poison": 2,
     "sent": {"sqs": 10, "dynamodb": 10, "cloudwatch": 2},
     "unprocessed": {}, "unprocessed_count": 0}

An invalid request raises ``InvalidRequestError`` before anything is sent.
Example event: ``events/producer-standard.json``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Dict, List, Set

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from request import ProducerRequest, parse_request

from lambda_batch import (
    CloudwatchBatchDispatcher,
    DynamoBatchDispatcher,
    KinesisBatchDispatcher,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)

logger = Logger()
metrics = Metrics()

#: Items written to the results table expire (DynamoDB TTL) after this many seconds.
ITEM_TTL_SECONDS = 86400


def deployed_targets() -> Set[str]:
    """The targets this stack has (kinesis only when EVENT_STREAM_NAME is set)."""
    targets = {"sqs", "dynamodb", "cloudwatch"}
    if os.environ.get("EVENT_STREAM_NAME"):
        targets.add("kinesis")
    return targets


def _details(dispatcher: Any) -> List[Dict[str, Any]]:
    """The dispatcher's unprocessed items as ids and reasons (no bodies)."""
    failures = []
    for failure in dispatcher.unprocessed_details:
        item = failure.item
        item_id = item.get("id") or item.get("pk") if isinstance(item, dict) else None
        failures.append(
            {
                "id": item_id or failure.record_id,
                "code": failure.code,
                "reason": failure.message,
                "retryable": failure.retryable,
            }
        )
    return failures


def _send_sqs(request: ProducerRequest, items: List[Dict[str, Any]], context: Any) -> Any:
    # Items too large for a message (request.large_count) go to the payload bucket; the
    # message carries an S3 pointer the consumer resolves (resolve_large_payloads=True).
    bucket = os.environ.get("PAYLOAD_BUCKET_NAME") or None
    if request.fifo:
        fifo = SQSFifoBatchDispatcher(
            os.environ["WORK_FIFO_QUEUE_URL"], context=context, large_payload_bucket=bucket
        )
        for index, item in enumerate(items):
            fifo.submit_payload(
                item,
                message_id=item["id"],
                message_group_id=request.message_group(index),
                message_deduplication_id=item["id"],
            )
        fifo.flush_payloads()
        return fifo
    standard = SQSBatchDispatcher(os.environ["WORK_QUEUE_URL"], context=context, large_payload_bucket=bucket)
    for item in items:
        # A tenant is the item's fair-queue message group: SQS shares the consumers among tenants.
        standard.submit_payload(item, message_id=item["id"], message_group_id=item.get("tenant"))
    standard.flush_payloads()
    return standard


def _send_dynamodb(items: List[Dict[str, Any]], context: Any) -> Any:
    table = DynamoBatchDispatcher(os.environ["RESULTS_TABLE_NAME"], partition_key="pk", context=context)
    expires_at = int(time.time()) + ITEM_TTL_SECONDS
    for item in items:
        table.submit_payload(
            {"pk": item["id"], "run_id": item["run_id"], "seq": item["seq"], "expires_at": expires_at}
        )
    table.flush_payloads()
    return table


def _send_kinesis(items: List[Dict[str, Any]], context: Any) -> Any:
    stream = KinesisBatchDispatcher(
        os.environ["EVENT_STREAM_NAME"], partition_key_identifier="id", context=context
    )
    for item in items:
        stream.submit_payload({k: v for k, v in item.items() if k != "padding"})  # under Kinesis's 1 MiB
    stream.flush_payloads()
    return stream


def _send_metrics(sent: Dict[str, int], context: Any) -> Any:
    cloudwatch = CloudwatchBatchDispatcher(os.environ["POWERTOOLS_METRICS_NAMESPACE"], context=context)
    for target, count in sent.items():
        cloudwatch.submit_metric(
            metric_name="ItemsSent",
            value=count,
            unit="Count",
            dimensions=[{"Name": "Target", "Value": target}],
        )
    cloudwatch.flush_payloads()
    return cloudwatch


@metrics.log_metrics
@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    """Send the request's items to its targets; return the counts and the unprocessed ids."""
    request = parse_request(
        event, deployed_targets(), default_run_id=getattr(context, "aws_request_id", "run")
    )
    items = request.items()
    logger.info(
        "producing",
        extra={
            "run_id": request.run_id,
            "count": request.count,
            "targets": list(request.targets),
            "fifo": request.fifo,
        },
    )
    sent: Dict[str, int] = {}
    unprocessed: Dict[str, List[Dict[str, Any]]] = {}

    def record(target: str, dispatcher: Any, submitted: int) -> None:
        failures = _details(dispatcher)
        sent[target] = submitted - len(failures)
        if failures:
            unprocessed[target] = failures
            logger.error(
                "items not sent",
                extra={"target": target, "count": len(failures), "ids": [f["id"] for f in failures][:20]},
            )
        metrics.add_metric(name=f"{target}ItemsSent", unit=MetricUnit.Count, value=sent[target])

    if "sqs" in request.targets:
        record("sqs", _send_sqs(request, items, context), len(items))
    if "dynamodb" in request.targets:
        record("dynamodb", _send_dynamodb(items, context), len(items))
    if "kinesis" in request.targets:
        record("kinesis", _send_kinesis(items, context), len(items))
    if "cloudwatch" in request.targets:
        counts = dict(sent)
        record("cloudwatch", _send_metrics(counts or {"none": 0}, context), len(counts or {"none": 0}))

    total_unprocessed = sum(len(v) for v in unprocessed.values())
    logger.info("produced", extra={"run_id": request.run_id, "sent": sent, "unprocessed": total_unprocessed})
    return {
        "run_id": request.run_id,
        "requested": request.count,
        "queue": "fifo" if request.fifo else "standard",
        "poison": len(request.poison_ids()) if "sqs" in request.targets else 0,
        "sent": sent,
        "unprocessed": unprocessed,
        "unprocessed_count": total_unprocessed,
    }
