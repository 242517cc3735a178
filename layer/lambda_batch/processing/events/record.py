"""The record objects a record handler receives (a dict, with attributes as well), and models.

Each record is a ``dict`` subclass holding the record's own keys, so code written for
plain dicts keeps working (``record["body"]``, ``json.dumps(record)``, ``record == raw``),
and it also answers the attributes of Powertools for AWS Lambda's event source data
classes (``record.body``, ``record.json_body``, ``record.kinesis.data_as_json()``,
``record.dynamodb.new_image``...), under the same names and with the same return types.
It holds the event record's top-level keys (a shallow copy made once per record, before
the handler runs): the nested values are the event's own, and keys the handler sets or
deletes on it do not reach ``event["Records"]``.

Example:
    ```python
    from lambda_batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

    def record_handler(record):
        # or json.loads(b64decode(record["kinesis"]["data"]))
        order = record.kinesis.data_as_json()
        save(order, position=record.kinesis.sequence_number)
    ```
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import itemgetter, methodcaller

from ...errors import ConfigurationError
from .spec import EventType

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (cold start)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    Converter = Callable[[Dict[str, Any]], Any]

    _RecordDict = Dict[str, Any]
    _ReadOnlyMapping = Mapping[str, Any]
else:
    _RecordDict = dict
    _ReadOnlyMapping = Mapping


def _key(name: str, doc: str) -> Any:
    # A property read by a C-level getter: no Python frame per access.
    return property(itemgetter(name), doc=doc)


def _optional(name: str, doc: str) -> Any:
    # The same for a key that may be absent (None then).
    return property(methodcaller("get", name), doc=doc)


class _Dict(_RecordDict):
    __slots__ = ()

    #: ``(label, key)`` of what ``repr`` shows: ids and positions, never data nor key values.
    _repr_keys: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        # Logs show a record by its repr (so does a bound method's repr): never its data.
        shown = [f"{label}={self[key]!r}" for label, key in self._repr_keys if key in self]
        return f"{type(self).__name__}({', '.join(shown) if shown else f'keys={sorted(map(str, self))!r}'})"

    @property
    def raw_event(self) -> Dict[str, Any]:
        """The keys as a plain dict."""
        return dict(self)


class _Record(_Dict):
    __slots__ = ()

    event_source = _optional("eventSource", "Where the record comes from: ``aws:sqs``, ``aws:kinesis``...")
    event_source_arn = _optional("eventSourceARN", "The ARN of the queue or stream the record comes from.")
    aws_region = _optional("awsRegion", "The region of the event source, e.g. ``us-east-1``.")

    def __repr__(self) -> str:
        # The record's id and source (the queue's or stream's ARN), never its data.
        shown = [f"{label}={self[key]!r}" for label, key in self._repr_keys if key in self]
        source = self.get("eventSourceARN") or self.get("eventSource")
        shown.append(f"source={source!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


# -- the record class of a batch, or the caller's model ----------------------------------


def record_class(event_type: EventType) -> Optional[Callable[[Any], Any]]:
    """The record class a handler of ``event_type`` receives; ``None`` for a kind without one.

    Example:
        ```python
        record_class(EventType.SQS).__name__  # 'SQSRecord'
        ```
    """
    module, name = event_type.spec.record_class  # the event-spec table names the source's module
    from importlib import import_module  # the source's own module: loaded with its first batch

    return getattr(import_module(module, __package__), name)  # type: ignore[no-any-return]


def handler_records(records: List[Any], event_type: EventType, model: Any = None) -> List[Any]:
    """The records of a batch as the record handler receives them, once they passed validation.

    Without ``model``, each becomes the record object of ``event_type``
    (`lambda_batch.processing.events`): a dict with the record's own keys that also has
    attributes (``record.body``, ``record.kinesis.data_as_json()``...). With ``model``,
    the records stay as they are and `make_converter` turns each into the model.

    Example:
        ```python
        handler_records([{"messageId": "m-1"}], EventType.SQS)[0].message_id  # 'm-1'
        ```
    """
    if model is not None:
        return records
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

    Example:
        ```python
        from pydantic import BaseModel

        class Order(BaseModel):
            messageId: str
            body: str

        processor = BatchProcessor(EventType.SQS, model=Order)
        ```
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


__all__ = ["handler_records", "make_converter", "record_class"]
