"""What ``make invoke-local`` checks before it builds anything: the function, the event file, the parameters.

Each check raises :class:`PreflightError` with one line naming what is wrong (the file, the key,
the function) and what is accepted; nothing here starts an emulator or imports boto3, so a wrong
``FUNCTION=`` or ``EVENT=`` is refused in well under a second instead of after a build and a deploy.

Example::

    event = read_event("events/sqs-batch-with-failures.json")
    check_invocation(load_template(), "ConsumerFunction", event, "events/sqs-batch-with-failures.json")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

#: The event kinds a function's event sources deliver (SAM ``Events`` types), and how each is recognised.
_SOURCE_KINDS = {
    "SQS": "SQS",
    "Kinesis": "Kinesis",
    "DynamoDB": "DynamoDB",
    "MSK": "Kafka",
    "SelfManagedKafka": "Kafka",
}


#: The kinds a stream consumer tells apart.
STREAM_KINDS = ("Kinesis", "DynamoDB", "Kafka", "Pipes")


class PreflightError(ValueError):
    """The invocation cannot work as asked; the message says why, in one line."""


def read_event(path: Union[str, Path]) -> Any:
    """The JSON of the event file ``path``; :class:`PreflightError` naming the file when unreadable."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PreflightError(f"no event file {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PreflightError(f"cannot read the event file {source}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PreflightError(f"{source} is not valid JSON: {exc}") from None


def event_kind(event: Any) -> Optional[str]:
    """``SQS``, ``Kinesis``, ``DynamoDB``, ``Kafka`` or ``Pipes`` (a list of records); None when unknown.

    >>> event_kind({"Records": [{"eventSource": "aws:sqs"}]})
    'SQS'
    """
    if isinstance(event, list):
        return "Pipes"
    if not isinstance(event, Mapping):
        return None
    if event.get("eventSource") in ("aws:kafka", "SelfManagedKafka"):
        return "Kafka"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource")
        return {"aws:sqs": "SQS", "aws:kinesis": "Kinesis", "aws:dynamodb": "DynamoDB"}.get(str(source))
    return None


def functions_of(template: Mapping[str, Any]) -> Dict[str, Mapping[str, Any]]:
    """Logical id -> resource, for each ``AWS::Serverless::Function`` of the template."""
    resources = template.get("Resources") or {}
    return {i: r for i, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}


def source_kinds(function: Mapping[str, Any]) -> List[str]:
    """The event kinds the function's ``Events`` deliver (``SQS``, ``Kinesis``...), in order, once each."""
    kinds: List[str] = []
    for spec in ((function.get("Properties") or {}).get("Events") or {}).values():
        kind = _SOURCE_KINDS.get(str(spec.get("Type")))
        if kind and kind not in kinds:
            kinds.append(kind)
    return kinds


def accepted_kinds(function: Mapping[str, Any]) -> List[str]:
    """The event kinds a local invocation may pass: its sources' kinds; a stream consumer (a Kinesis,
    DynamoDB or Kafka source) takes every stream kind and Pipes' batches, as its handler tells them apart."""
    kinds = source_kinds(function)
    if set(kinds) & set(STREAM_KINDS):
        kinds += [kind for kind in STREAM_KINDS if kind not in kinds]
    return kinds


def check_invocation(template: Mapping[str, Any], function_id: str, event: Any, event_path: str) -> None:
    """Refuse an unknown function, and an event the function's event sources never deliver."""
    functions = functions_of(template)
    function = functions.get(function_id)
    if function is None:
        raise PreflightError(
            f"no function {function_id!r} in the template (functions: {', '.join(functions)})"
        )
    kinds = accepted_kinds(function)
    if not kinds:
        return  # invoked directly (the producer): any JSON is its request
    if (
        isinstance(event, Mapping)
        and "Records" not in event
        and "records" in event
        and event_kind(event) is None
    ):
        raise PreflightError(
            f"{event_path} has no `Records` key ({function_id} takes {' or '.join(kinds)} events, "
            '{"Records": [...]}); it has `records`: the key is `Records`'
        )
    if isinstance(event, Mapping) and "Records" not in event and event_kind(event) is None:
        raise PreflightError(
            f"{event_path} has no `Records` key ({function_id} takes {' or '.join(kinds)} events, "
            '{"Records": [...]})'
        )
    kind = event_kind(event)
    if kind is not None and kind not in kinds:
        takers = [i for i, f in functions.items() if kind in accepted_kinds(f)]
        hint = f": invoke {' or '.join(takers)}" if takers else ""
        raise PreflightError(
            f"{event_path} is a {kind} event; {function_id} takes {' or '.join(kinds)} events{hint}"
        )


def check_condition(template: Mapping[str, Any], function_id: str, overrides: Mapping[str, str]) -> None:
    """Refuse a function a stack deployed with ``overrides`` would not have (its Condition false).

    Conditions of the form ``!Equals [!Ref Parameter, value]`` are read (the template's own);
    any other is left to the deployment.
    """
    condition = (template.get("Resources") or {}).get(function_id, {}).get("Condition")
    spec = (template.get("Conditions") or {}).get(condition) if condition else None
    equals = spec.get("Fn::Equals") if isinstance(spec, Mapping) else None
    if not (isinstance(equals, list) and len(equals) == 2 and isinstance(equals[0], Mapping)):
        return
    name, wanted = str(equals[0].get("Ref")), str(equals[1])
    declared = (template.get("Parameters") or {}).get(name)
    if declared is None:
        return
    value = str(overrides.get(name, declared.get("Default", "")))
    if value != wanted:
        raise PreflightError(
            f"{function_id} exists only in a stack deployed with {name}={wanted}: add "
            f"PARAMETERS={name}={wanted} (a stack of its own, deployed with it), or use "
            "`make deploy-emulator` and ENDPOINT_URL=... (samconfig.toml [emulator] sets it)"
        )


def check_parameters(template: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
    """Refuse a parameter the template does not declare, naming the declared ones."""
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise PreflightError(
            f"unknown template parameter(s): {', '.join(unknown)} (known: {', '.join(declared)})"
        )


def parse_overrides(pairs: List[str]) -> Dict[str, str]:
    """``["K=V", ...]`` as a dict; :class:`PreflightError` for a pair without ``=``."""
    values = {}
    for pair in pairs:
        if "=" not in pair:
            raise PreflightError(f"PARAMETERS / --parameter-overrides take KEY=VALUE pairs, not {pair!r}")
        key, value = pair.split("=", 1)
        values[key] = value
    return values
