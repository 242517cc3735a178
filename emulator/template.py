"""The SAM template as CloudFormation: read it, give its parameters their values, expand the transform.

moto's CloudFormation ignores the ``AWS::Serverless-2016-10-31`` transform (it drops every
``AWS::Serverless::*`` resource), so :func:`translate_template` expands it first with
aws-sam-translator, the library CloudFormation itself runs for the transform.

Example::

    translated = translate_template(parameter_overrides={"EnableKinesis": "true"})
    sorted(resources_of_type(translated, "AWS::SQS::Queue"))   # ['DeadLetterQueue', ...]
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Optional

from devtools import sam_files
from devtools.sam_files import TEMPLATE_PATH, TemplateSource

DEFAULT_STACK_NAME = "lambda-batch"
DEFAULT_REGION = "us-east-1"
#: moto's default account.
DEFAULT_ACCOUNT_ID = "123456789012"


class StackError(sam_files.TemplateError):
    """The stack could not be built, translated or created; the message says which step and why."""


def load_template(source: TemplateSource = TEMPLATE_PATH) -> Dict[str, Any]:
    """The template as a dict (:func:`devtools.sam_files.load_template`); :class:`StackError` if unreadable.

    >>> load_template()["Transform"]
    'AWS::Serverless-2016-10-31'
    """
    try:
        return sam_files.load_template(source)
    except sam_files.TemplateError as exc:
        raise StackError(str(exc)) from exc


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
    ``ContentUri`` folders are fine here (they become placeholder S3 locations). The result for a
    template file is kept (``emulator.local_state``, keyed by the file's bytes and the values), so
    the tools that translate the same template again read it back in milliseconds.
    """
    cache = _cached_translation(template, parameter_overrides, region)
    if cache is not None and cache.exists():
        with contextlib.suppress(OSError, ValueError):
            return dict(json.loads(cache.read_text(encoding="utf-8")))
    translated = _translate(template, parameter_overrides, region)
    if cache is not None:
        with contextlib.suppress(OSError):
            partial = cache.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(json.dumps(translated), encoding="utf-8")
            os.replace(partial, cache)
    return translated


def _cached_translation(
    template: TemplateSource, parameter_overrides: Optional[Mapping[str, Any]], region: str
) -> Optional[Path]:
    """Where the transform of the template file ``template`` with these values is kept (None: not kept).

    The key is the file's bytes, the parameters, the region, the translator's version and this
    module's own: the same key always gives the same CloudFormation.
    """
    if isinstance(template, Mapping):
        return None
    from importlib.metadata import version

    from emulator.local_state import state_dir

    try:
        parts = [
            Path(template).read_bytes(),
            json.dumps(dict(parameter_overrides or {}), sort_keys=True, default=str).encode(),
            region.encode(),
            version("aws-sam-translator").encode(),
            Path(__file__).read_bytes(),
        ]
        folder = state_dir("sam-transform")
    except (OSError, ValueError):
        return None
    key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:32]
    return folder / f"{key}.json"


def _translate(
    template: TemplateSource, parameter_overrides: Optional[Mapping[str, Any]], region: str
) -> Dict[str, Any]:
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


def iter_policy_statements(template: Mapping[str, Any], role_logical_id: str) -> Iterator[Dict[str, Any]]:
    """Every statement of the inline policies of the ``AWS::IAM::Role`` ``role_logical_id`` (as written)."""
    role = (template.get("Resources") or {})[role_logical_id]
    for policy in (role.get("Properties") or {}).get("Policies") or []:
        yield from (policy.get("PolicyDocument") or {}).get("Statement") or []
