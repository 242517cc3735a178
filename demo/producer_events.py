"""The producer's events of a run: the sample event, with each wave's count, poison rate and large messages.

Example::

    event = producer_event(DemoOptions(messages=120, wave_size=50), wave=2, count=20, run_id="demo00001")
    event["count"]   # 20
"""

from __future__ import annotations

import importlib.util
import json
import sys
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


def check_producer_request(options: DemoOptions) -> None:
    """:class:`DemoError` when the producer would refuse the run's first request (``--targets foo``...).

    The producer's own check (``functions/producer/request.py``), run here before anything is
    built or deployed; whether the stack has the Kinesis stream is the producer's to say later.
    """
    path = ROOT / "functions" / "producer" / "request.py"
    spec = importlib.util.spec_from_file_location("lambda_batch_demo_producer_request", path)
    if spec is None or spec.loader is None:
        raise DemoError(f"cannot load the producer's request rules from {path}")
    rules = sys.modules.get(spec.name)
    if rules is None:
        rules = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = rules  # a dataclass module must be registered while it runs
        spec.loader.exec_module(rules)
    event = producer_event(options, wave=0, count=min(options.messages, options.wave_size), run_id="check")
    try:
        rules.parse_request(event, set(rules.TARGETS))
    except rules.InvalidRequestError as exc:
        raise DemoError(f"the producer would refuse this run: {exc}") from None
