"""DynamoDB's typed attribute values (``{"N": "1.5"}``, ``{"M": {...}}``) as Python values.

The record objects use this for ``record.dynamodb.new_image``, ``old_image`` and ``keys``.
It needs neither boto3 nor any other library, and ``decimal`` is imported only when the
first number is read.

=========================  ==========================================
DynamoDB                   Python
=========================  ==========================================
``{"NULL": true}``         ``None``
``{"BOOL": b}``            ``b``
``{"N": "1.5"}``           ``Decimal("1.5")`` (38 digits, as DynamoDB)
``{"S": s}``               ``s``
``{"B": b}``               ``b`` as the event carries it (base64 text)
``{"NS"|"SS"|"BS": [...]}``  a ``set`` of the above
``{"L": [...]}``           ``list``
``{"M": {...}}``           ``dict``
=========================  ==========================================
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from decimal import Context, Decimal
    from typing import Any, Callable, Dict, Optional

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

    >>> to_number("101")
    Decimal('101')
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

    >>> to_python({"M": {"tags": {"SS": ["a"]}, "n": {"NULL": True}}})
    {'tags': {'a'}, 'n': None}
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

    >>> image_to_python({"Id": {"N": "7"}, "Name": {"S": "x"}})
    {'Id': Decimal('7'), 'Name': 'x'}
    """
    if not image:
        return {}
    return {name: to_python(value) for name, value in image.items()}


__all__ = ["image_to_python", "to_number", "to_python"]
