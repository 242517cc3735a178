"""How the demo counts API calls: per role on the wire (the counting proxy), else from the tools' own records.

Example::

    producer, consumer, event_source = counted_on_the_wire(counter)
    producer.calls, producer.one_per_message       # 12, 500
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from demo.ledger import Ledger, LedgerCounts
from demo.pipeline import CallCounts

ByRole = Tuple[CallCounts, CallCounts, CallCounts]


def counted_on_the_wire(counter: Any) -> ByRole:
    """The producer's, the consumer's and the event source's calls, as the counting proxy saw them."""
    return (
        _one_per_message(counter.totals("producer")),
        _one_per_message(counter.totals("consumer")),
        _one_per_message(counter.totals("event-source")),
    )


def counted_by_the_tools(
    producer_api_calls: List[Dict[str, Any]],
    consumer_api_calls: List[Dict[str, Any]],
    stats: Any,
    counts: LedgerCounts,
) -> ByRole:
    """The same, from the calls the invoker recorded and the event source driver's own totals."""
    source = CallCounts(
        calls=stats.receive_calls + stats.delete_calls,
        one_per_message=stats.messages_delivered + stats.deleted,
        by_operation={
            "sqs:ReceiveMessage": stats.receive_calls,
            "sqs:DeleteMessageBatch": stats.delete_calls,
        },
    )
    return (
        _calls_from_invocations(producer_api_calls, counts.sent),
        _calls_from_invocations(consumer_api_calls, counts.processed),
        source,
    )


def _one_per_message(totals: Dict[Tuple[str, str], Any]) -> CallCounts:
    calls = sum(c.calls for c in totals.values())
    items = sum(c.items for c in totals.values())
    by_operation = {f"{service}:{operation}": c.calls for (service, operation), c in sorted(totals.items())}
    seconds = sum(c.seconds for c in totals.values())
    return CallCounts(calls=calls, one_per_message=items, by_operation=by_operation, endpoint_seconds=seconds)


def _calls_from_invocations(api_calls: List[Dict[str, Any]], items: int) -> CallCounts:
    by_operation: Dict[str, int] = {}
    for call in api_calls:
        key = f"{call.get('service')}:{call.get('operation')}"
        by_operation[key] = by_operation.get(key, 0) + 1
    return CallCounts(calls=len(api_calls), one_per_message=items, by_operation=by_operation)


def observe_driver_session(session: Any, ledger: Ledger) -> None:
    """Without the proxy (HTTPS endpoints), feed the ledger from the event source's own calls."""
    from emulator.call_counter import CallRecord

    def before_parameter_build(params: Any, context: Any, **kwargs: Any) -> None:
        context["demo_params"] = dict(params)

    def after_call(http_response: Any, parsed: Any, model: Any, context: Any = None, **kwargs: Any) -> None:
        params = (context or {}).get("demo_params")
        if params is None:
            return
        status = int(getattr(http_response, "status_code", 200))
        ledger.observe(CallRecord("event-source", "sqs", model.name, status, 0, 0.0, params, parsed))

    session.events.register("before-parameter-build.sqs.*", before_parameter_build)
    session.events.register("after-call.sqs.*", after_call)


#: The record handler's own call, one per record it handles: its effect (a job counter), not the layer's.
EFFECT_OPERATION = "dynamodb:UpdateItem"


def split_effect_calls(consumer: CallCounts, on_wire: bool) -> Tuple[CallCounts, int]:
    """The consumer's calls without its record handler's effect (one `UpdateItem` per record handled),
    and how many effect calls there were: the layer's calls stay comparable with one per message.

    `on_wire`: counted by the proxy, whose one-per-message figure counts the effect's items too
    (else it is the messages processed, left as it is).
    """
    effect = consumer.by_operation.get(EFFECT_OPERATION, 0)
    by_operation = {name: n for name, n in consumer.by_operation.items() if name != EFFECT_OPERATION}
    layer = CallCounts(
        calls=consumer.calls - effect,
        one_per_message=max(0, consumer.one_per_message - effect) if on_wire else consumer.one_per_message,
        by_operation=by_operation,
        endpoint_seconds=consumer.endpoint_seconds,
    )
    return layer, effect
