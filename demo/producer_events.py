"""The producer's events of a run: the sample event, with each wave's count, poison rate and large messages.

Example::

    event = producer_event(DemoOptions(messages=120, wave_size=50), wave=2, count=20, run_id="demo00001")
    event["count"]   # 20
"""

from __future__ import annotations

import json
from typing import Any, Dict

from demo.pipeline import ROOT, DemoError, DemoOptions


def producer_event(options: DemoOptions, wave: int, count: int, run_id: str) -> Dict[str, Any]:
    """The sample producer event (``events/producer-<queue>.json``) with this wave's count and poison rate."""
    sample = ROOT / "events" / ("producer-fifo.json" if options.fifo else "producer-standard.json")
    try:
        event: Dict[str, Any] = json.loads(sample.read_text())
    except (OSError, ValueError) as exc:
        raise DemoError(f"cannot read the sample event {sample}: {exc}") from exc
    event.update(count=count, poison_rate=options.poison_rate, run_id=f"{run_id}-w{wave:03d}")
    # The first waves carry the large messages (every wave but the last has wave_size items).
    large = min(count, max(0, options.large_messages - wave * options.wave_size))
    if large:
        event["large_count"] = large
    if wave == 0 and options.slow_records:  # the slow records go out with the first wave
        event["slow_count"] = min(count, options.slow_records)
        event["work_seconds"] = options.work_seconds
    event["queue"] = "fifo" if options.fifo else "standard"
    if options.fifo:
        event["message_groups"] = options.message_groups
    elif options.tenants:
        quiet = min(options.tenants - 1, count - 1)  # the noisy tenant's messages go first
        event["tenants"] = {"noisy": count - quiet, **{f"quiet-{n}": 1 for n in range(1, quiet + 1)}}
    if options.targets is not None:
        event["targets"] = list(options.targets)
    return event
