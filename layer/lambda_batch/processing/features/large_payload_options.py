"""The claim check's options on the consuming side: which buckets are read, whose they are, how large.

A pointer names its own bucket and key, and anyone allowed to send to the queue writes it, so
the processors read (and delete) only what the options allow:

* ``large_payload_buckets``: the bucket names a pointer may name (required with
  ``resolve_large_payloads=True``); any other pointer, an ARN (access point, S3 Object Lambda,
  Outposts) included, fails its record before any request is made.
* ``large_payload_bucket_owner``: the 12-digit account that must own those buckets, sent as
  ``ExpectedBucketOwner`` on GetObject and DeleteObjects; by default the function's own account,
  read from the invocation's ARN (``context.invoked_function_arn``).
* ``max_large_payload_bytes``: the largest payload read; by default a quarter of the function's
  memory (``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, else the context's ``memory_limit_in_mb``; 64 MiB
  when neither is known).

Example:
    ```python
    settings = check_settings("BatchProcessor", True, ["my-payloads"], None, None)
    settings.refusal("other-bucket")
    # 'its pointer names a bucket not in large_payload_buckets'
    ```
"""

from __future__ import annotations

import os

from ...errors import ConfigurationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, FrozenSet, Optional

MiB = 1024 * 1024
#: The default ``max_large_payload_bytes`` is the function's memory divided by this: the bytes
#: read and the text decoded from them take twice the payload, and records may run concurrently.
MEMORY_SHARE = 4
#: The default ``max_large_payload_bytes`` when the function's memory is not known (outside Lambda).
FALLBACK_MAX_BYTES = 64 * MiB
#: S3 bucket names: 3 to 63 lowercase letters, digits, dots and hyphens, a letter or digit at
#: both ends (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html, 2026-12).
_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def is_bucket_name(name: Any) -> bool:
    """Whether ``name`` is a plain S3 bucket name (not an ARN, an alias path or anything else).

    Example:
        ```python
        (
            is_bucket_name("my-payloads"),
            is_bucket_name("arn:aws:s3:us-east-1:123456789012:accesspoint/ap"),
        )
        # (True, False)
        ```
    """
    return (
        isinstance(name, str)
        and 3 <= len(name) <= 63
        and set(name) <= _BUCKET_CHARS
        and name[0] in _ALNUM
        and name[-1] in _ALNUM
        and ".." not in name
    )


def is_account_id(value: Any) -> bool:
    """Whether ``value`` is a 12-digit AWS account id.

    Example:
        ```python
        is_account_id("123456789012"), is_account_id("12345")  # (True, False)
        ```
    """
    return isinstance(value, str) and len(value) == 12 and value.isdigit() and value.isascii()


class LargePayloadSettings:
    """The checked options: the buckets allowed, the expected owner and the size bound (``None``: default)."""

    __slots__ = ("buckets", "max_bytes", "owner")

    def __init__(self, buckets: FrozenSet[str], owner: Optional[str], max_bytes: Optional[int]) -> None:
        self.buckets = buckets
        self.owner = owner
        self.max_bytes = max_bytes

    def refusal(self, bucket: str) -> Optional[str]:
        """Why a pointer to ``bucket`` is not read (``None``: it may be); never quotes the name."""
        if bucket in self.buckets:
            return None
        if bucket.startswith("arn:") or ":" in bucket or "/" in bucket:
            return "its pointer names an ARN or a path, not one of large_payload_buckets"
        return "its pointer names a bucket not in large_payload_buckets"

    def owner_for(self, context: Any) -> Optional[str]:
        """The ``ExpectedBucketOwner`` of a batch: the option, else the account of the invoked function."""
        if self.owner is not None:
            return self.owner
        arn = getattr(context, "invoked_function_arn", None)
        if isinstance(arn, str):
            parts = arn.split(":")
            if len(parts) >= 6 and parts[0] == "arn" and is_account_id(parts[4]):
                return parts[4]
        return None

    def max_bytes_for(self, context: Any) -> int:
        """The size bound of a batch: the option, else a quarter of the function's memory."""
        if self.max_bytes is not None:
            return self.max_bytes
        memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or getattr(
            context, "memory_limit_in_mb", None
        )
        try:
            megabytes = int(str(memory))
        except ValueError:
            return FALLBACK_MAX_BYTES
        return megabytes * MiB // MEMORY_SHARE if megabytes > 0 else FALLBACK_MAX_BYTES


def check_settings(
    owner_name: str, resolve: bool, buckets: Any, owner: Any, max_bytes: Any
) -> Optional[LargePayloadSettings]:
    """The settings of ``resolve_large_payloads`` (``None`` when off); ``ConfigurationError`` naming
    the option for a value that makes no sense, or ``resolve_large_payloads=True`` without buckets."""
    if not resolve:
        options = {
            "large_payload_buckets": buckets,
            "large_payload_bucket_owner": owner,
            "max_large_payload_bytes": max_bytes,
        }
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise ConfigurationError(f"{owner_name}: {', '.join(given)} needs resolve_large_payloads=True")
        return None
    names = _bucket_names(owner_name, buckets)
    if owner is not None and not is_account_id(owner):
        raise ConfigurationError(
            f"{owner_name}: large_payload_bucket_owner must be a 12-digit account id, not {owner!r}"
        )
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1
    ):
        raise ConfigurationError(
            f"{owner_name}: max_large_payload_bytes must be a positive number of bytes, not {max_bytes!r}"
        )
    return LargePayloadSettings(names, owner, max_bytes)


def _bucket_names(owner_name: str, buckets: Any) -> FrozenSet[str]:
    """``large_payload_buckets`` checked: one or more plain bucket names."""
    if buckets is None:
        raise ConfigurationError(
            f"{owner_name}: resolve_large_payloads=True needs large_payload_buckets=[...], the names of "
            "the buckets the payloads may be read from (a pointer names any bucket its sender chose)"
        )
    if isinstance(buckets, (str, bytes)) or not _iterable(buckets):
        raise ConfigurationError(f"{owner_name}: large_payload_buckets must be an iterable of bucket names")
    try:
        names = frozenset(buckets)
    except TypeError:
        names = frozenset([None])
    bad = [name for name in names if not is_bucket_name(name)]
    if not names or bad:
        raise ConfigurationError(
            f"{owner_name}: large_payload_buckets must name one or more S3 buckets by their plain names "
            f"(not ARNs, aliases or paths): {sorted(map(repr, bad))[:5] or 'none given'}"
        )
    return names


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


__all__ = [
    "FALLBACK_MAX_BYTES",
    "MEMORY_SHARE",
    "LargePayloadSettings",
    "check_settings",
    "is_account_id",
    "is_bucket_name",
]
