"""`make demo` with large messages: sent through the payload bucket, followed by the ledger like the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.ledger import Ledger, is_pointer, item_of
from demo.pipeline import DemoError, DemoOptions, run_demo

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

ROOT = Path(__file__).resolve().parents[2]


def test_large_messages_are_processed_or_dead_lettered_and_accounted_for(build_dir) -> None:
    # 20 items, 4 large (items 4, 9, 14, 19) and 2 poison (9, 19): two large messages end in the DLQ
    options = DemoOptions(
        messages=20,
        poison_rate=0.1,
        large_messages=4,
        wave_size=20,
        visibility_timeout=1,
        build_dir=build_dir,
        skip_build=True,
        targets=["sqs"],
        run_id="t-large",
        max_seconds=120,
    )
    result = run_demo(options)
    counts = result.counts
    assert counts.large_sent == 4
    assert counts.large_in_dlq == 2 and counts.large_processed == 2
    assert counts.dlq_item_ids == ["t-large-w000-00009", "t-large-w000-00019"]  # read back through S3
    assert counts.good_in_dlq == 0 and counts.lost == 0
    assert result.ok
    producer = result.producer_calls.by_operation
    assert sum(calls for op, calls in producer.items() if op.startswith("s3:")) >= 4  # one PutObject each


def test_ledger_reads_pointer_bodies_through_the_resolver() -> None:
    pointer = '["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "b", "s3Key": "k"}]'
    assert is_pointer(pointer) and not is_pointer('{"id": "x"}')
    assert item_of(pointer) == (None, False)
    assert item_of(pointer, lambda body: '{"id": "big-1", "poison": true}') == ("big-1", True)
    assert item_of(pointer, lambda body: None) == (None, False)
    ledger = Ledger("http://h/1/q", resolve=lambda body: '{"id": "big-1"}')
    ledger._sent("m-1", pointer)
    assert ledger.messages["m-1"].large and ledger.messages["m-1"].item_id == "big-1"


def test_large_messages_option_is_checked() -> None:
    with pytest.raises(DemoError, match="--large-messages"):
        DemoOptions(messages=2, large_messages=3).check()
