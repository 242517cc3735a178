"""`make demo --tenants N`: the standard queue as a fair queue, one noisy tenant and quiet ones; the
summary gives each tenant's receive delay (moto does not schedule by group: the fairness itself is
SQS's, the demo shows the measure)."""

from __future__ import annotations

import pytest

from demo.cli import format_summary
from demo.pipeline import DemoError, DemoOptions, run_demo
from demo.producer_events import producer_event


def test_each_wave_gives_the_noisy_tenant_the_rest_after_one_message_per_quiet_tenant() -> None:
    options = DemoOptions(messages=30, wave_size=10, tenants=3)
    assert producer_event(options, 0, 10, "r")["tenants"] == {"noisy": 8, "quiet-1": 1, "quiet-2": 1}
    assert producer_event(options, 2, 2, "r")["tenants"] == {"noisy": 1, "quiet-1": 1}  # a short last wave
    assert "tenants" not in producer_event(DemoOptions(), 0, 10, "r")


@pytest.mark.parametrize("options", [DemoOptions(tenants=1), DemoOptions(tenants=3, fifo=True)])
def test_tenants_are_refused_on_fifo_and_below_two(options) -> None:
    with pytest.raises(DemoError, match="--tenants"):
        options.check()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.realtime
def test_the_summary_gives_each_tenants_receive_delay(build_dir) -> None:
    options = DemoOptions(
        messages=20,
        poison_rate=0,
        wave_size=10,
        tenants=3,
        large_messages=0,
        slow_records=0,
        build_dir=build_dir,
        skip_build=True,
        targets=["sqs"],
        run_id="t-tenants",
        max_seconds=120,
    )
    result = run_demo(options)
    assert result.ok, format_summary(result)
    delays = result.counts.tenant_receive_delays
    assert {tenant: d["messages"] for tenant, d in delays.items()} == {
        "noisy": 16,
        "quiet-1": 2,
        "quiet-2": 2,
    }
    summary = format_summary(result)
    assert "tenant noisy" in summary and "tenant quiet-2" in summary and "receive delay" in summary
