"""A stack created on the emulator: its outputs, physical ids and resource attributes.

Example::

    stack = deploy_stack(server.endpoint_url)         # emulator.stack
    stack.queue_url("WorkQueue")                      # http://127.0.0.1:PORT/123456789012/...
    stack.function_environment("ConsumerFunction")["WORK_QUEUE_URL"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from emulator.intrinsics import Intrinsics
from emulator.moto_fixes import MotoAdaptations
from emulator.settings import TemplateSettings, read_settings
from emulator.template import StackError


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

        session: Any = self.boto3_session or boto3.session.Session()
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
