"""The reference stack's producer sends to a fair queue: an item's tenant becomes its MessageGroupId."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

pytestmark = pytest.mark.integration


def test_each_tenant_is_the_message_group_of_its_items(producer, stack, sqs, unique_name) -> None:
    # ``sqs``: the stack's work queues emptied first (the worker's other tests share its stack)
    run_id = unique_name("tenants")
    result = producer.invoke(
        {"count": 6, "targets": ["sqs"], "run_id": run_id, "tenants": {"noisy": 4, "quiet": 2}}
    )
    assert result.error is None, result.error
    assert (result.return_value["sent"], result.return_value["unprocessed_count"]) == ({"sqs": 6}, 0)
    url = stack.queue_url("WorkQueue")
    groups: Dict[str, Any] = {}
    for _ in range(30):
        if len(groups) == 6:
            break
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageGroupId"]
        ).get("Messages", []):
            try:
                body = json.loads(message["Body"])
            except ValueError:  # not a producer's item
                body = None
            if isinstance(body, dict) and body.get("run_id") == run_id:
                groups[body["id"]] = (body["tenant"], message.get("Attributes", {}).get("MessageGroupId"))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:  # another test's message: visible again at once
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    assert sorted(groups.values()) == [("noisy", "noisy")] * 4 + [("quiet", "quiet")] * 2
