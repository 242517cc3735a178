"""What the template configures (queues, redrive, event sources, functions), read without any AWS call.

The rest of the tooling mirrors these settings (the local event source's batch size and
window, the invoker's timeout and environment, the demo's redrive).

Example::

    settings = read_settings(parameter_overrides={"MaxReceiveCount": 5})
    settings.queue("WorkQueue").max_receive_count              # 5
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from devtools.sam_files import TEMPLATE_PATH, TemplateSource
from emulator.intrinsics import Intrinsics
from emulator.template import (
    DEFAULT_REGION,
    parameter_values,
    resources_of_type,
    translate_template,
)


@dataclass(frozen=True)
class QueueSettings:
    """An ``AWS::SQS::Queue`` of the template, with CloudFormation's defaults filled in."""

    logical_id: str
    fifo: bool
    visibility_timeout: int
    message_retention_period: int
    sqs_managed_sse: bool
    #: Logical id of the dead-letter queue (``None``: no redrive).
    dead_letter_queue: Optional[str]
    max_receive_count: Optional[int]


@dataclass(frozen=True)
class EventSourceSettings:
    """An SQS ``AWS::Lambda::EventSourceMapping``: which queue feeds which function, and how."""

    logical_id: str
    function: str
    queue: str
    batch_size: int
    maximum_batching_window: int
    enabled: bool
    function_response_types: Tuple[str, ...]


@dataclass(frozen=True)
class FunctionSettings:
    """An ``AWS::Lambda::Function`` after the transform (Globals merged)."""

    logical_id: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    architectures: Tuple[str, ...]
    #: Environment variables as written (intrinsics unresolved; see :meth:`StackInfo.function_environment`).
    environment: Dict[str, Any]
    #: Layers as written (intrinsics unresolved).
    layers: List[Any]


@dataclass(frozen=True)
class TemplateSettings:
    """What the template configures, read without any AWS call (see :func:`read_settings`)."""

    parameters: Dict[str, str]
    queues: Dict[str, QueueSettings]
    functions: Dict[str, FunctionSettings]
    event_sources: Dict[str, EventSourceSettings]
    translated: Dict[str, Any] = field(repr=False)

    def queue(self, logical_id: str) -> QueueSettings:
        """The queue ``logical_id``; :class:`KeyError` naming the known ones otherwise."""
        try:
            return self.queues[logical_id]
        except KeyError:
            raise KeyError(
                f"no queue {logical_id!r} in the template (queues: {', '.join(self.queues)})"
            ) from None

    def function(self, logical_id: str) -> FunctionSettings:
        """The function ``logical_id``; :class:`KeyError` naming the known ones otherwise."""
        try:
            return self.functions[logical_id]
        except KeyError:
            known = ", ".join(self.functions)
            raise KeyError(f"no function {logical_id!r} in the template (functions: {known})") from None

    def event_sources_of(self, function: str) -> List[EventSourceSettings]:
        """The SQS event sources that feed ``function``."""
        return [source for source in self.event_sources.values() if source.function == function]

    def event_source_for_queue(self, queue: str) -> EventSourceSettings:
        """The event source that reads ``queue``."""
        for source in self.event_sources.values():
            if source.queue == queue:
                return source
        raise KeyError(f"no event source reads queue {queue!r}")


def read_settings(
    template: TemplateSource = TEMPLATE_PATH,
    parameter_overrides: Optional[Mapping[str, Any]] = None,
    region: str = DEFAULT_REGION,
) -> TemplateSettings:
    """Read queues, redrive, event sources and functions from the translated template.

    Parameters resolve to their defaults unless overridden; resources behind a false
    Condition are left out.

    Example::

        settings = read_settings(parameter_overrides={"MaxReceiveCount": 5})
        settings.queue("WorkQueue").max_receive_count              # 5
        settings.event_source_for_queue("WorkQueue").batch_size    # 10
        settings.function("ConsumerFunction").timeout              # 20
    """
    translated = (
        dict(template)
        if isinstance(template, Mapping) and "Transform" not in template
        else translate_template(template, parameter_overrides, region)
    )
    intrinsics = Intrinsics(translated, parameter_overrides, region=region)

    def logical_id_of(value: Any) -> Optional[str]:
        if isinstance(value, Mapping):
            if "Ref" in value:
                return str(value["Ref"])
            if "Fn::GetAtt" in value:
                arg = value["Fn::GetAtt"]
                return str(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
        return None

    queues: Dict[str, QueueSettings] = {}
    for logical_id, resource in resources_of_type(translated, "AWS::SQS::Queue").items():
        if not intrinsics.resource_exists(logical_id):
            continue
        props = resource.get("Properties") or {}
        redrive = props.get("RedrivePolicy") or {}
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        max_receive = intrinsics.resolve(redrive.get("maxReceiveCount")) if redrive else None
        queues[logical_id] = QueueSettings(
            logical_id=logical_id,
            fifo=str(intrinsics.resolve(props.get("FifoQueue", False))).lower() == "true",
            visibility_timeout=int(intrinsics.resolve(props.get("VisibilityTimeout", 30))),
            message_retention_period=int(intrinsics.resolve(props.get("MessageRetentionPeriod", 345600))),
            sqs_managed_sse=str(intrinsics.resolve(props.get("SqsManagedSseEnabled", True))).lower()
            == "true",
            dead_letter_queue=logical_id_of(redrive.get("deadLetterTargetArn")) if redrive else None,
            max_receive_count=int(max_receive) if max_receive is not None else None,
        )

    functions: Dict[str, FunctionSettings] = {}
    for logical_id, resource in resources_of_type(translated, "AWS::Lambda::Function").items():
        if not intrinsics.resource_exists(logical_id):
            continue
        props = resource.get("Properties") or {}
        functions[logical_id] = FunctionSettings(
            logical_id=logical_id,
            handler=str(props.get("Handler", "")),
            runtime=str(props.get("Runtime", "")),
            timeout=int(intrinsics.resolve(props.get("Timeout", 3))),
            memory_size=int(intrinsics.resolve(props.get("MemorySize", 128))),
            architectures=tuple(props.get("Architectures") or ("x86_64",)),
            environment=dict((props.get("Environment") or {}).get("Variables") or {}),
            layers=list(props.get("Layers") or []),
        )

    event_sources: Dict[str, EventSourceSettings] = {}
    for logical_id, resource in resources_of_type(translated, "AWS::Lambda::EventSourceMapping").items():
        if not intrinsics.resource_exists(logical_id):
            continue
        props = resource.get("Properties") or {}
        queue = logical_id_of(props.get("EventSourceArn"))
        function = logical_id_of(props.get("FunctionName"))
        if queue not in queues or function is None:
            continue  # not an SQS source of this template
        event_sources[logical_id] = EventSourceSettings(
            logical_id=logical_id,
            function=function,
            queue=queue,
            batch_size=int(intrinsics.resolve(props.get("BatchSize", 10))),
            maximum_batching_window=int(intrinsics.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
            enabled=str(intrinsics.resolve(props.get("Enabled", True))).lower() == "true",
            function_response_types=tuple(props.get("FunctionResponseTypes") or ()),
        )

    return TemplateSettings(
        parameters=parameter_values(translated, parameter_overrides),
        queues=queues,
        functions=functions,
        event_sources=event_sources,
        translated=translated,
    )
