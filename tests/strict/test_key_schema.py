"""The DynamoDB dispatcher and the table's real key (issue 15 point 5).

Told only the partition key of a table that also has a sort key, the dispatcher must not
take items that share a partition key for writes of one item: all of them are stored.
"""

from __future__ import annotations

import pytest

from lambda_batch import DynamoBatchDispatcher
from tests.strict.resources import REGION, create_table, no_wait_policy, scan_all

pytestmark = pytest.mark.integration


def test_told_only_the_partition_key_of_a_pk_sk_table_stores_every_item(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    table = create_table(dynamodb_direct, unique_name("schema"), {"pk": "S", "sk": "N"})
    dispatcher = DynamoBatchDispatcher(
        table,
        partition_key="pk",  # the sort key is not given
        boto3_session=boto3_session,
        endpoint_url=dynamo_proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
    )
    items = [{"pk": "order-1", "sk": line, "qty": line * 2} for line in range(5)]
    for item in items:
        dispatcher.submit_payload(item)
    assert dispatcher.flush_payloads() == [], [d.code for d in dispatcher.unprocessed_details]
    stored = sorted(int(item["sk"]["N"]) for item in scan_all(dynamodb_direct, table))
    assert stored == [0, 1, 2, 3, 4]
    assert dispatcher.stats.superseded == 0
    assert dispatcher.stats.entries_sent == 5


def test_two_writes_of_one_full_key_in_a_batch_keep_the_last(
    boto3_session, dynamo_proxy, dynamodb_direct, unique_name
):
    """DynamoDB refuses two writes of one key in a call: the later write replaces the earlier."""
    table = create_table(dynamodb_direct, unique_name("schema"), {"pk": "S", "sk": "N"})
    dispatcher = DynamoBatchDispatcher(
        table,
        partition_key="pk",
        boto3_session=boto3_session,
        endpoint_url=dynamo_proxy.endpoint_url,
        region_name=REGION,
        retry_policy=no_wait_policy(),
    )
    dispatcher.submit_payload({"pk": "a", "sk": 1, "v": "first"})
    dispatcher.submit_payload({"pk": "a", "sk": 1, "v": "second"})
    dispatcher.submit_payload({"pk": "a", "sk": 2, "v": "other"})
    assert dispatcher.flush_payloads() == [], [d.code for d in dispatcher.unprocessed_details]
    stored = {int(i["sk"]["N"]): i["v"]["S"] for i in scan_all(dynamodb_direct, table)}
    assert stored == {1: "second", 2: "other"}
