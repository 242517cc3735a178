"""The Kinesis Producer Library's aggregated record format: many user records in one Kinesis record.

The format, as the KPL documents it (``aggregation-format.md`` in awslabs/amazon-kinesis-producer)
and as the KCL, ``aws-kinesis-agg`` and this layer read it:

```text
F3 89 9A C2 | AggregatedRecord (protobuf) | MD5 of the protobuf bytes (16 bytes)

message AggregatedRecord {
  repeated string partition_key_table     = 1;
  repeated string explicit_hash_key_table = 2;
  repeated Record records                 = 3;
}
message Record {
  required uint64 partition_key_index     = 1;
  optional uint64 explicit_hash_key_index = 2;
  required bytes  data                    = 3;
  repeated Tag    tags                    = 4;   // read past, never written
}
```

Written and read here with the protobuf wire format by hand (varints and length-delimited
fields): no protobuf dependency. A user record is a ``(partition_key, explicit_hash_key, data)``
tuple, the explicit hash key ``None`` when it has none.

Example:
    ```python
    from lambda_batch.payloads.kpl_aggregation import (
        decode_aggregate,
        encode_aggregate,
    )

    blob = encode_aggregate([("user-1", None, b"a"), ("user-2", None, b"b")])
    decode_aggregate(blob)  # [('user-1', None, b'a'), ('user-2', None, b'b')]
    ```
"""

from __future__ import annotations

import hashlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

    UserRecord = Tuple[str, Optional[str], bytes]

#: The four bytes every aggregated record starts with.
MAGIC = b"\xf3\x89\x9a\xc2"
#: The MD5 digest at the end.
DIGEST_SIZE = 16
#: The base64 text every aggregated record's data starts with in a Lambda event (the magic's
#: first 3 bytes, then the top 6 bits of its fourth).
MAGIC_BASE64_PREFIX = "84maw"
#: Bytes of an aggregate with no record: the magic and the digest.
EMPTY_AGGREGATE_SIZE = len(MAGIC) + DIGEST_SIZE

_PARTITION_KEY_TABLE = 0x0A  # field 1, length-delimited
_HASH_KEY_TABLE = 0x12  # field 2, length-delimited
_RECORDS = 0x1A  # field 3, length-delimited
_PARTITION_KEY_INDEX = 0x08  # Record field 1, varint
_HASH_KEY_INDEX = 0x10  # Record field 2, varint
_DATA = 0x1A  # Record field 3, length-delimited


def md5_digest(data: bytes | memoryview) -> bytes:
    """The MD5 digest, as the format and Kinesis' key hashing use it: a checksum, not security."""
    return hashlib.md5(data, usedforsecurity=False).digest()


class AggregateError(ValueError):
    """Data that starts like an aggregated record but is not one that can be read: the MD5
    digest does not match, or the protobuf message is malformed. The message never quotes data."""


def varint(value: int) -> bytes:
    """``value`` (an int >= 0) as a protobuf varint.

    Example:
        ```python
        varint(300).hex()  # 'ac02'
        ```
    """
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def varint_size(value: int) -> int:
    """The number of bytes of ``value`` as a varint.

    Example:
        ```python
        varint_size(127), varint_size(128)  # (1, 2)
        ```
    """
    return max(1, (value.bit_length() + 6) // 7)


def hash_key_of(partition_key_bytes: bytes) -> int:
    """The 128-bit hash key Kinesis maps a partition key to (MD5 of its UTF-8 bytes, big-endian)."""
    return int.from_bytes(md5_digest(partition_key_bytes), "big")


class AggregateBuilder:
    """One aggregated record being filled: its key tables, its records and its exact size.

    `added_size` says how many bytes a user record would add, so a caller can close the
    aggregate before it goes over a limit; `add` adds it; `encode` gives the bytes.

    Example:
        ```python
        builder = AggregateBuilder()
        builder.add("user-1", b"user-1", b"payload", None)
        builder.data_size       # len(builder.encode())
        ```
    """

    __slots__ = ("_hash_keys", "_keys", "_parts", "data_size", "records")

    def __init__(self) -> None:
        self._keys: Dict[str, int] = {}
        self._hash_keys: Dict[str, int] = {}
        # The encoded Record fields, in order; the key tables are encoded at the end.
        self._parts: List[bytes] = []
        #: The user records, as added.
        self.records: List[UserRecord] = []
        #: The size of the encoded aggregate (magic, message and digest).
        self.data_size = EMPTY_AGGREGATE_SIZE

    def added_size(self, key: str, key_bytes: bytes, data_len: int, hash_key: Optional[str]) -> int:
        """The bytes a user record would add: its record, and its keys when they are new."""
        size = 0
        index = self._keys.get(key)
        if index is None:
            index = len(self._keys)
            size += 1 + varint_size(len(key_bytes)) + len(key_bytes)
        inner = 1 + varint_size(index) + 1 + varint_size(data_len) + data_len
        if hash_key is not None:
            hash_index = self._hash_keys.get(hash_key)
            if hash_index is None:
                hash_index = len(self._hash_keys)
                size += 1 + varint_size(len(hash_key)) + len(hash_key)  # digits: ASCII
            inner += 1 + varint_size(hash_index)
        return size + 1 + varint_size(inner) + inner

    def add(self, key: str, key_bytes: bytes, data: bytes, hash_key: Optional[str]) -> None:
        """Add one user record (``key_bytes`` is ``key`` in UTF-8, measured once by the caller)."""
        self.data_size += self.added_size(key, key_bytes, len(data), hash_key)
        index = self._keys.setdefault(key, len(self._keys))
        inner = [bytes((_PARTITION_KEY_INDEX,)), varint(index)]
        if hash_key is not None:
            hash_index = self._hash_keys.setdefault(hash_key, len(self._hash_keys))
            inner += [bytes((_HASH_KEY_INDEX,)), varint(hash_index)]
        inner += [bytes((_DATA,)), varint(len(data)), data]
        body = b"".join(inner)
        self._parts.append(bytes((_RECORDS,)) + varint(len(body)) + body)
        self.records.append((key, hash_key, data))

    def encode(self) -> bytes:
        """The aggregated record: magic, protobuf message, MD5 of the message."""
        fields: List[bytes] = []
        for tag, table in ((_PARTITION_KEY_TABLE, self._keys), (_HASH_KEY_TABLE, self._hash_keys)):
            for text in table:  # dicts keep insertion order: the index order
                raw = text.encode("utf-8")
                fields += [bytes((tag,)), varint(len(raw)), raw]
        message = b"".join(fields) + b"".join(self._parts)
        return MAGIC + message + md5_digest(message)

    def __len__(self) -> int:
        return len(self.records)


def encode_aggregate(records: Iterable[UserRecord]) -> bytes:
    """Encode ``(partition_key, explicit_hash_key or None, data)`` user records as one aggregate.

    Example:
        ```python
        encode_aggregate([("k", None, b"x")])[:4] == MAGIC  # True
        ```
    """
    builder = AggregateBuilder()
    for key, hash_key, data in records:
        builder.add(key, key.encode("utf-8"), data, hash_key)
    return builder.encode()


def is_aggregate(data: bytes) -> bool:
    """Whether ``data`` starts like an aggregated record (magic and room for a digest)."""
    return len(data) > EMPTY_AGGREGATE_SIZE and data[:4] == MAGIC


class DigestMismatch(AggregateError):
    """Data that starts with the magic but whose MD5 digest does not match: not an aggregate
    (the KCL and ``aws-kinesis-agg`` hand such a record on as a plain record)."""


class AggregateIndex:
    """The user records of a checked aggregated record, read one at a time when asked for.

    Holds the aggregate's bytes, its key tables and the offset of each user record (4 bytes
    per user record): a user record's data is copied only when that record is read, so
    memory does not grow with what has been read. Made by `scan_aggregate`.

    Example:
        ```python
        index = scan_aggregate(encode_aggregate([("k", None, b"x"), ("k", None, b"y")]))
        len(index), index[1]        # (2, ('k', None, b'y'))
        ```
    """

    __slots__ = ("_hash_keys", "_keys", "_starts", "_view")

    def __init__(self, view: memoryview, keys: List[str], hash_keys: List[str], starts: Any) -> None:
        self._view = view
        self._keys = keys
        self._hash_keys = hash_keys
        self._starts = starts

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, position: int) -> UserRecord:
        view = self._view
        pos = _read_varint(view, self._starts[position])[1]  # the field's tag: checked by the scan
        length, pos = _read_varint(view, pos)
        key_index, hash_index, data_start, data_end = _read_record(view, pos, pos + length)
        hash_key = None if hash_index is None else self._hash_keys[hash_index]
        return self._keys[key_index], hash_key, bytes(view[data_start:data_end])

    def __iter__(self) -> Iterator[UserRecord]:
        for position in range(len(self._starts)):
            yield self[position]


def scan_aggregate(data: bytes) -> AggregateIndex:
    """Check an aggregated record whole and index its user records, copying none of their data.

    Raises `DigestMismatch` when the MD5 digest does not match the message, and
    `AggregateError` when the message is not a well-formed AggregatedRecord (a field cut
    short, an index outside its key table, a record without its partition key index or data).
    Unknown fields are skipped, as protobuf does.
    """
    from array import array

    if not is_aggregate(data):
        raise AggregateError("not an aggregated record: no KPL magic prefix")
    view = memoryview(data)[4:-DIGEST_SIZE]
    if md5_digest(view) != data[-DIGEST_SIZE:]:
        raise DigestMismatch("the aggregated record's MD5 digest does not match its content")
    keys: List[str] = []
    hash_keys: List[str] = []
    starts = array("I")
    max_hash_index = -1
    max_key_index = -1
    pos, end = 0, len(view)
    while pos < end:
        field_start = pos
        tag, pos = _read_varint(view, pos)
        field, wire = tag >> 3, tag & 7
        if wire != 2:
            pos = _skip(view, pos, wire)
            continue
        length, pos = _read_varint(view, pos)
        stop = pos + length
        if stop > end:
            raise AggregateError("malformed aggregated record: a field runs past the end")
        if field in {1, 2}:
            try:
                text = bytes(view[pos:stop]).decode("utf-8")
            except UnicodeDecodeError:
                raise AggregateError("malformed aggregated record: a key is not UTF-8") from None
            (keys if field == 1 else hash_keys).append(text)
        elif field == 3:
            key_index, hash_index, _, _ = _read_record(view, pos, stop)
            max_key_index = max(max_key_index, key_index)
            if hash_index is not None:
                max_hash_index = max(max_hash_index, hash_index)
            starts.append(field_start)
        pos = stop
    if max_key_index >= len(keys) or max_hash_index >= len(hash_keys):
        raise AggregateError("malformed aggregated record: a key index is outside its table")
    return AggregateIndex(view, keys, hash_keys, starts)


def decode_aggregate(data: bytes) -> List[UserRecord]:
    """The user records of an aggregated record, in order (all at once: see `scan_aggregate`).

    Raises `AggregateError` (`DigestMismatch` for the digest) as
    `scan_aggregate` does.

    Example:
        ```python
        decode_aggregate(encode_aggregate([("k", "5", b"x")]))  # [('k', '5', b'x')]
        ```
    """
    return list(scan_aggregate(data))


def _read_record(view: memoryview, pos: int, end: int) -> Tuple[int, Optional[int], int, int]:
    """A Record message: its partition key index, hash key index (or ``None``) and data span."""
    key_index: Optional[int] = None
    hash_index: Optional[int] = None
    data_start = data_end = -1
    while pos < end:
        tag, pos = _read_varint(view, pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 1 and wire == 0:
            key_index, pos = _read_varint(view, pos, end)
        elif field == 2 and wire == 0:
            hash_index, pos = _read_varint(view, pos, end)
        elif wire == 2:
            length, pos = _read_varint(view, pos, end)
            if pos + length > end:
                raise AggregateError("malformed aggregated record: a record field runs past its end")
            if field == 3:
                data_start, data_end = pos, pos + length
            pos += length  # tags (field 4) and unknown fields: skipped
        else:
            pos = _skip(view, pos, wire, end)
    if key_index is None or data_start < 0:
        raise AggregateError("malformed aggregated record: a record lacks its partition key index or data")
    return key_index, hash_index, data_start, data_end


def _read_varint(view: memoryview, pos: int, end: int = -1) -> Tuple[int, int]:
    if end < 0:
        end = len(view)
    if pos < end:  # the common case: a one-byte varint (tags, indexes, short lengths)
        byte = view[pos]
        if byte < 0x80:
            return byte, pos + 1
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise AggregateError("malformed aggregated record: a varint is cut short")
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _skip(view: memoryview, pos: int, wire: int, end: int = -1) -> int:
    if end < 0:
        end = len(view)
    if wire == 0:
        return _read_varint(view, pos, end)[1]
    width = {1: 8, 5: 4}.get(wire)
    if width is None or pos + width > end:
        raise AggregateError(f"malformed aggregated record: wire type {wire} cannot be read")
    return pos + width


__all__ = [
    "MAGIC",
    "AggregateBuilder",
    "AggregateError",
    "AggregateIndex",
    "DigestMismatch",
    "decode_aggregate",
    "encode_aggregate",
    "hash_key_of",
    "is_aggregate",
    "scan_aggregate",
]
