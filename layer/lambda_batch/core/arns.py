"""Amazon Resource Names: parsing, and the SQS queue URL an ARN stands for."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Tuple


_DNS_SUFFIX = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
}


class Arn:
    """The parts of an ARN: ``arn:partition:service:region:account:resource``.

    A plain slotted class rather than a NamedTuple: building a NamedTuple class costs
    about 3 ms at import, which every cold start would pay.
    """

    __slots__ = ("account", "partition", "region", "resource", "service")

    def __init__(self, partition: str, service: str, region: str, account: str, resource: str) -> None:
        self.partition = partition
        self.service = service
        self.region = region
        self.account = account
        self.resource = resource

    def _parts(self) -> Tuple[str, str, str, str, str]:
        return (self.partition, self.service, self.region, self.account, self.resource)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arn) and self._parts() == other._parts()

    def __hash__(self) -> int:
        return hash(self._parts())

    def __repr__(self) -> str:
        return "Arn(partition={!r}, service={!r}, region={!r}, account={!r}, resource={!r})".format(
            *self._parts()
        )

    def __str__(self) -> str:
        return "arn:" + ":".join(self._parts())


def parse_arn(arn: str) -> Arn:
    """Split an ARN into its parts; raise ``ValueError`` naming the ARN when it is not one.

    Example:
        ```python
        parse_arn("arn:aws:sqs:eu-west-1:123456789012:jobs").resource  # 'jobs'
        ```
    """
    if not isinstance(arn, str):
        raise ValueError(f"not an ARN: {arn!r}")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise ValueError(f"not an ARN: {arn!r}")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def sqs_queue_url(arn: str) -> str:
    """The URL of the SQS queue named by ``arn``, built from its partition, region, account and name.

    Example:
        ```python
        sqs_queue_url("arn:aws:sqs:eu-west-1:123456789012:jobs")
        # 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs'
        ```
    """
    parsed = parse_arn(arn)
    if parsed.service != "sqs" or not parsed.region or not parsed.account:
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    suffix = _DNS_SUFFIX.get(parsed.partition, "amazonaws.com")
    return f"https://sqs.{parsed.region}.{suffix}/{parsed.account}/{parsed.resource}"
