"""Deploy ``template.yaml`` to the moto server, find a stack deployed earlier, empty or delete it.

:func:`deploy_stack` does what the CloudFormation service would do, in order:

1. builds the application with ``sam build`` unless given a build folder (:mod:`emulator.build`);
2. zips each built function and layer and uploads it to an S3 bucket of the emulator;
3. translates the template with aws-sam-translator (:mod:`emulator.template`);
4. adapts what moto gets wrong or cannot do (:mod:`emulator.moto_fixes`);
5. creates the stack with CloudFormation against the endpoint, and waits for it;
6. attaches the stack's own layer version to the functions (step 4 explains why).

It returns a :class:`~emulator.stack_info.StackInfo`: outputs, physical ids, attributes
(queue URLs and ARNs, table, stream, function names, event source mappings).

The names the tooling imports from here are re-exported from the modules of each job
(:mod:`emulator.template`, :mod:`emulator.intrinsics`, :mod:`emulator.settings`,
:mod:`emulator.build`, :mod:`emulator.moto_fixes`, :mod:`emulator.stack_info`, :mod:`emulator.cli`).

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
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from devtools.aws_session import emulator_session
from devtools.sam_files import ROOT, TEMPLATE_PATH, TemplateSource, zip_folder
from emulator.build import artifact_ids, sam_build, sam_executable
from emulator.cli import main, samconfig_parameters
from emulator.intrinsics import Intrinsics
from emulator.moto_fixes import MotoAdaptations, adapt_for_moto, align_layer_ids, attach_own_layers
from emulator.settings import (
    EventSourceSettings,
    FunctionSettings,
    QueueSettings,
    TemplateSettings,
    read_settings,
)
from emulator.stack_info import StackInfo
from emulator.template import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    StackError,
    iter_policy_statements,
    load_template,
    parameter_values,
    resources_of_type,
    translate_template,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "DEFAULT_STACK_NAME",
    "ROOT",
    "TEMPLATE_PATH",
    "EventSourceSettings",
    "FunctionSettings",
    "Intrinsics",
    "MotoAdaptations",
    "QueueSettings",
    "StackError",
    "StackInfo",
    "TemplateSettings",
    "TemplateSource",
    "adapt_for_moto",
    "delete_stack",
    "deploy_stack",
    "iter_policy_statements",
    "load_stack",
    "load_template",
    "main",
    "parameter_values",
    "purge_stack_queues",
    "read_settings",
    "resources_of_type",
    "sam_build",
    "sam_executable",
    "samconfig_parameters",
    "translate_template",
    "zip_folder",
]

PathLike = Union[str, "os.PathLike[str]"]


def stack_exists(cloudformation: Any, stack_name: str) -> bool:
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


def listed_resources(cloudformation: Any, stack_name: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Logical id -> physical id, and logical id -> resource type, of every resource of the stack."""
    resources: Dict[str, str] = {}
    resource_types: Dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            resources[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
            resource_types[summary["LogicalResourceId"]] = summary["ResourceType"]
    return resources, resource_types


def _upload_artifacts(client: Any, source: Dict[str, Any], built: Path, bucket: str, stack_name: str) -> None:
    """Zip each built function and layer into ``bucket``; point the template's CodeUri/ContentUri at it."""
    s3 = client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:  # not there yet
        s3.create_bucket(Bucket=bucket)
    for logical_id in artifact_ids(source):
        folder = built / logical_id
        if not folder.is_dir():
            raise StackError(f"{folder} is missing: is {built} a `sam build` output of this template?")
        key = f"{stack_name}/{logical_id}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=zip_folder(folder))
        props = source["Resources"][logical_id].setdefault("Properties", {})
        props["ContentUri" if "ContentUri" in props else "CodeUri"] = f"s3://{bucket}/{key}"


def deploy_stack(
    endpoint_url: str,
    *,
    template: PathLike = TEMPLATE_PATH,
    build_dir: Optional[PathLike] = None,
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
    session = boto3_session or emulator_session(region)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, region_name=region)

    source = load_template(template)
    values = parameter_values(source, parameter_overrides)
    cloudformation = client("cloudformation")
    if stack_exists(cloudformation, stack_name):
        raise StackError(f"stack {stack_name} already exists on {endpoint_url}")
    account_id = client("sts").get_caller_identity()["Account"]
    built = Path(build_dir) if build_dir is not None else sam_build(template)
    _upload_artifacts(client, source, built, bucket or f"{stack_name}-artifacts-{account_id}", stack_name)

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
    resources, resource_types = listed_resources(cloudformation, stack_name)
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
    attach_own_layers(info, client("lambda"))
    return info


def load_stack(
    endpoint_url: str,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    template: TemplateSource = TEMPLATE_PATH,
    region: str = DEFAULT_REGION,
    build_dir: Optional[PathLike] = None,
    boto3_session: Any = None,
) -> StackInfo:
    """The :class:`StackInfo` of a stack :func:`deploy_stack` created earlier on ``endpoint_url``.

    Raises :class:`StackError` when there is no such stack.
    """
    session = boto3_session or emulator_session(region)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url, region_name=region)
    if not stack_exists(cloudformation, stack_name):
        raise StackError(f"no stack {stack_name} on {endpoint_url}: deploy it first")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    resources, resource_types = listed_resources(cloudformation, stack_name)
    translated = align_layer_ids(translate_template(template, values, region), resource_types)
    sts = session.client("sts", endpoint_url=endpoint_url, region_name=region)
    info = StackInfo(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        account_id=sts.get_caller_identity()["Account"],
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
    while time.monotonic() < deadline and stack_exists(cloudformation, stack_name):
        time.sleep(0.2)


if __name__ == "__main__":
    import sys

    sys.exit(main())
