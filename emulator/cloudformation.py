"""What ``sam deploy`` asks of CloudFormation, answered by the embedded emulator as AWS would.

moto's CloudFormation keeps a template's ``Transform: AWS::Serverless-2016-10-31`` as it came
(it drops every ``AWS::Serverless::*`` resource), and a stack created from a change set has
no outputs (moto reads them from the empty template the stack was opened with). The SAM CLI
needs both: ``--resolve-s3`` reads the ``SourceBucket`` output of its managed stack
(``aws-sam-cli-managed-default``), and the reference stack is a SAM template.

:func:`install` changes moto's CloudFormation backend, in this process, so that:

* a template with the Serverless transform is expanded when its stack or change set is created
  (aws-sam-translator, as CloudFormation runs it, with the change set's parameters), then
  adapted to what moto can run (:func:`emulator.moto_fixes.adapt_for_moto`);
* executing a change set gives the stack its template's outputs, and attaches the stack's own
  layer versions to its functions (moto resolves a layer's ``Ref`` wrongly).

A template without the transform is left exactly as it came. The embedded emulator
(:func:`emulator.server.start_moto_server`) installs this; so ``sam deploy`` with
``AWS_ENDPOINT_URL`` at it creates the whole stack: queues, functions, layer, event sources.

Example::

    server = start_moto_server()          # installed
    # AWS_ENDPOINT_URL=http://localhost:PORT sam deploy   -> CREATE_COMPLETE, every resource
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"

_lock = threading.Lock()


def _parse(template: Any) -> Optional[Dict[str, Any]]:
    """The template as a dict when it is JSON or YAML text (CloudFormation's short tags included)."""
    if not isinstance(template, str):
        return None
    try:
        parsed = json.loads(template)
    except ValueError:
        from samcli.yamlhelper import yaml_parse

        try:
            parsed = yaml_parse(template)
        except Exception:  # not a template moto could read either: moto reports it
            return None
    return parsed if isinstance(parsed, dict) else None


def _has_serverless_transform(template: Mapping[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return SERVERLESS_TRANSFORM in names


@dataclass
class Expanded:
    """A template as moto gets it, and what to mend once its stack exists."""

    template: Any
    #: Function logical id -> logical ids of the stack's own layers it uses.
    own_layers: Dict[str, List[str]] = field(default_factory=dict)
    #: Output key -> logical id of the own layer whose version ARN it gives.
    layer_outputs: Dict[str, str] = field(default_factory=dict)


#: Change set id -> what to mend once the change set has created its stack.
_pending: Dict[str, Expanded] = {}


def expand(
    template_text: Any,
    parameters: Mapping[str, Any],
    *,
    stack_name: str,
    region: str,
    account_id: str,
) -> Expanded:
    """The template moto gets, and what to mend after its stack is created.

    A template without the Serverless transform comes back unchanged (nothing to mend).
    """
    from moto.cloudformation.exceptions import ValidationError

    from emulator.intrinsics import Intrinsics
    from emulator.moto_fixes import adapt_for_moto
    from emulator.template import StackError, parameter_values, resources_of_type, translate_template

    source = _parse(template_text)
    if source is None or not _has_serverless_transform(source):
        return Expanded(template_text)
    try:
        values = parameter_values(source, parameters)
        translated = translate_template(source, values, region)
        layers = resources_of_type(translated, "AWS::Lambda::LayerVersion")
        layer_outputs = {
            key: str(output["Value"]["Ref"])
            for key, output in (translated.get("Outputs") or {}).items()
            if isinstance(output.get("Value"), Mapping) and output["Value"].get("Ref") in layers
        }
        intrinsics = Intrinsics(
            translated, values, region=region, account_id=account_id, stack_name=stack_name
        )
        adaptations = adapt_for_moto(translated, intrinsics)
    except StackError as exc:  # answered as CloudFormation answers a template it refuses
        raise ValidationError(stack_name, message=f"Transform {SERVERLESS_TRANSFORM} failed: {exc}") from exc
    return Expanded(json.dumps(translated), adaptations.own_layers, layer_outputs)


def _mend(stack: Any, expanded: Expanded) -> None:
    """Attach the stack's own layer versions to its functions, and give the layers' outputs their ARNs."""
    resources = stack.resource_map
    for function_id, layer_ids in expanded.own_layers.items():
        function = resources[function_id]
        if function is None:  # its Condition is false in this stack
            continue
        arns = [resources[layer_id].arn for layer_id in layer_ids]
        arns += [layer["Arn"] for layer in function.layers]
        function.update_configuration({"Layers": arns})
    for key, layer_id in expanded.layer_outputs.items():
        output = stack.output_map[key]
        if output is not None:
            output.value = resources[layer_id].arn


def install() -> None:
    """Patch moto's CloudFormation backend class in this process (once; later calls do nothing)."""
    from moto.cloudformation.models import CloudFormationBackend

    with _lock:
        if getattr(CloudFormationBackend, "serverless_transform_installed", False):
            return
        CloudFormationBackend.serverless_transform_installed = True  # type: ignore[attr-defined]

    create_change_set = CloudFormationBackend.create_change_set
    execute_change_set = CloudFormationBackend.execute_change_set
    create_stack = CloudFormationBackend.create_stack

    def create_change_set_expanded(self: Any, stack_name: str, change_set_name: str, template: str,
                                   parameters: Dict[str, str], *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        expanded = expand(
            template, parameters, stack_name=stack_name, region=self.region_name, account_id=self.account_id
        )
        change_set_id, stack_id = create_change_set(
            self, stack_name, change_set_name, expanded.template, parameters, *args, **kwargs
        )
        _pending[change_set_id] = expanded
        return change_set_id, stack_id

    def execute_change_set_with_outputs(
        self: Any, change_set_name: str, stack_name: Optional[str] = None
    ) -> None:
        execute_change_set(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        # moto opened the stack with an empty template: read its description and outputs again.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        _mend(stack, _pending.pop(change_set.change_set_id, Expanded(None)))
        for export in stack.exports:
            self.exports[export.name] = export

    def create_stack_expanded(self: Any, name: str, template: str, parameters: Dict[str, Any],
                              *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        expanded = expand(
            template, parameters, stack_name=name, region=self.region_name, account_id=self.account_id
        )
        stack = create_stack(self, name, expanded.template, parameters, *args, **kwargs)
        _mend(stack, expanded)
        return stack

    CloudFormationBackend.create_change_set = create_change_set_expanded  # type: ignore[method-assign]
    CloudFormationBackend.execute_change_set = execute_change_set_with_outputs  # type: ignore[method-assign]
    CloudFormationBackend.create_stack = create_stack_expanded  # type: ignore[method-assign]
