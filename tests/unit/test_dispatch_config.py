"""Dispatcher options: limits enforced with clear errors, nothing sent at construction."""

from __future__ import annotations

import pytest

from lambda_batch import (
    CloudwatchBatchDispatcher,
    ConfigurationError,
    DynamoBatchDispatcher,
    EventBridgeBatchDispatcher,
    FirehoseBatchDispatcher,
    KinesisBatchDispatcher,
    SNSBatchDispatcher,
    SQSBatchDispatcher,
    SQSFifoBatchDispatcher,
)
from lambda_batch.core.limits import SERVICE_LIMITS

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"

FACTORIES = {
    "sqs": lambda **kw: SQSBatchDispatcher("jobs", **kw),
    "sns": lambda **kw: SNSBatchDispatcher(TOPIC, **kw),
    "kinesis": lambda **kw: KinesisBatchDispatcher("stream", **kw),
    "firehose": lambda **kw: FirehoseBatchDispatcher("delivery", **kw),
    "dynamodb": lambda **kw: DynamoBatchDispatcher("table", partition_key="pk", **kw),
    "cloudwatch": lambda **kw: CloudwatchBatchDispatcher("Shop", **kw),
    "events": lambda **kw: EventBridgeBatchDispatcher("bus", **kw),
}


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_max_batch_size_above_the_service_limit_is_refused(service):
    limit = SERVICE_LIMITS[service].max_entries
    assert FACTORIES[service](max_batch_size=limit).max_batch_size == limit
    with pytest.raises(ConfigurationError, match=rf"limit of {limit} entries"):
        FACTORIES[service](max_batch_size=limit + 1)
    with pytest.raises(ConfigurationError, match="positive integer"):
        FACTORIES[service](max_batch_size=0)


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_max_batch_bytes_above_the_service_limit_is_refused(service):
    limit = SERVICE_LIMITS[service].max_batch_bytes
    with pytest.raises(ConfigurationError, match=rf"limit of {limit} bytes"):
        FACTORIES[service](max_batch_bytes=limit + 1)


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_construction_makes_no_aws_call(service, boto3_session):
    calls = []
    boto3_session.events.register("before-call", lambda **kw: calls.append(kw["model"].name))
    dispatcher = FACTORIES[service](boto3_session=boto3_session, region_name="us-east-1")
    assert calls == []
    assert dispatcher.flush_payloads() == []  # nothing buffered: nothing sent
    assert calls == []


def test_limits_table_matches_the_documented_figures():
    figures = {
        name: (limits.max_entries, limits.max_batch_bytes, limits.max_item_bytes)
        for name, limits in SERVICE_LIMITS.items()
    }
    assert figures == {
        "sqs": (10, 1_048_576, 1_048_576),
        "sns": (10, 1_048_576, 262_144),  # the default; the topic's MaximumMessageSize up to 1 MiB
        "kinesis": (500, 10_485_760, 1_048_576),
        "firehose": (500, 4_194_304, 1_024_000),
        "dynamodb": (25, 16_777_216, 409_600),
        "cloudwatch": (1000, 1_000_000, 1_000_000),
        "events": (10, 1_048_576, 1_048_576),  # 1 MB since 29 January 2026
    }
    assert all(limits.source.startswith("https://docs.aws.amazon.com/") for limits in SERVICE_LIMITS.values())


def test_queue_kind_must_match_the_dispatcher():
    with pytest.raises(ConfigurationError, match="SQSFifoBatchDispatcher"):
        SQSBatchDispatcher("orders.fifo")
    with pytest.raises(ConfigurationError, match="SQSBatchDispatcher"):
        SQSFifoBatchDispatcher("orders")
    with pytest.raises(ConfigurationError, match="not an ARN"):
        SQSBatchDispatcher("arn:broken")


def test_bad_options_are_refused():
    with pytest.raises(ConfigurationError, match="max_workers"):
        SQSBatchDispatcher("jobs", max_workers=0)
    with pytest.raises(ConfigurationError, match="retry_policy"):
        SQSBatchDispatcher("jobs", retry_policy={"max_attempts": 3})
    with pytest.raises(ConfigurationError, match="reserved"):
        EventBridgeBatchDispatcher(source="aws.orders")
    with pytest.raises(ConfigurationError, match="reserved"):
        CloudwatchBatchDispatcher("AWS/Lambda")
    with pytest.raises(ConfigurationError, match="record_delimiter"):
        FirehoseBatchDispatcher("d", record_delimiter="\n")


def test_region_comes_from_an_arn():
    dispatcher = SQSBatchDispatcher("arn:aws:sqs:eu-west-3:123456789012:jobs")
    assert dispatcher.queue_url == "https://sqs.eu-west-3.amazonaws.com/123456789012/jobs"
    assert dispatcher.client.meta.region_name == "eu-west-3"
    kinesis = KinesisBatchDispatcher("arn:aws:kinesis:ap-south-1:123456789012:stream/clicks")
    assert kinesis.client.meta.region_name == "ap-south-1"


def test_default_client_leaves_retrying_to_the_dispatcher():
    client = KinesisBatchDispatcher("s", region_name="us-east-1", max_workers=16).client
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.config.max_pool_connections == 16


def test_public_names_are_exported():
    import lambda_batch

    assert lambda_batch.UnprocessedItem.__name__ == "UnprocessedItem"
    assert lambda_batch.DispatcherStats().calls == 0
