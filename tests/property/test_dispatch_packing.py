"""Property: next-fit packing makes exactly the fewest calls any order-keeping packing can make."""

from __future__ import annotations

import boto3
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_batch import KinesisBatchDispatcher
from tests.faults import CannedNetwork, min_calls

SESSION = boto3.session.Session(
    aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
)
NETWORK = CannedNetwork(SESSION, "kinesis")
CLIENT = SESSION.client("kinesis")


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.one_of(st.integers(1, 40), st.integers(200, 600)), max_size=80),
    max_batch_size=st.integers(1, 25),
    max_batch_bytes=st.integers(602, 2500),
)
def test_calls_equal_the_lower_bound_and_order_is_kept(sizes, max_batch_size, max_batch_bytes):
    NETWORK.batches.clear()
    NETWORK.sent.clear()
    dispatcher = KinesisBatchDispatcher(
        "s", client=CLIENT, max_batch_size=max_batch_size, max_batch_bytes=max_batch_bytes
    )
    for index, size in enumerate(sizes):
        dispatcher.submit_payload(index.to_bytes(2, "big") + b"x" * (size - 1), partition_key="k")
    assert dispatcher.flush_payloads() == []
    measured = [size + 1 + 1 for size in sizes]  # data (2-byte index + size - 1) plus the 1-byte key
    assert len(NETWORK.batches) == min_calls(measured, max_batch_size, max_batch_bytes)
    assert [int.from_bytes(r["Data"][:2], "big") for r in NETWORK.sent] == list(range(len(sizes)))
    position = 0
    for count in NETWORK.batches:
        assert count <= max_batch_size
        assert sum(measured[position : position + count]) <= max_batch_bytes
        position += count
