"""Reading one large payload object from S3 with its length and the time checked before the body.

GetObject carries ``ExpectedBucketOwner`` when an owner is given. The response's
``ContentLength`` (its headers, before a byte of the body) must equal the size the message
declares: otherwise the stream is closed unread. The body is then read in chunks of at
most 64 KiB and never past the declared size, each socket read with a timeout that ends at
``cutoff`` (the deadline less its margin, on the ``time.monotonic()`` clock); no chunk
starts after it. The bytes go into one buffer of the declared size.

Example:
    ```python
    data = read_object(
        s3,
        "my-payloads",
        key,
        declared=5_242_880,
        owner="123456789012",
        cutoff=cutoff,
    )
    ```
"""

from __future__ import annotations

import contextlib
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

#: The most bytes one socket read of a body asks for.
CHUNK_BYTES = 64 * 1024


class ObjectRefused(ValueError):
    """The object is not what its message declares: not read, not worth retrying (no key, no body)."""


class ReadCutOff(Exception):
    """The cutoff came before the body was read whole (not worth retrying: no time is left)."""

    def __init__(self, read: int, size: int) -> None:
        super().__init__(f"the cutoff came with {read} of {size} bytes read")
        self.read = read
        self.size = size


def read_object(
    client: Any,
    bucket: str,
    key: str,
    *,
    declared: int,
    owner: Optional[str],
    cutoff: float,
    clock: Callable[[], float] = time.monotonic,
) -> bytearray:
    """The object's ``declared`` bytes; `ObjectRefused` when its length differs,
    `ReadCutOff` when ``cutoff`` comes first; botocore's errors as raised."""
    params = {"Bucket": bucket, "Key": key}
    if owner is not None:
        params["ExpectedBucketOwner"] = owner
    response = client.get_object(**params)
    body = response["Body"]
    whole = False
    try:
        length = response.get("ContentLength")
        if type(length) is not int or length != declared:
            raise ObjectRefused(
                f"the object is {length} bytes, not the {declared} bytes its message declares: not read"
            )
        data = read_body(body, declared, cutoff, clock)
        whole = True
        return data
    finally:
        if not whole:  # the connection goes, with whatever it still holds
            body.close()


def read_body(body: Any, size: int, cutoff: float, clock: Callable[[], float] = time.monotonic) -> bytearray:
    """``size`` bytes of a botocore ``StreamingBody``, read before ``cutoff`` (see the module)."""
    raw = getattr(body, "_raw_stream", None)
    read = getattr(raw, "read1", None) or body.read  # one socket read per chunk when it can
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    settimeout = getattr(sock, "settimeout", None)
    before = sock.gettimeout() if sock is not None and settimeout is not None else None
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    try:
        while got < size:
            left = cutoff - clock()
            if left <= 0:
                raise ReadCutOff(got, size)
            if settimeout is not None:
                settimeout(left if before is None else min(left, before))
            try:
                chunk = read(min(CHUNK_BYTES, size - got))
            except Exception:
                if clock() >= cutoff:
                    raise ReadCutOff(got, size) from None
                raise
            if not chunk:
                raise ConnectionError(f"the body ended after {got} of {size} bytes")
            chunk = chunk[: size - got]
            view[got : got + len(chunk)] = chunk
            got += len(chunk)
    finally:
        view.release()
        if settimeout is not None:
            with contextlib.suppress(OSError):  # the socket may be closed already
                settimeout(before)
    return data


__all__ = ["CHUNK_BYTES", "ObjectRefused", "ReadCutOff", "read_body", "read_object"]
