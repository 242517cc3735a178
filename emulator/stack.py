"""Deploy ``template.yaml`` to the moto server, and read the template's settings.

moto's CloudFormation ignores the ``AWS::Serverless-2016-10-31`` transform (it drops
every ``AWS::Serverless::*`` resource), so :func:`deploy_stack` does what the
CloudFormation service would do, in order:

1. builds the application with ``sam build`` (the layer and both functions use
   ``BuildMethod: makefile``, so no Docker is needed) unless given a build folder;
2. zips each built function and layer and uploads it to an S3 bucket of the emulator;
3. translates the template with aws-sam-translator (the same library CloudFormation
   runs for the transform);
4. adapts the three things moto gets wrong or cannot do (see :func:`adapt_for_moto`);
5. creates the stack with CloudFormation against the endpoint, and waits for it;
6. attaches the stack's own layer version to the functions (step 4 explains why).

It returns a :class:`StackInfo`: outputs, physical ids, attributes (queue URLs and
ARNs, table, stream, function names, event source mappings).

:func:`read_settings` reads the settings the rest of the tooling mirrors (queues,
redrive, batch size and window, timeouts, environment) from the translated template
without any AWS call.

Example::

    from emulator import start_moto_server
    from emulator.stack import deploy_stack, read_settings

    server = start_moto_server()
    stack = deploy_stack(server.endpoint_url)
    stack.queue_url("WorkQueue")            # http://127.0.0.1:PORT/123456789012/...
    read_settings().queue("WorkQueue").max_receive_count   # 3
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
DEFAULT_STACK_NAME = "lambda-batch"
DEFAULT_REGION = "us-east-1"
#: moto's default account.
DEFAULT_ACCOUNT_ID = "123456789012"

TemplateSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]

#: Marks a value that resolves to nothing (``AWS::NoValue``): removed from its list or mapping.
_NO_VALUE = object()


class StackError(RuntimeError):
    """The stack could not be built, translated or created; the message says which step and why."""


# --------------------------------------------------------------------------- templates


def load_template(source: TemplateSource = TEMPLATE_PATH) -> Dict[str, Any]:
    """The template as a dict, from a YAML/JSON path (CloudFormation short tags understood) or a mapping.

    >>> load_template()["Transform"]
    'AWS::Serverless-2016-10-31'
    """
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    from samtranslator.yaml_helper import yaml_parse

    path = Path(source)
    try:
        return dict(yaml_parse(path.read_text()))
    except OSError as exc:
        raise StackError(f"cannot read template {path}: {exc}") from exc


def parameter_values(
    template: Mapping[str, Any], overrides: Optional[Mapping[str, Any]] = None
) -> Dict[str, str]:
    """Every parameter's value: ``overrides``, else its Default (as CloudFormation passes them: strings).

    Raises :class:`StackError` for an unknown override or a parameter left without a value.
    """
    declared = template.get("Parameters") or {}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise StackError(
            f"unknown template parameter(s): {', '.join(unknown)} (known: {', '.join(declared)})"
        )
    values: Dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = str(overrides[name])
        elif "Default" in spec:
            default = spec["Default"]
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        else:
            raise StackError(f"template parameter {name} has no Default and no value was given")
    return values


def translate_template(
    template: TemplateSource = TEMPLATE_PATH,
    parameter_overrides: Optional[Mapping[str, Any]] = None,
    region: str = DEFAULT_REGION,
) -> Dict[str, Any]:
    """Expand the ``AWS::Serverless-2016-10-31`` transform with aws-sam-translator.

    The result is plain CloudFormation: ``ConsumerFunction`` becomes an
    ``AWS::Lambda::Function`` plus one ``AWS::Lambda::EventSourceMapping`` per event
    (``ConsumerFunctionWorkQueue``...), Globals are merged into each function, and the
    layer gets a hashed logical id (``LambdaBatchLayer1a2b3c4d5e``). Local ``CodeUri`` /
    ``ContentUri`` folders are fine here (they become placeholder S3 locations).
    """
    from samtranslator.translator.transform import transform

    source = load_template(template)
    if "Transform" not in source:
        return source
    for resource in (source.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://local-build/{props[key].strip('/')}"
    values = parameter_values(source, parameter_overrides)
    values.setdefault("AWS::Region", region)

    class _NoManagedPolicies:
        # The template gives every function its own Role, so no managed policy is looked up.
        def load(self) -> Dict[str, str]:
            return {}

    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # the translator reads the region from boto3's defaults
    try:
        return dict(transform(source, values, _NoManagedPolicies()))
    except Exception as exc:  # the translator raises several unrelated types
        raise StackError(f"the SAM transform failed: {exc}") from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> Dict[str, Dict[str, Any]]:
    """Logical id -> resource, for each resource of ``resource_type`` (``AWS::SQS::Queue``...)."""
    return {
        logical_id: resource
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == resource_type
    }


# --------------------------------------------------------------------------- intrinsic functions


class Intrinsics:
    """Resolves CloudFormation intrinsic functions of a (translated) template to values.

    ``ref`` and ``get_att`` answer for resources (``ref("WorkQueue")`` -> queue URL,
    ``get_att("WorkQueue", "Arn")``); without them, a reference to a resource stays
    unresolved and :meth:`resolve` raises :class:`StackError` naming it.
    Parameters, pseudo parameters, conditions, ``Fn::If``, ``Fn::Sub``, ``Fn::Join``,
    ``Fn::Select``, ``Fn::Split`` and ``AWS::NoValue`` are handled here.

    Example::

        Intrinsics(template, {"EnableKinesis": "true"}).resolve({"Ref": "EnableKinesis"})  # 'true'
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        parameter_overrides: Optional[Mapping[str, Any]] = None,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        stack_name: str = DEFAULT_STACK_NAME,
        ref: Optional[Callable[[str], Any]] = None,
        get_att: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        self.template = template
        self.parameters: Dict[str, Any] = dict(parameter_values(template, parameter_overrides))
        self.parameters.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account_id,
                "AWS::StackName": stack_name,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            }
        )
        self._ref = ref
        self._get_att = get_att
        self._conditions: Dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name not in self._conditions:
            spec = (self.template.get("Conditions") or {}).get(name)
            if spec is None:
                raise StackError(f"unknown condition {name}")
            self._conditions[name] = bool(self._condition_value(spec))
        return self._conditions[name]

    def _condition_value(self, spec: Any) -> Any:
        if isinstance(spec, Mapping) and len(spec) == 1:
            ((key, arg),) = spec.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._condition_value(arg[0])
            if key == "Fn::And":
                return all(self._condition_value(v) for v in arg)
            if key == "Fn::Or":
                return any(self._condition_value(v) for v in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(spec)

    def resource_exists(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false."""
        resource = (self.template.get("Resources") or {}).get(logical_id)
        if resource is None:
            return False
        condition = resource.get("Condition")
        return condition is None or self.condition(condition)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its result."""
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref_value(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self._att_value(logical_id, attribute)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self._resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(v) for v in self._resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self._resolve(items)[int(self._resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self._resolve(text)).split(separator)
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self._condition_value(value)
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref_value(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if self._ref is None:
            raise StackError(f"cannot resolve Ref {name}: no stack to read it from")
        return self._ref(name)

    def _att_value(self, logical_id: str, attribute: str) -> Any:
        if self._get_att is None:
            raise StackError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}: no stack to read it from")
        return self._get_att(logical_id, attribute)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self._resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._att_value(logical_id, attribute))
            return str(self._ref_value(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


# --------------------------------------------------------------------------- settings


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


# --------------------------------------------------------------------------- build and package


def sam_executable() -> str:
    """The ``sam`` of this interpreter's environment, else the one on PATH."""
    candidate = Path(sys.executable).parent / "sam"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("sam")
    if found is None:
        raise StackError("the SAM CLI (sam) is not installed: run `make venv`")
    return found


def sam_build(
    template: Union[str, os.PathLike[str]] = TEMPLATE_PATH,
    build_dir: Union[str, os.PathLike[str], None] = None,
    *,
    timeout: float = 300.0,
) -> Path:
    """Run ``sam build`` (no container) into ``build_dir`` (default: a new temporary folder); return it.

    The layer and the functions use ``BuildMethod: makefile``, so this needs only
    ``make``; SAM's cache goes into the build folder's parent, never the repository.
    """
    template_path = Path(template).resolve()
    target = (
        Path(build_dir) if build_dir is not None else Path(tempfile.mkdtemp(prefix="lambda-batch-build-"))
    )
    target = target.resolve()
    cache_dir = target.parent / f".{target.name}-sam-cache"
    command = [
        sam_executable(),
        "build",
        "--template-file",
        str(template_path),
        "--build-dir",
        str(target),
        "--cache-dir",
        str(cache_dir),
    ]
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    completed = subprocess.run(  # noqa: PLW1510 - checked just below
        command,
        cwd=str(template_path.parent),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if completed.returncode != 0:
        raise StackError(
            f"sam build failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    return target


def zip_folder(folder: Union[str, os.PathLike[str]]) -> bytes:
    """The zip (deflated, sorted entries, fixed timestamps) of everything under ``folder``."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _artifact_ids(template: Mapping[str, Any]) -> List[str]:
    """Logical ids of the template's functions and layers that `sam build` builds."""
    buildable = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
    return [
        logical_id
        for logical_id, r in (template.get("Resources") or {}).items()
        if r.get("Type") in buildable
    ]


# --------------------------------------------------------------------------- moto adaptations


@dataclass
class MotoAdaptations:
    """What :func:`adapt_for_moto` changed, so it can be undone after the stack exists."""

    #: Function logical id -> logical ids of the stack's own layers it uses (attached after creation).
    own_layers: Dict[str, List[str]] = field(default_factory=dict)
    #: Function logical id -> layer ARNs from other accounts (Powertools' public layer) left out.
    external_layers: Dict[str, List[str]] = field(default_factory=dict)
    #: Event source mappings created disabled.
    disabled_event_sources: List[str] = field(default_factory=list)
    #: FIFO queues given a name ending in ``.fifo`` (moto does not generate one).
    named_fifo_queues: List[str] = field(default_factory=list)


def adapt_for_moto(translated: Dict[str, Any], intrinsics: Intrinsics) -> MotoAdaptations:
    """Change, in place, what moto's CloudFormation gets wrong or cannot do.

    * ``Ref`` to an ``AWS::Lambda::LayerVersion`` resolves to the wrong value in moto
      (AWS: the version ARN), so a function's own layers are taken out of ``Layers`` and
      attached with ``UpdateFunctionConfiguration`` once the stack exists.
    * Layers of other accounts (Powertools' public layer) do not exist in the emulator
      and would fail the function's creation: they are left out (the local invoker gives
      the functions Powertools from its own environment instead).
    * An enabled SQS event source mapping makes moto try to run the function in Docker
      on every SendMessage (and move messages to the DLQ when that fails), so mappings
      are created disabled; ``local_lambda`` plays the event source's part.
    * moto generates FIFO queue names without the ``.fifo`` suffix and then rejects them,
      so unnamed FIFO queues get a name as CloudFormation would make it.
    """
    adaptations = MotoAdaptations()
    layer_ids = set(resources_of_type(translated, "AWS::Lambda::LayerVersion"))
    for logical_id, resource in resources_of_type(translated, "AWS::Lambda::Function").items():
        props = resource.setdefault("Properties", {})
        kept: List[Any] = []
        for layer in props.get("Layers") or []:
            if isinstance(layer, Mapping) and layer.get("Ref") in layer_ids:
                adaptations.own_layers.setdefault(logical_id, []).append(str(layer["Ref"]))
                continue
            value = intrinsics.resolve(layer)
            if value is None:
                continue
            if isinstance(value, str) and value.split(":")[4:5] != [intrinsics.parameters["AWS::AccountId"]]:
                adaptations.external_layers.setdefault(logical_id, []).append(value)
                continue
            kept.append(layer)
        if kept:
            props["Layers"] = kept
        else:
            props.pop("Layers", None)
    for logical_id, resource in resources_of_type(translated, "AWS::Lambda::EventSourceMapping").items():
        resource.setdefault("Properties", {})["Enabled"] = False
        adaptations.disabled_event_sources.append(logical_id)
    for logical_id, resource in resources_of_type(translated, "AWS::SQS::Queue").items():
        props = resource.setdefault("Properties", {})
        if (
            str(intrinsics.resolve(props.get("FifoQueue", False))).lower() == "true"
            and "QueueName" not in props
        ):
            # CloudFormation names a FIFO queue <stack>-<logical id>-<suffix>.fifo; moto forgets the suffix.
            stack = intrinsics.parameters["AWS::StackName"]
            props["QueueName"] = f"{stack}-{logical_id}-{uuid.uuid4().hex[:12].upper()}.fifo"
            adaptations.named_fifo_queues.append(logical_id)
    for output in (translated.get("Outputs") or {}).values():
        value = output.get("Value")
        if isinstance(value, Mapping) and value.get("Ref") in layer_ids:
            output["Value"] = "see StackInfo.layer_version_arns"  # the real ARN is known after creation
    return adaptations


# --------------------------------------------------------------------------- the deployed stack


@dataclass
class StackInfo:
    """A stack created on the emulator: its outputs, physical ids and resource attributes.

    ``resources`` maps each logical id of the translated template to its physical id
    (queue URL, table name, stream name, function name, role name, mapping UUID...).
    """

    stack_name: str
    region: str
    endpoint_url: str
    account_id: str
    parameters: Dict[str, str]
    outputs: Dict[str, str]
    resources: Dict[str, str]
    resource_types: Dict[str, str]
    translated: Dict[str, Any] = field(repr=False)
    #: Layer logical id -> the version ARN created on the emulator.
    layer_version_arns: Dict[str, str] = field(default_factory=dict)
    adaptations: MotoAdaptations = field(default_factory=MotoAdaptations)
    build_dir: Optional[Path] = None
    boto3_session: Any = field(default=None, repr=False)
    _attributes: Dict[Tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` for the emulator."""
        import boto3.session

        session = self.boto3_session or boto3.session.Session()
        return session.client(service, endpoint_url=self.endpoint_url, region_name=self.region)

    def physical_id(self, logical_id: str) -> str:
        """The physical id of ``logical_id``; :class:`KeyError` naming the known ones otherwise."""
        try:
            return self.resources[logical_id]
        except KeyError:
            known = ", ".join(sorted(self.resources))
            raise KeyError(
                f"no resource {logical_id!r} in stack {self.stack_name} (resources: {known})"
            ) from None

    def ref(self, logical_id: str) -> str:
        """What ``Ref`` of ``logical_id`` gives on AWS (a layer's version ARN, otherwise the physical id)."""
        if logical_id in self.layer_version_arns:
            return self.layer_version_arns[logical_id]
        return self.physical_id(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """``Fn::GetAtt`` of ``logical_id``, read from the emulator (``Arn``, ``QueueName``...)."""
        key = (logical_id, attribute)
        if key in self._attributes:
            return self._attributes[key]
        physical = self.physical_id(logical_id)
        kind = self.resource_types.get(logical_id, "")
        value: Any
        if kind == "AWS::SQS::Queue":
            if attribute == "QueueUrl":
                value = physical
            elif attribute == "QueueName":
                value = physical.rstrip("/").rsplit("/", 1)[-1]
            else:
                attributes = self.client("sqs").get_queue_attributes(
                    QueueUrl=physical, AttributeNames=["QueueArn"]
                )
                value = attributes["Attributes"]["QueueArn"]
        elif kind == "AWS::DynamoDB::Table":
            table = self.client("dynamodb").describe_table(TableName=physical)["Table"]
            value = table["LatestStreamArn"] if attribute == "StreamArn" else table["TableArn"]
        elif kind == "AWS::Kinesis::Stream":
            value = self.client("kinesis").describe_stream_summary(StreamName=physical)[
                "StreamDescriptionSummary"
            ]["StreamARN"]
        elif kind == "AWS::IAM::Role":
            value = self.client("iam").get_role(RoleName=physical)["Role"]["Arn"]
        elif kind == "AWS::Lambda::Function":
            value = self.client("lambda").get_function_configuration(FunctionName=physical)["FunctionArn"]
        elif kind == "AWS::Logs::LogGroup":
            value = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{physical}:*"
        else:
            raise StackError(
                f"Fn::GetAtt {logical_id}.{attribute} ({kind or 'unknown type'}) is not supported"
            )
        self._attributes[key] = value
        return value

    def intrinsics(self) -> Intrinsics:
        """An :class:`Intrinsics` that resolves references to this stack's real resources."""
        return Intrinsics(
            self.translated,
            self.parameters,
            region=self.region,
            account_id=self.account_id,
            stack_name=self.stack_name,
            ref=self.ref,
            get_att=self.get_att,
        )

    def settings(self) -> TemplateSettings:
        """The template settings of this stack (its parameter values)."""
        return read_settings(self.translated, self.parameters, self.region)

    def queue_url(self, logical_id: str) -> str:
        """URL of the queue ``logical_id`` (``WorkQueue``, ``DeadLetterQueue``...)."""
        return self.physical_id(logical_id)

    def queue_arn(self, logical_id: str) -> str:
        """ARN of the queue ``logical_id``."""
        return str(self.get_att(logical_id, "Arn"))

    def function_name(self, logical_id: str) -> str:
        """Physical name of the function ``logical_id``."""
        return self.physical_id(logical_id)

    def function_environment(self, logical_id: str) -> Dict[str, str]:
        """The function's environment variables (Globals merged), resolved to this stack's values."""
        function = self.settings().function(logical_id)
        resolved = self.intrinsics().resolve(function.environment) or {}
        return {str(k): "" if v is None else str(v) for k, v in resolved.items()}


def _stack_exists(cloudformation: Any, stack_name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as exc:  # botocore ClientError: the stack does not exist
        if "does not exist" in str(exc):
            return False
        raise
    return any(s.get("StackStatus") not in ("DELETE_COMPLETE",) for s in stacks)


def _wait_for_stack(cloudformation: Any, stack_name: str, timeout: float = 120.0) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return dict(stack)
        if status.endswith("_FAILED") or "ROLLBACK" in status:
            reasons = [
                f"{e.get('LogicalResourceId')}: {e.get('ResourceStatusReason')}"
                for e in cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
                if e.get("ResourceStatusReason")
            ]
            raise StackError(f"stack {stack_name} is {status}: " + "; ".join(reasons[:5]))
        if time.monotonic() > deadline:
            raise StackError(f"stack {stack_name} still {status} after {timeout:.0f} s")
        time.sleep(0.2)


def deploy_stack(
    endpoint_url: str,
    *,
    template: Union[str, os.PathLike[str]] = TEMPLATE_PATH,
    build_dir: Union[str, os.PathLike[str], None] = None,
    stack_name: str = DEFAULT_STACK_NAME,
    parameter_overrides: Optional[Mapping[str, Any]] = None,
    region: str = DEFAULT_REGION,
    bucket: Optional[str] = None,
    boto3_session: Any = None,
) -> StackInfo:
    """Deploy ``template`` to the emulator at ``endpoint_url`` and return the created stack.

    ``build_dir`` is a ``sam build`` output (built now into a temporary folder when not
    given). ``parameter_overrides`` are template parameters (``{"EnableKinesis": "true"}``).
    Raises :class:`StackError` (naming the failing step) when anything fails; a stack of
    the same name must not exist yet.

    Example::

        stack = deploy_stack("http://127.0.0.1:5000", parameter_overrides={"MaxReceiveCount": 2})
        stack.queue_url("WorkQueue"), stack.resources["ConsumerFunctionWorkQueue"]
    """
    import boto3.session

    session = boto3_session or boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN", "testing"),
        region_name=region,
    )

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, region_name=region)

    source = load_template(template)
    values = parameter_values(source, parameter_overrides)
    cloudformation = client("cloudformation")
    if _stack_exists(cloudformation, stack_name):
        raise StackError(f"stack {stack_name} already exists on {endpoint_url}")
    account_id = client("sts").get_caller_identity()["Account"]

    built = Path(build_dir) if build_dir is not None else sam_build(template)
    bucket = bucket or f"{stack_name}-artifacts-{account_id}"
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # not there yet
        s3.create_bucket(Bucket=bucket)
    for logical_id in _artifact_ids(source):
        folder = built / logical_id
        if not folder.is_dir():
            raise StackError(f"{folder} is missing: is {built} a `sam build` output of this template?")
        key = f"{stack_name}/{logical_id}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=zip_folder(folder))
        props = source["Resources"][logical_id].setdefault("Properties", {})
        props["ContentUri" if "ContentUri" in props else "CodeUri"] = f"s3://{bucket}/{key}"

    translated = translate_template(source, values, region)
    intrinsics = Intrinsics(translated, values, region=region, account_id=account_id, stack_name=stack_name)
    moto_ready = copy.deepcopy(translated)
    adaptations = adapt_for_moto(moto_ready, intrinsics)

    capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(moto_ready),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Capabilities=capabilities,
        )
    except Exception as exc:
        raise StackError(f"create_stack {stack_name} failed: {exc}") from exc
    stack = _wait_for_stack(cloudformation, stack_name)

    resources: Dict[str, str] = {}
    resource_types: Dict[str, str] = {}
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
            resource_types[summary["LogicalResourceId"]] = summary["ResourceType"]

    info = StackInfo(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        account_id=account_id,
        parameters=values,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        resource_types=resource_types,
        translated=translated,
        adaptations=adaptations,
        build_dir=built,
        boto3_session=session,
    )
    _attach_own_layers(info, client("lambda"))
    return info


def load_stack(
    endpoint_url: str,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    template: TemplateSource = TEMPLATE_PATH,
    region: str = DEFAULT_REGION,
    build_dir: Union[str, os.PathLike[str], None] = None,
    boto3_session: Any = None,
) -> StackInfo:
    """The :class:`StackInfo` of a stack :func:`deploy_stack` created earlier on ``endpoint_url``.

    Raises :class:`StackError` when there is no such stack.
    """
    import boto3.session

    session = boto3_session or boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN", "testing"),
        region_name=region,
    )
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url, region_name=region)
    if not _stack_exists(cloudformation, stack_name):
        raise StackError(f"no stack {stack_name} on {endpoint_url}: deploy it first")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    translated = translate_template(template, values, region)
    resources: Dict[str, str] = {}
    resource_types: Dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
            resource_types[summary["LogicalResourceId"]] = summary["ResourceType"]
    translated = _align_layer_ids(translated, resource_types)
    account_id = session.client("sts", endpoint_url=endpoint_url, region_name=region).get_caller_identity()[
        "Account"
    ]
    info = StackInfo(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        account_id=account_id,
        parameters=values,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
        resource_types=resource_types,
        translated=translated,
        build_dir=Path(build_dir) if build_dir is not None else None,
        boto3_session=session,
    )
    lambda_client = session.client("lambda", endpoint_url=endpoint_url, region_name=region)
    for layer_id in resources_of_type(translated, "AWS::Lambda::LayerVersion"):
        for layer in lambda_client.list_layers()["Layers"]:
            if f"{stack_name}-{layer_id}" in layer["LayerName"]:
                info.layer_version_arns[layer_id] = str(layer["LatestMatchingVersion"]["LayerVersionArn"])
    return info


def _align_layer_ids(translated: Dict[str, Any], deployed_types: Mapping[str, str]) -> Dict[str, Any]:
    """Rename the translated layers' logical ids to the deployed ones.

    The transform suffixes a layer's logical id with a hash of its content location, which
    differs between the deployed (uploaded) template and a fresh translation of the source.
    """
    deployed = [i for i, kind in deployed_types.items() if kind == "AWS::Lambda::LayerVersion"]
    text = json.dumps(translated)
    for layer_id in resources_of_type(translated, "AWS::Lambda::LayerVersion"):
        base = layer_id[:-10]
        match = [i for i in deployed if i[:-10] == base]
        if len(match) == 1 and match[0] != layer_id:
            text = text.replace(f'"{layer_id}"', f'"{match[0]}"')
    return dict(json.loads(text))


def _attach_own_layers(info: StackInfo, lambda_client: Any) -> None:
    """Find the version ARN of each layer of the stack and attach it to the functions that use it."""
    for layer_id in resources_of_type(info.translated, "AWS::Lambda::LayerVersion"):
        if layer_id not in info.resources:
            continue
        physical = info.resources[layer_id]
        if physical.startswith("arn:") and physical.split(":")[-1].isdigit():
            info.layer_version_arns[layer_id] = physical
            continue
        # moto reports an empty physical id: find the layer by its LayerName (or generated name).
        props = info.translated["Resources"][layer_id].get("Properties") or {}
        name = info.intrinsics().resolve(props.get("LayerName")) or physical
        versions: List[Dict[str, Any]] = []
        for layer in lambda_client.list_layers()["Layers"]:
            if (name and name in (layer["LayerName"], layer["LayerArn"])) or layer_id in layer["LayerName"]:
                versions.append(layer["LatestMatchingVersion"])
        if not versions:
            raise StackError(f"the layer {layer_id} ({physical}) was not found on the emulator")
        info.layer_version_arns[layer_id] = str(versions[0]["LayerVersionArn"])
    for function_id, layer_ids in info.adaptations.own_layers.items():
        name = info.physical_id(function_id)
        current = lambda_client.get_function_configuration(FunctionName=name).get("Layers", [])
        arns = [info.layer_version_arns[layer_id] for layer_id in layer_ids] + [
            layer["Arn"] for layer in current
        ]
        lambda_client.update_function_configuration(FunctionName=name, Layers=arns)
    if "LambdaBatchLayerArn" in info.outputs:
        own = [
            arn
            for layer_id, arn in info.layer_version_arns.items()
            if layer_id.startswith("LambdaBatchLayer")
        ]
        if own:
            info.outputs["LambdaBatchLayerArn"] = own[0]


def iter_policy_statements(template: Mapping[str, Any], role_logical_id: str) -> Iterator[Dict[str, Any]]:
    """Every statement of the inline policies of the ``AWS::IAM::Role`` ``role_logical_id`` (as written)."""
    role = (template.get("Resources") or {})[role_logical_id]
    for policy in (role.get("Properties") or {}).get("Policies") or []:
        yield from (policy.get("PolicyDocument") or {}).get("Statement") or []


# --------------------------------------------------------------------------- samconfig and command line


def samconfig_parameters(
    config_env: str = "emulator", path: Union[str, os.PathLike[str], None] = None
) -> Dict[str, Any]:
    """The ``deploy`` parameters of ``config_env`` in samconfig.toml, with ``stack_name`` from its globals.

    ``parameter_overrides`` comes back as a dict (``{"EnableKinesis": "true"}``).
    """
    import tomllib  # Python 3.11+: the tooling's interpreter

    source = Path(path) if path is not None else ROOT / "samconfig.toml"
    with source.open("rb") as handle:
        config = tomllib.load(handle)
    env = config.get(config_env)
    if env is None:
        raise StackError(f"no environment [{config_env}] in {source} (environments: {', '.join(config)})")
    values: Dict[str, Any] = dict((env.get("global") or {}).get("parameters") or {})
    values.update((env.get("deploy") or {}).get("parameters") or {})
    overrides = values.get("parameter_overrides") or ""
    if isinstance(overrides, str):
        values["parameter_overrides"] = dict(pair.split("=", 1) for pair in overrides.split())
    return values


def purge_stack_queues(stack: StackInfo) -> Dict[str, int]:
    """Empty every queue of ``stack`` (PurgeQueue); return queue logical id -> messages it held."""
    sqs = stack.client("sqs")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    held: Dict[str, int] = {}
    for logical_id, resource_type in sorted(stack.resource_types.items()):
        if resource_type != "AWS::SQS::Queue":
            continue
        url = stack.physical_id(logical_id)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        held[logical_id] = sum(int(attributes.get(name, 0)) for name in names)
        sqs.purge_queue(QueueUrl=url)
    return held


def delete_stack(
    endpoint_url: str, stack_name: str = DEFAULT_STACK_NAME, region: str = DEFAULT_REGION
) -> None:
    """Delete ``stack_name`` from the emulator at ``endpoint_url`` (its queues, functions, table...)."""
    stack = load_stack(endpoint_url, stack_name=stack_name, region=region)
    cloudformation = stack.client("cloudformation")
    cloudformation.delete_stack(StackName=stack_name)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _stack_exists(cloudformation, stack_name):
        time.sleep(0.2)


def _purge_or_delete(command: str, endpoint_url: Optional[str], stack_name: str, region: str) -> int:
    """``purge`` (empty the stack's queues) or ``delete`` (the stack) on ``endpoint_url``; the exit status."""
    from botocore.exceptions import BotoCoreError

    if not endpoint_url:
        print(
            f"error: {command} needs --endpoint-url (make {command}-emulator ENDPOINT_URL=...)",
            file=sys.stderr,
        )
        return 2
    try:
        if command == "purge":
            held = purge_stack_queues(load_stack(endpoint_url, stack_name=stack_name, region=region))
            print(json.dumps({"purged": held}))
        else:
            delete_stack(endpoint_url, stack_name, region)
            print(json.dumps({"deleted": stack_name, "endpoint_url": endpoint_url}))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:  # nothing listening there, a bad URL...
        print(f"error: cannot reach {endpoint_url}: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m emulator deploy|purge|delete [--endpoint-url URL] [--config-env emulator]``.

    ``deploy`` deploys the stack with the samconfig environment's stack name, region and
    parameters, and prints its outputs and physical ids as JSON on stdout; without
    ``--endpoint-url`` it starts a moto server and keeps it up (in the foreground) until
    Ctrl-C. ``purge`` empties the stack's queues; ``delete`` deletes the stack.
    """
    import argparse

    from botocore.exceptions import BotoCoreError

    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Deploy template.yaml to moto, empty its queues, delete it",
    )
    parser.add_argument("command", choices=["deploy", "purge", "delete"])
    parser.add_argument("--endpoint-url")
    parser.add_argument("--config-env", default="emulator")
    parser.add_argument("--build-dir")
    args = parser.parse_args(argv)
    config = samconfig_parameters(args.config_env)
    stack_name = config.get("stack_name", DEFAULT_STACK_NAME)
    region = config.get("region", DEFAULT_REGION)
    if args.command != "deploy":
        return _purge_or_delete(args.command, args.endpoint_url, stack_name, region)
    server = None
    endpoint = args.endpoint_url
    if endpoint is None:
        from emulator import start_moto_server

        server = start_moto_server()
        endpoint = server.endpoint_url
    try:
        stack = deploy_stack(
            endpoint,
            build_dir=args.build_dir,
            stack_name=stack_name,
            parameter_overrides=config.get("parameter_overrides"),
            region=region,
            bucket=config.get("s3_bucket"),
        )
        summary = {"endpoint_url": endpoint, "outputs": stack.outputs, "resources": stack.resources}
        print(json.dumps(summary, indent=2), flush=True)
        if server is not None:
            print(
                f"emulator running on {endpoint} with stack {stack_name}, in the foreground: this command "
                "keeps the terminal until you stop it with Ctrl-C (or `kill` its process).\n"
                f"In another terminal: make invoke-local ENDPOINT_URL={endpoint} FUNCTION=... EVENT=...\n"
                f"Empty its queues: make purge-emulator ENDPOINT_URL={endpoint}",
                file=sys.stderr,
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:  # nothing listening there, a bad URL...
        print(f"error: cannot reach {endpoint}: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
