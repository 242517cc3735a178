"""`make demo` shows the consumer's SQS options: poison messages come back after growing retry
delays, a slow record is delivered once, and the consumer's EMF documents add up to the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.cli import format_summary
from demo.pipeline import DemoOptions, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

ROOT = Path(__file__).resolve().parents[2]


def test_retry_delays_slow_records_and_batch_metrics(build_dir) -> None:
    options = DemoOptions(
        messages=12,
        poison_rate=0.25,
        wave_size=12,
        visibility_timeout=2,
        large_messages=0,
        slow_records=1,
        work_seconds=4.5,
        build_dir=build_dir,
        skip_build=True,
        targets=["sqs"],
        run_id="t-opts",
        max_seconds=120,
        # Counts one to one with the ledger: no duplicate deliveries here (tests/demo/test_demo.py
        # has them), which succeed or fail again in documents of their own.
        duplicates=0,
        concurrent_batches=0,
    )
    result = run_demo(options)
    counts = result.counts
    assert result.ok, format_summary(result)
    assert counts.poison_sent == 3

    # The consumer's RetryDelay(initial_seconds=1, multiplier=2, jitter=False): a poison message
    # comes back about 1 s after its batch ended, then about 2 s (the queue alone: 2 s each time;
    # a poison message in the slow record's batch waits for that batch to end first: the
    # heartbeat keeps it invisible until its delay is set).
    assert set(counts.poison_receive_gaps) == set(counts.poison_item_ids)
    for item, gaps in counts.poison_receive_gaps.items():
        assert len(gaps) == 2, (item, gaps)
        assert gaps[0] >= 0.6 and 1.6 <= gaps[1] <= 3.6, (item, gaps)
    assert any(gaps[0] < gaps[1] for gaps in counts.poison_receive_gaps.values()), counts.poison_receive_gaps

    # 4.5 s of work on a 2 s queue: kept invisible, delivered once.
    assert counts.slow_sent == 1 and counts.slow_deliveries == 1

    # The EMF documents the consumer printed, summed: one per batch, counts matching the ledger.
    m = result.batch_metrics
    assert result.batch_documents == result.invocations["consumer"]
    assert m["RecordsSucceeded"] == counts.processed == 9
    assert m["RecordsFailed"] == 3 * 3  # each poison message failed at each of its 3 receives
    assert m["DeleteCalls"] == result.consumer_calls.by_operation.get("sqs:DeleteMessageBatch", 0)
    assert m["VisibilityCalls"] == result.consumer_calls.by_operation.get(
        "sqs:ChangeMessageVisibilityBatch", 0
    )
    assert m["VisibilityCalls"] >= 2 + 1  # the retry delays of the poison batches, and heartbeats
    summary = format_summary(result)
    assert "came back after" in summary and "EMF documents" in summary and "slow records" in summary
