"""Splitting within the attempt budget, and the waves of ordered mode."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from lambda_batch.engine.delivery import split_parts
from lambda_batch.engine.packing import next_wave


@given(st.integers(2, 500), st.integers(1, 10))
def test_split_parts_reach_single_entries_within_the_budget(count, budget):
    entries = list(range(count))
    parts = split_parts(entries, budget)
    assert [x for part in parts for x in part] == entries  # in order, nothing lost or repeated
    assert len(parts) >= 2 and all(parts)
    # the largest part, split again the same way, is alone after the remaining budget
    levels, size = 1, max(len(p) for p in parts)
    while size > 1:
        size = max(len(p) for p in split_parts(list(range(size)), budget - levels))
        levels += 1
    assert levels <= max(budget, 1) or len(parts) == count


@given(st.lists(st.sampled_from(["a", "b", "c", None]), max_size=40))
def test_a_wave_holds_the_earliest_entry_of_each_key(keys):
    entries = [SimpleNamespace(order_key=key, seq=i) for i, key in enumerate(keys)]
    wave, rest = next_wave(entries)
    assert sorted(e.seq for e in wave + rest) == list(range(len(keys)))
    wave_keys = [e.order_key for e in wave if e.order_key is not None]
    assert len(wave_keys) == len(set(wave_keys))
    for entry in rest:
        first = next(e for e in entries if e.order_key == entry.order_key)
        assert first in wave and first.seq < entry.seq
