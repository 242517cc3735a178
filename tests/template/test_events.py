"""Every events/*.json, run through the built functions against the stack on moto, does what is documented."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from botocore.exceptions import ClientError

from local_lambda.sqs_events import seed_sqs_event

from .conftest import EVENTS, drain, load_event

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COVERED = {
    "sqs-batch-all-success.json",
    "sqs-batch-with-failures.json",
    "sqs-fifo-batch.json",
    "sqs-malformed.json",
    "producer-standard.json",
    "producer-fifo.json",
    "producer-kinesis.json",
    "producer-invalid.json",
    # Kafka, EventBridge Pipes and KPL aggregated samples: tests/unit/test_processing_event_sources.py
    "kafka-msk.json",
    "kafka-self-managed.json",
    "kinesis-kpl-aggregated.json",
    "pipes-sqs.json",
    "pipes-kinesis.json",
    "pipes-dynamodb.json",
    "pipes-msk.json",
}


def release_in_flight(sqs: Any, event: Dict[str, Any]) -> None:
    """End the visibility timeout of the event's messages still in the queue (as a timeout would)."""
    queue_url = None
    for record in event["Records"]:
        queue_url = (
            queue_url or sqs.get_queue_url(QueueName=record["eventSourceARN"].rsplit(":", 1)[-1])["QueueUrl"]
        )
        try:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )
        except ClientError as exc:  # a deleted message: nothing to release
            assert exc.response["Error"]["Code"] in ("ReceiptHandleIsInvalid", "InvalidParameterValue"), exc


def test_every_sample_event_is_covered_by_a_test() -> None:
    assert {p.name for p in EVENTS.glob("*.json")} == COVERED


def test_events_are_shaped_as_sam_generate_event_makes_them() -> None:
    generated_keys = {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes",
        "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    for name in ("sqs-batch-all-success.json", "sqs-batch-with-failures.json", "sqs-fifo-batch.json"):
        for record in load_event(name)["Records"]:
            assert set(record) == generated_keys, name
            assert record["eventSource"] == "aws:sqs"


def job_counts(stack: Any, jobs: List[str]) -> Dict[str, int]:
    """The consumer's job counters (its effect) in the results table: job id -> times handled."""
    from demo.effects import read_job_counts

    return read_job_counts(stack.client("dynamodb"), stack.physical_id("ResultsTable"), jobs)


def test_all_success_batch_returns_and_leaves_nothing_behind(consumer, stack, sqs) -> None:
    event = seed_sqs_event(load_event("sqs-batch-all-success.json"), stack.queue_url("WorkQueue"), sqs)
    jobs = ["job-0", "job-1", "job-2"]  # the sample's ids (other tests may count them too: compare)
    counted = job_counts(stack, jobs)

    result = consumer.invoke(event)

    assert result.ok, result.error
    assert result.return_value == {"batchItemFailures": [], "processed": 3}
    # Nothing was deleted by the function itself: on success Lambda deletes the batch. The sample
    # consumer's visibility heartbeat reads the queue's VisibilityTimeout once per process (the
    # first batch of a cold start); a quick batch makes no other SQS call.
    sqs_calls = [c["operation"] for c in result.api_calls if c["service"] == "sqs"]
    assert sqs_calls in ([], ["GetQueueAttributes"]), sqs_calls
    # Its DynamoDB calls: a job counter per record (the handler's effect), and the idempotency
    # bookkeeping of the whole batch in a few calls, not two per record.
    dynamodb = [c["operation"] for c in result.api_calls if c["service"] == "dynamodb"]
    assert dynamodb.count("UpdateItem") == 3, dynamodb
    assert dynamodb.count("BatchGetItem") == 1 and len(dynamodb) - 3 <= 3, dynamodb
    # The same batch delivered again: completed within the hour, so no handler runs (no job counted
    # again) and it succeeds.
    again = consumer.invoke(event)
    assert again.ok and again.return_value == {"batchItemFailures": [], "processed": 3}
    assert [c["operation"] for c in again.api_calls if c["service"] == "dynamodb"] == ["BatchGetItem"]
    assert job_counts(stack, jobs) == {job: counted.get(job, 0) + 1 for job in jobs}
    for record in event["Records"]:  # what Lambda's event source mapping then does
        sqs.delete_message(QueueUrl=stack.queue_url("WorkQueue"), ReceiptHandle=record["receiptHandle"])
    assert drain(sqs, stack.queue_url("WorkQueue")) == []


def test_batch_with_failures_deletes_successes_and_returns_the_failures(consumer, stack, sqs) -> None:
    sample = load_event("sqs-batch-with-failures.json")
    event = seed_sqs_event(sample, stack.queue_url("WorkQueue"), sqs)
    ids = [r["messageId"] for r in event["Records"]]
    failing = {ids[1], ids[3]}  # the poison body and the body that is not JSON

    result = consumer.invoke(event)

    assert result.error_type == "SQSBatchProcessingError"
    assert "2 of 5 records failed" in result.error["errorMessage"]
    deletes = [c for c in result.api_calls if c["operation"] == "DeleteMessageBatch"]
    assert len(deletes) == 1 and deletes[0]["target"]["QueueUrl"] == stack.queue_url("WorkQueue")
    # Lambda returns the whole batch to the queue on an error: after the visibility timeout,
    # only the failures are left.
    release_in_flight(sqs, event)
    left = drain(sqs, stack.queue_url("WorkQueue"))
    assert {m["MessageId"] for m in left} == failing
    assert sorted(m["Body"] for m in left) == sorted(sample["Records"][i]["body"] for i in (1, 3))
    # Logs name the failed records and the reason, never their bodies.
    for message_id in failing:
        assert message_id in result.logs
    assert '"poison": true' not in result.logs and "Hello from SQS!" not in result.logs


def test_fifo_batch_returns_the_failed_group_from_its_failure_on_and_deletes_the_other_groups(
    consumer, stack, sqs
) -> None:
    queue_url = stack.queue_url("WorkFifoQueue")
    event = seed_sqs_event(load_event("sqs-fifo-batch.json"), queue_url, sqs)
    ids = [r["messageId"] for r in event["Records"]]

    result = consumer.invoke(event)

    assert result.error_type == "SQSBatchProcessingError"
    assert "2 of 4 records failed, 2 deleted" in result.error["errorMessage"]
    release_in_flight(sqs, event)
    left = drain(sqs, queue_url)
    # customer-1: order-1 succeeded and is gone, order-2 failed, order-3 goes back behind it (order
    # holds); customer-2's order-4 is handled and deleted (skip_group_on_error=True).
    assert [m["MessageId"] for m in left] == ids[1:3]


def test_malformed_event_is_an_error_and_deletes_nothing(consumer) -> None:
    result = consumer.invoke(load_event("sqs-malformed.json"))

    assert result.error_type == "MalformedEventError"
    assert "receiptHandle" in result.error["errorMessage"]
    assert result.api_calls == []


def test_producer_standard_request_arrives_in_queue_table_and_metrics(producer, stack, sqs) -> None:
    request = load_event("producer-standard.json")

    result = producer.invoke(request)

    assert result.ok, result.error
    out = result.return_value
    assert out["sent"] == {"sqs": 20, "dynamodb": 20, "cloudwatch": 2}
    assert out["unprocessed"] == {} and out["unprocessed_count"] == 0
    bodies = [json.loads(m["Body"]) for m in drain(sqs, stack.queue_url("WorkQueue"))]
    assert sorted(b["id"] for b in bodies) == [f"sample-standard-{i:05d}" for i in range(20)]
    assert sum(1 for b in bodies if b.get("poison")) == out["poison"] == 2
    table = stack.client("dynamodb").scan(TableName=stack.physical_id("ResultsTable"))["Items"]
    # (the table also holds the consumer's job counters, `<id>#handled`, which have no run_id)
    stored = {i["pk"]["S"] for i in table if i.get("run_id", {}).get("S") == "sample-standard"}
    assert stored == {f"sample-standard-{i:05d}" for i in range(20)}
    metrics = stack.client("cloudwatch").list_metrics(Namespace="LambdaBatch", MetricName="ItemsSent")[
        "Metrics"
    ]
    assert {d["Value"] for m in metrics for d in m["Dimensions"]} >= {"sqs", "dynamodb"}


def test_producer_fifo_request_keeps_groups(producer, stack, sqs) -> None:
    result = producer.invoke(load_event("producer-fifo.json"))

    assert result.ok, result.error
    assert result.return_value["sent"] == {"sqs": 12}
    messages = drain(sqs, stack.queue_url("WorkFifoQueue"))
    by_group: Dict[str, List[int]] = {}
    for message in messages:
        body = json.loads(message["Body"])
        by_group.setdefault(message["Attributes"]["MessageGroupId"], []).append(body["seq"])
    assert len(by_group) == 3
    assert sum(len(v) for v in by_group.values()) == 12


def test_producer_kinesis_request_puts_every_record_on_the_stream(producer, stack) -> None:
    result = producer.invoke(load_event("producer-kinesis.json"))

    assert result.ok, result.error
    assert result.return_value["sent"] == {"dynamodb": 30, "kinesis": 30}
    kinesis = stack.client("kinesis")
    stream = stack.physical_id("EventStream")
    seen = set()
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            body = json.loads(record["Data"])
            if body["run_id"] == "sample-kinesis":
                assert record["PartitionKey"] == body["id"]
                seen.add(body["id"])
    assert seen == {f"sample-kinesis-{i:05d}" for i in range(30)}


def test_producer_invalid_request_is_refused_before_anything_is_sent(producer) -> None:
    result = producer.invoke(load_event("producer-invalid.json"))

    assert result.error_type == "InvalidRequestError"
    assert "count" in result.error["errorMessage"]
    assert result.api_calls == []
