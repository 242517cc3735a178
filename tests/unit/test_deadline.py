"""Deadline: a monotonic point in time, read once from the Lambda context."""

from __future__ import annotations

import math
import time

from lambda_batch import Deadline
from tests.processing_events import FakeLambdaContext


def test_never_has_infinite_time_and_never_expires():
    deadline = Deadline.never()
    assert deadline.remaining() == math.inf
    assert deadline.at == math.inf
    assert not deadline.expired(margin=10**9)


def test_after_counts_down_and_expires_within_the_margin():
    deadline = Deadline.after(0.5)
    assert 0.3 < deadline.remaining() <= 0.5
    assert not deadline.expired()
    assert deadline.expired(margin=0.6)
    assert Deadline.after(-1).expired()
    assert Deadline.after(-1).remaining() < 0


def test_from_context_reads_the_remaining_time_once():
    class Counting(FakeLambdaContext):
        reads = 0

        def get_remaining_time_in_millis(self):
            Counting.reads += 1
            return super().get_remaining_time_in_millis()

    deadline = Deadline.from_context(Counting(remaining_ms=2000))
    for _ in range(5):
        assert 1.5 < deadline.remaining() <= 2.0
    assert Counting.reads == 1


def test_from_context_without_a_context_or_the_method_never_comes():
    assert Deadline.from_context(None).remaining() == math.inf
    assert Deadline.from_context(object()).remaining() == math.inf


def test_coerce_accepts_every_spelling():
    existing = Deadline.after(5)
    assert Deadline.coerce(existing) is existing
    assert Deadline.coerce(None).remaining() == math.inf
    assert 0.9 < Deadline.coerce(1).remaining() <= 1.0
    assert 2.5 < Deadline.coerce(FakeLambdaContext(remaining_ms=3000)).remaining() <= 3.0


def test_remaining_follows_the_monotonic_clock():
    deadline = Deadline.after(1.0)
    before = deadline.remaining()
    time.sleep(0.02)
    assert deadline.remaining() < before
    assert "remaining=" in repr(deadline)
