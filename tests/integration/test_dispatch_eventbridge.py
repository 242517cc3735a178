"""EventBridge dispatcher against the moto server: events are read back through a rule's SQS target."""

from __future__ import annotations

import datetime
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
    # The target queue takes messages up to 1 MiB: the events of the 1 MB tests are read back there.
    url = sqs.create_queue(
        QueueName=unique_name("orders-target"), Attributes={"MaximumMessageSize": "1048576"}
    )["QueueUrl"]
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
    detail = {"blob": "b" * 400_000}
    for _ in range(3):
        dispatcher.submit_payload(detail)  # ~400 KB each: 2 per call under 1 MB
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [2, 1]
    assert len(drain_queue(sqs, url)) == 3
    with pytest.raises(PayloadError, match="JSON object"):
        dispatcher.submit_payload("[1, 2]")


def _detail_of_entry_size(size: int, source: str, detail_type: str) -> str:
    """A JSON object detail whose PutEvents entry (Source + DetailType + Detail) is ``size`` bytes."""
    frame = len('{"blob":""}')
    return '{"blob":"' + "b" * (size - len(source) - len(detail_type) - frame) + '"}'


def test_a_900_kb_event_is_sent_in_one_putevents_call(boto3_session, endpoint_url, bus):
    """EventBridge takes entries up to 1 MB since 29 January 2026: a 900 KB event is no PayloadError."""
    name, sqs, url = bus
    injector = FaultInjector(boto3_session, "events", lambda call, n: OK)
    sent_bytes: list = []
    boto3_session.events.register(
        "before-send.eventbridge.PutEvents", lambda request, **_: sent_bytes.append(len(request.body))
    )
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.big", detail_type="Big")
    detail = _detail_of_entry_size(900 * 1024, "shop.big", "Big")
    dispatcher.submit_payload(detail)
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1]
    assert len(sent_bytes) == 1 and sent_bytes[0] > 900 * 1024  # the whole event went in that call
    (message,) = drain_queue(sqs, url)
    assert json.loads(message["Body"])["detail"] == json.loads(detail)


def test_an_entry_just_over_1_mb_is_refused_at_submit_with_the_limit_named(boto3_session, endpoint_url, bus):
    name, _, _ = bus
    injector = FaultInjector(boto3_session, "events", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.big", detail_type="Big")
    with pytest.raises(
        PayloadError, match=r"1048577 bytes, over the EventBridge PutEvents entry size limit \(1 MB"
    ):
        dispatcher.submit_payload(_detail_of_entry_size(1024 * 1024 + 1, "shop.big", "Big"))
    # Time counts 14 bytes: an entry at the limit without it is over with it.
    at_limit = _detail_of_entry_size(1024 * 1024, "shop.big", "Big")
    with pytest.raises(PayloadError, match="1048590 bytes"):
        dispatcher.submit_payload(at_limit, time=datetime.datetime(2026, 1, 29, tzinfo=datetime.UTC))
    dispatcher.submit_payload(at_limit)  # exactly the limit passes the submit and is sent
    dispatcher.flush_payloads()
    # (what comes back is moto's: its SQS target refuses the event, whose JSON envelope makes it
    # larger than the 1 MiB queue limit, as EventBridge's page notes an event always is)
    assert [c.entries for c in injector.calls] == [1]


def test_two_900_kb_events_take_a_call_each(boto3_session, endpoint_url, bus):
    """The request's entries in all stay within 1 MB: two 900 KB events are not put in one call."""
    name, sqs, url = bus
    injector = FaultInjector(boto3_session, "events", lambda call, n: OK)
    dispatcher = make(boto3_session, endpoint_url, name, source="shop.big", detail_type="Big")
    for _ in range(2):
        dispatcher.submit_payload(_detail_of_entry_size(900 * 1024, "shop.big", "Big"))
    assert dispatcher.flush_payloads() == []
    assert [c.entries for c in injector.calls] == [1, 1]
    assert len(drain_queue(sqs, url)) == 2
