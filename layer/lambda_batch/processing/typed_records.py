"""What the record handler receives: a record object, or a pydantic model or data class of the caller's.

Nothing is imported here: the model class the caller passes brings its own library.
A record that fails validation is a per-record failure, like any handler exception.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from .event_types import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    Converter = Callable[[Dict[str, Any]], Any]


def handler_records(records: List[Any], event_type: EventType, model: Any = None) -> List[Any]:
    """The records of a batch as the record handler receives them, once they passed validation.

    Without ``model``, each becomes the record object of ``event_type``
    (:mod:`lambda_batch.processing.event_records`): a dict with the record's own keys that also has
    attributes (``record.body``, ``record.kinesis.data_as_json()``...). With ``model``,
    the records stay as they are and :func:`make_converter` turns each into the model.

    >>> handler_records([{"messageId": "m-1"}], EventType.SQS)[0].message_id
    'm-1'
    """
    if model is not None:
        return records
    from .event_records import record_class

    make = record_class(event_type)
    if make is None:
        return records
    made_with = getattr(records, "made_with", None)  # de-aggregated KPL records: made as they are read
    if made_with is not None:
        return made_with(make)  # type: ignore[no-any-return]
    return list(map(make, records))


def make_converter(model: Any) -> Optional[Converter]:
    """The function that turns a raw record into ``model``; ``None`` when ``model`` is ``None``.

    * a pydantic v2 model: ``model.model_validate(record)``;
    * a pydantic v1 model: ``model.parse_obj(record)``;
    * any other class or callable taking the record dict, such as Powertools' event
      source data classes (``SQSRecord``, ``KinesisStreamRecord``, ``DynamoDBRecord``).

    Example::

        from pydantic import BaseModel

        class Order(BaseModel):
            messageId: str
            body: str

        processor = BatchProcessor(EventType.SQS, model=Order)
    """
    if model is None:
        return None
    validate = getattr(model, "model_validate", None)
    if callable(validate):
        return validate  # type: ignore[no-any-return]
    parse_obj = getattr(model, "parse_obj", None)
    if callable(parse_obj):
        return parse_obj  # type: ignore[no-any-return]
    if callable(model):
        return model  # type: ignore[no-any-return]
    raise ConfigurationError(
        f"model must be a pydantic model or a class taking the record dict, not {model!r}"
    )
