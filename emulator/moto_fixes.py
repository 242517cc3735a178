"""What moto's CloudFormation gets wrong or cannot do, changed before the stack is created and mended after.

See :func:`adapt_for_moto` (before) and :func:`attach_own_layers` (after); :func:`align_layer_ids`
matches a fresh translation to a deployed stack.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping

from emulator.intrinsics import Intrinsics
from emulator.template import StackError, resources_of_type

if TYPE_CHECKING:
    from emulator.stack_info import StackInfo


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
        if not intrinsics.resource_exists(logical_id):  # its Condition is false: not created
            continue
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


def align_layer_ids(translated: Dict[str, Any], deployed_types: Mapping[str, str]) -> Dict[str, Any]:
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


def attach_own_layers(info: StackInfo, lambda_client: Any) -> None:
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


def keep_disabled_stream_sources_idle() -> None:
    """Make moto honour ``Enabled: false`` on Kinesis and DynamoDB Streams event source mappings (once).

    moto runs the function (in Docker) on every record put to a stream with a mapping, enabled or
    not, and prints what fails to stdout; :func:`adapt_for_moto` creates every mapping disabled
    (``local_lambda`` plays the event sources' part), so a disabled mapping is listed but left out
    of the stream's and the table's triggers. Patched on moto's Lambda backend class, in this process.
    """
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend, "disabled_stream_sources_idle", False):
        return
    create = LambdaBackend.create_event_source_mapping

    def create_idle_when_disabled(self: Any, spec: Dict[str, Any]) -> Any:
        mapping = create(self, spec)
        if str(mapping.enabled).lower() == "false":
            from moto.dynamodb.models import dynamodb_backends
            from moto.kinesis.models import kinesis_backends

            for stream in kinesis_backends[self.account_id][self.region_name].streams.values():
                if stream.lambda_event_source_mappings.get(mapping.event_source_arn) is mapping:
                    del stream.lambda_event_source_mappings[mapping.event_source_arn]
            for table in dynamodb_backends[self.account_id][self.region_name].tables.values():
                if table.lambda_event_source_mappings.get(mapping.function_arn) is mapping:
                    del table.lambda_event_source_mappings[mapping.function_arn]
        return mapping

    LambdaBackend.create_event_source_mapping = create_idle_when_disabled  # type: ignore[method-assign]
    LambdaBackend.disabled_stream_sources_idle = True  # type: ignore[attr-defined]


def honour_table_time_to_live() -> None:
    """Make moto's CloudFormation apply a table's `TimeToLiveSpecification` (once, in this process).

    moto creates an `AWS::DynamoDB::Table` without its TTL setting (`DescribeTimeToLive` says
    `DISABLED`): the stack's tables (the idempotency table's `expiration`, the results table's
    `expires_at`) get it as CloudFormation gives it, from the resource's own properties.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table, "time_to_live_from_template", False):
        return
    create = Table.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_with_time_to_live(cls: Any, resource_name: str, cloudformation_json: Dict[str, Any],
                                 *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        table = create(cls, resource_name, cloudformation_json, *args, **kwargs)
        spec = (cloudformation_json.get("Properties") or {}).get("TimeToLiveSpecification")
        if isinstance(spec, Mapping) and spec.get("AttributeName"):
            enabled = str(spec.get("Enabled")).lower() == "true"
            table.ttl = {
                "TimeToLiveStatus": "ENABLED" if enabled else "DISABLED",
                "AttributeName": str(spec["AttributeName"]),
            }
        return table

    Table.create_from_cloudformation_json = classmethod(create_with_time_to_live)  # type: ignore[method-assign,assignment]
    Table.time_to_live_from_template = True  # type: ignore[attr-defined]


def serialize_dynamodb_writes() -> None:
    """Make moto's DynamoDB transactions isolated: one write (or read) at a time, in this process (once).

    moto applies a ``TransactWriteItems`` item by item and, when one of its conditions fails, puts
    back a copy of each whole table taken before it started: with no lock, a write another request
    made in between (a claim, a completion, a counter) is undone with it, and a read in between sees
    items the cancelled transaction never wrote (two pollers could then both claim a record, and both
    run it). DynamoDB's transactions are serializable. So every item read and write of moto's
    DynamoDB backend, transactions and batches included, runs under one re-entrant lock (a
    transaction's own puts re-enter it).
    """
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "writes_serialized", False):
        return
    lock = threading.RLock()

    def locked(method: Any) -> Any:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return run

    # BatchGetItem and BatchWriteItem are made of get_item, put_item and delete_item calls.
    names = ("transact_write_items", "put_item", "update_item", "delete_item", "get_item", "query", "scan")
    for name in names:
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.writes_serialized = True  # type: ignore[attr-defined]
