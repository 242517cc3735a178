"""DynamoDB Streams record objects: ``record.dynamodb.new_image`` and the rest, as Python values.

A `DynamoDBRecord` is a dict of the stream record's keys with Powertools' attribute
names; its ``dynamodb`` part is a read-only `StreamRecord` whose images are converted
from DynamoDB's typed values on first use (``{"N": "5"}`` becomes ``Decimal("5")``).

Example:
    ```python
    def record_handler(record):
        if record.event_name is DynamoDBRecordEventName.INSERT:
            save(record.dynamodb.new_image)
    ```
"""

from __future__ import annotations

from enum import Enum

from .record import _optional, _ReadOnlyMapping, _Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from decimal import Context, Decimal
    from typing import Any, Callable, Dict, Iterator, Optional


# -- typed values (DynamoDB JSON -> Python) ---------------------------------------------


_contexts: Optional[Any] = None  # (the DynamoDB context, the one that only drops trailing zeros)


def _decimal_contexts() -> Any:
    global _contexts  # noqa: PLW0603 - made once, on the first number read
    if _contexts is None:
        from decimal import Clamped, Context, Inexact, Overflow, Rounded, Underflow

        dynamodb = Context(
            Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
        )
        normalize = Context(prec=38)
        normalize.traps[Inexact] = True
        _contexts = (dynamodb, normalize)
    return _contexts


def to_number(text: str) -> Decimal:
    """A DynamoDB number (its text) as a ``Decimal`` of at most 38 significant digits.

    Example:
        ```python
        to_number("101")  # Decimal('101')
        ```
    """
    dynamodb, normalize = _decimal_contexts()
    context: Context = dynamodb
    if text in ("", "."):
        return context.create_decimal(0)
    from decimal import Decimal

    number = Decimal(text)
    if len(number.as_tuple().digits) > 38:
        number = number.normalize(normalize)  # trailing zeros do not count towards the 38
    return context.create_decimal(number)


def to_python(value: Dict[str, Any]) -> Any:
    """One typed attribute value as a Python value; ``TypeError`` naming an unknown type.

    Example:
        ```python
        to_python({"M": {"tags": {"SS": ["a"]}, "n": {"NULL": True}}})
        # {'tags': {'a'}, 'n': None}
        ```
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise TypeError(f"a DynamoDB attribute value has exactly one type key, not {type(value).__name__}")
    ((kind, inner),) = value.items()
    convert = _CONVERTERS.get(kind)
    if convert is None:
        raise TypeError(f"DynamoDB type {kind!r} is not supported")
    return convert(inner)


def _same(inner: Any) -> Any:
    return inner


_CONVERTERS: Dict[str, Callable[[Any], Any]] = {
    "S": _same,
    "N": to_number,
    "BOOL": _same,
    "B": _same,
    "NULL": lambda _: None,
    "M": lambda inner: {name: to_python(item) for name, item in inner.items()},
    "L": lambda inner: [to_python(item) for item in inner],
    "SS": set,
    "BS": set,
    "NS": lambda inner: {to_number(item) for item in inner},
}


def image_to_python(image: Any) -> Dict[str, Any]:
    """A stream image (``NewImage``, ``OldImage``, ``Keys``) as a dict of Python values; ``{}`` when absent.

    Example:
        ```python
        image_to_python({"Id": {"N": "7"}, "Name": {"S": "x"}})
        # {'Id': Decimal('7'), 'Name': 'x'}
        ```
    """
    if not image:
        return {}
    return {name: to_python(value) for name, value in image.items()}


# -- records -----------------------------------------------------------------------------


class StreamViewType(Enum):
    """What a DynamoDB stream record carries of the item."""

    KEYS_ONLY = 0
    NEW_IMAGE = 1
    OLD_IMAGE = 2
    NEW_AND_OLD_IMAGES = 3


class DynamoDBRecordEventName(Enum):
    """The change a DynamoDB stream record reports."""

    INSERT = 0
    MODIFY = 1
    REMOVE = 2


class StreamRecord(_ReadOnlyMapping):
    """The ``dynamodb`` part of a stream record; ``keys``, ``new_image`` and ``old_image`` hold Python
    values (``{"N": "5"}`` becomes ``Decimal("5")``), converted on first use.

    Read-only; ``record.dynamodb["NewImage"]`` still gives the typed values as the event carries them.
    """

    __slots__ = ("_data", "_images")

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data
        self._images: Dict[str, Dict[str, Any]] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # Its position, never the item's keys or images.
        return f"StreamRecord(sequence_number={self._data.get('SequenceNumber')!r})"

    def _image(self, field: str) -> Dict[str, Any]:
        image = self._images.get(field)
        if image is None:
            image = self._images[field] = image_to_python(self._data.get(field))
        return image

    @property  # Powertools' name for the item's key attributes, in place of Mapping.keys()
    def keys(self) -> Dict[str, Any]:  # type: ignore[override]
        """The key attributes of the changed item."""
        return self._image("Keys")

    @property
    def new_image(self) -> Dict[str, Any]:
        """The item after the change (``{}`` when the stream does not carry it)."""
        return self._image("NewImage")

    @property
    def old_image(self) -> Dict[str, Any]:
        """The item before the change (``{}`` when the stream does not carry it)."""
        return self._image("OldImage")

    @property
    def raw_event(self) -> Dict[str, Any]:
        """The ``dynamodb`` dict as the event carries it."""
        return self._data

    sequence_number = property(lambda self: self._data.get("SequenceNumber"), doc="Its position.")

    @property
    def approximate_creation_date_time(self) -> Optional[int]:
        """When the change happened (epoch seconds)."""
        value = self._data.get("ApproximateCreationDateTime")
        return None if value is None else int(value)

    @property
    def size_bytes(self) -> Optional[int]:
        """The size of the stream record."""
        value = self._data.get("SizeBytes")
        return None if value is None else int(value)

    @property
    def stream_view_type(self) -> Optional[StreamViewType]:
        """What the stream carries of the item."""
        value = self._data.get("StreamViewType")
        return None if value is None else StreamViewType[str(value)]


class DynamoDBRecord(_Record):
    """A DynamoDB Streams record, as Lambda delivers it.

    Example:
        ```python
        record = DynamoDBRecord(
            {"eventName": "INSERT", "dynamodb": {"NewImage": {"n": {"N": "1"}}}}
        )
        record.event_name.name, record.dynamodb.new_image
        # ('INSERT', {'n': Decimal('1')})
        ```
    """

    __slots__ = ()
    _repr_keys = (("event_id", "eventID"),)

    event_id = _optional("eventID", "The id of the change.")
    event_version = _optional("eventVersion", "The event format version.")

    @property
    def event_name(self) -> Optional[DynamoDBRecordEventName]:
        """``INSERT``, ``MODIFY`` or ``REMOVE``."""
        value = self.get("eventName")
        return None if value is None else DynamoDBRecordEventName[value]

    @property
    def dynamodb(self) -> Optional[StreamRecord]:
        """The change itself: ``keys``, ``new_image``, ``old_image``, ``sequence_number``..."""
        data = self.get("dynamodb")
        return None if data is None else StreamRecord(data)

    @property
    def user_identity(self) -> Dict[str, Any]:
        """Who made the change (a TTL expiry names the DynamoDB service); ``{}`` when absent."""
        return self.get("userIdentity") or {}


__all__ = [
    "DynamoDBRecord",
    "DynamoDBRecordEventName",
    "StreamRecord",
    "StreamViewType",
    "image_to_python",
    "to_python",
]
