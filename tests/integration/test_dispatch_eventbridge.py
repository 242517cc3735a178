"""EventBridge dispatcher against the moto server: events are read back through a rule's SQS target."""

from __future__ import annotations

import json

import pytest

from lambda_batch import EventBridgeBatchDispatcher, PayloadError
from tests.faults import OK, Fault, FaultInjector, drain_queue, fast_policy, queue_arn

pytestmark = pytest.mark.integration


@pytest.fixture()
def bus(aws_client, unique_name):
    events = aws_client("events")
    sqs = aws_client("sqs")
    name = unique_name("orders-bus")
    events.create_event_bus(Name=name)
    url = sqs.create_queue(QueueName=unique_name("orders-target"))["QueueUrl"]
    rule = unique_name("all")
    events.put_rule(Name=rule, EventBusName=name, EventPattern=json.dumps({"source": [{"prefix": "shop"}]}))
    events.put_targets(Rule=rule, EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn(sqs, url)}])
    yield name, sqs, url
    sqs.delete_queue(QueueUrl=url)


def make(boto3_session, endpoint_url, name, **kwargs):
    kwargs.setdefault("retry_policy", fast_policy())
    return EventBridgeBatchDispatcher(
        name, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1", **kwargs
    )


def test_events_reach_the_rule_target(boto3_session, endpoint_url, bus):
    name, sqs, url = bus
    injector = FaultInjector(boto3_session, "events", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.orders", detail_type="OrderPlaced")
    for i in range(12):
        dispatcher.submit_payload({"order": i})
    dispatcher.submit_payload(
        '{"order": 99}', source="shop.refunds", detail_type="Refund", resources=["arn:x"]
    )
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [10, 3]
    events = [json.loads(m["Body"]) for m in drain_queue(sqs, url)]
    assert sorted(e["detail"]["order"] for e in events) == [*range(12), 99]
    refund = next(e for e in events if e["detail"]["order"] == 99)
    assert (refund["source"], refund["detail-type"], refund["resources"]) == (
        "shop.refunds",
        "Refund",
        ["arn:x"],
    )


def test_failed_entries_retry_or_come_back(boto3_session, endpoint_url, bus):
    name, sqs, url = bus
    plan = {0: Fault("partial", {0: True, 2: False})}
    FaultInjector(boto3_session, "events", lambda call, n: plan.get(call, OK))
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.orders")
    payloads = [{"order": i} for i in range(3)]
    for payload in payloads:
        dispatcher.submit_payload(payload)
    failed = dispatcher.flush_payloads()
    assert failed == [payloads[2]] and failed[0] is payloads[2]
    assert dispatcher.unprocessed_details[0].code == "MalformedDetail"
    assert sorted(json.loads(m["Body"])["detail"]["order"] for m in drain_queue(sqs, url)) == [0, 1]


def test_entries_are_sized_by_the_putevents_formula(boto3_session, endpoint_url, bus):
    name, sqs, url = bus
    injector = FaultInjector(boto3_session, "events", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.big", detail_type="Big")
    detail = {"blob": "b" * 100_000}
    for _ in range(3):
        dispatcher.submit_payload(detail)  # ~100 KB each: 2 per call under 256 KiB
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [2, 1]
    assert len(drain_queue(sqs, url)) == 3
    with pytest.raises(PayloadError, match="JSON object"):
        dispatcher.submit_payload("[1, 2]")
