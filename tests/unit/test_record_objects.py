"""Record objects: the handler gets a dict that also answers Powertools' data class attributes.

Every attribute is checked against Powertools' own data classes (a development
dependency) on the same records, so a handler written for Powertools reads the same values.
"""

from __future__ import annotations

import base64
import copy
import json
import pickle
import subprocess
import sys
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord as PtDynamoDBRecord,
)
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord as PtKinesisStreamRecord,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord as PtSQSRecord
from hypothesis import given
from hypothesis import strategies as st

from lambda_batch import (
    BatchProcessor,
    DynamoDBRecord,
    DynamoDBRecordEventName,
    EventType,
    KinesisStreamRecord,
    PartialSQSProcessor,
    SQSRecord,
    StreamViewType,
    process_partial_response,
)
from lambda_batch.processing.events.dynamodb import image_to_python, to_python
from tests.processing_events import dynamodb_record, kinesis_record, sqs_record

ROOT = Path(__file__).resolve().parents[2]


def fifo_sqs_record() -> dict:
    record = sqs_record(1, queue="orders.fifo", group="g-1", body='{"order": 7, "items": [1, 2]}')
    record["attributes"]["AWSTraceHeader"] = "Root=1-abc"
    record["messageAttributes"] = {
        "tenant": {
            "stringValue": "acme",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    return record


def properties(cls: type) -> list[str]:
    return sorted(name for name in dir(cls) if isinstance(getattr(cls, name, None), property))


SQS_SKIPPED = {"decoded_nested_s3_event", "decoded_nested_sns_event"}  # Powertools' own nested classes


def test_sqs_record_answers_every_powertools_attribute_with_the_same_value():
    raw = fifo_sqs_record()
    ours, theirs = SQSRecord(raw), PtSQSRecord(raw)
    for name in properties(PtSQSRecord):
        if name in SQS_SKIPPED:
            continue
        mine, pt = getattr(ours, name), getattr(theirs, name)
        if name in ("attributes", "message_attributes"):
            continue
        assert mine == (pt.raw_event if hasattr(pt, "raw_event") else pt), name
    for name in properties(type(theirs.attributes)):
        if name != "raw_event":
            assert getattr(ours.attributes, name) == getattr(theirs.attributes, name), name
    assert ours.attributes.approximate_receive_count == "1"
    assert ours.attributes.message_group_id == "g-1"
    assert ours.message_attributes["tenant"].string_value == "acme"
    assert ours.message_attributes["tenant"].data_type == "String"
    assert ours.message_attributes["absent"] is None  # as Powertools: None, not KeyError
    assert theirs.message_attributes["absent"] is None
    assert ours.json_body == {"order": 7, "items": [1, 2]}
    assert (
        ours.queue_url == theirs.queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo"
    )


def test_kinesis_record_answers_every_powertools_attribute_with_the_same_value():
    raw = kinesis_record(3, shard="shardId-000000000004", partition_key="customer-9")
    raw["kinesis"]["data"] = base64.b64encode(json.dumps({"n": 3, "text": "héllo"}).encode()).decode()
    ours, theirs = KinesisStreamRecord(raw), PtKinesisStreamRecord(raw)
    for name in properties(PtKinesisStreamRecord):
        if name not in ("kinesis", "raw_event"):
            assert getattr(ours, name) == getattr(theirs, name), name
    for name in properties(type(theirs.kinesis)):
        if name != "raw_event":
            assert getattr(ours.kinesis, name) == getattr(theirs.kinesis, name), name
    assert ours.kinesis.data_as_bytes() == theirs.kinesis.data_as_bytes()
    assert ours.kinesis.data_as_text() == theirs.kinesis.data_as_text()
    assert ours.kinesis.data_as_json() == theirs.kinesis.data_as_json() == {"n": 3, "text": "héllo"}
    assert ours.kinesis.sequence_number == raw["kinesis"]["sequenceNumber"]
    assert ours.kinesis.partition_key == "customer-9"
    assert isinstance(ours.kinesis.approximate_arrival_timestamp, float)


def test_kinesis_compressed_data_as_cloudwatch_logs_send_it():
    payload = {"logGroup": "/aws/lambda/x", "logEvents": [{"id": "1", "message": "hi"}]}
    raw = kinesis_record(1)
    raw["kinesis"]["data"] = base64.b64encode(zlib.compress(json.dumps(payload).encode())).decode()
    assert KinesisStreamRecord(raw).kinesis.data_zlib_compressed_as_json() == payload
    assert PtKinesisStreamRecord(raw).kinesis.data_zlib_compressed_as_json() == payload


def dynamodb_change() -> dict:
    raw = dynamodb_record(5)
    raw["eventName"] = "MODIFY"
    raw["dynamodb"].update(
        ApproximateCreationDateTime=1700000000,
        Keys={"pk": {"S": "order#5"}, "sk": {"N": "5"}},
        NewImage={
            "pk": {"S": "order#5"},
            "sk": {"N": "5"},
            "total": {"N": "19.90"},
            "paid": {"BOOL": True},
            "note": {"NULL": True},
            "tags": {"SS": ["a", "b"]},
            "sizes": {"NS": ["1", "2.5"]},
            "lines": {"L": [{"M": {"sku": {"S": "x"}, "qty": {"N": "2"}}}]},
            "blob": {"B": "aGVsbG8="},
        },
        OldImage={"pk": {"S": "order#5"}, "total": {"N": "9"}},
    )
    raw["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return raw


def test_dynamodb_record_deserializes_images_as_powertools_does():
    raw = dynamodb_change()
    ours, theirs = DynamoDBRecord(raw), PtDynamoDBRecord(raw)
    for name in (
        "aws_region",
        "event_id",
        "event_source",
        "event_source_arn",
        "event_version",
        "user_identity",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.event_name is DynamoDBRecordEventName.MODIFY
    assert (ours.event_name.name, ours.event_name.value) == (theirs.event_name.name, theirs.event_name.value)
    for name in ("keys", "new_image", "old_image", "sequence_number", "size_bytes"):
        assert getattr(ours.dynamodb, name) == getattr(theirs.dynamodb, name), name
    assert ours.dynamodb.approximate_creation_date_time == theirs.dynamodb.approximate_creation_date_time
    assert ours.dynamodb.stream_view_type is StreamViewType.NEW_AND_OLD_IMAGES
    assert ours.dynamodb.stream_view_type.name == theirs.dynamodb.stream_view_type.name
    image = ours.dynamodb.new_image
    assert image["total"] == Decimal("19.90") and image["tags"] == {"a", "b"}
    assert image["lines"] == [{"sku": "x", "qty": Decimal("2")}]
    assert ours.dynamodb.keys == {"pk": "order#5", "sk": Decimal("5")}
    stream = ours.dynamodb
    assert stream.new_image is stream.new_image  # converted once
    assert stream["NewImage"]["total"] == {"N": "19.90"}  # the typed values stay readable
    assert stream.get("SequenceNumber") == raw["dynamodb"]["SequenceNumber"]


def test_dynamodb_record_without_images_or_dynamodb_part():
    raw = dynamodb_record(1)
    raw["dynamodb"].pop("NewImage")
    record = DynamoDBRecord(raw)
    assert record.dynamodb.new_image == {} == PtDynamoDBRecord(raw).dynamodb.new_image
    assert record.dynamodb.old_image == {}
    assert DynamoDBRecord({"eventSource": "aws:dynamodb"}).dynamodb is None
    assert DynamoDBRecord({"eventSource": "aws:dynamodb"}).event_name is None


dynamodb_values = st.recursive(
    st.one_of(
        st.text().map(lambda s: {"S": s}),
        st.decimals(
            allow_nan=False, allow_infinity=False, places=4, min_value=-(10**20), max_value=10**20
        ).map(lambda d: {"N": str(d)}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.lists(st.text(), min_size=1, unique=True).map(lambda v: {"SS": v}),
        st.lists(st.integers(-(10**30), 10**30).map(str), min_size=1, unique=True).map(lambda v: {"NS": v}),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(max_size=5), inner, max_size=4).map(lambda v: {"M": v}),
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), dynamodb_values, max_size=6))
def test_dynamodb_values_match_powertools_and_boto3(image):
    from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer as PtDeserializer
    from boto3.dynamodb.types import TypeDeserializer as Boto3Deserializer

    ours = image_to_python(image)
    assert ours == {k: PtDeserializer().deserialize(v) for k, v in image.items()}
    assert ours == {k: Boto3Deserializer().deserialize(v) for k, v in image.items()}


def test_dynamodb_numbers_keep_38_digits_and_refuse_unknown_types():
    assert to_python({"N": "1" + "0" * 40}) == Decimal("1E+40")
    assert to_python({"N": "12345678901234567890123456789012345678"}) == Decimal(
        "12345678901234567890123456789012345678"
    )
    with pytest.raises(TypeError, match="'X'"):
        to_python({"X": "1"})
    with pytest.raises(TypeError, match="exactly one type key"):
        to_python({"S": "a", "N": "1"})


@pytest.mark.parametrize(
    "raw",
    [fifo_sqs_record(), kinesis_record(2), dynamodb_change()],
    ids=["sqs", "kinesis", "dynamodb"],
)
def test_a_record_object_is_still_the_dict_the_event_carried(raw):
    cls = {"aws:sqs": SQSRecord, "aws:kinesis": KinesisStreamRecord, "aws:dynamodb": DynamoDBRecord}[
        raw["eventSource"]
    ]
    record = cls(raw)
    assert isinstance(record, dict)
    assert record == raw and raw == record
    assert json.dumps(record, sort_keys=True) == json.dumps(raw, sort_keys=True)
    assert dict(record) == raw and {**record} == raw
    assert list(record.keys()) == list(raw.keys()) and record.get("eventSource") == raw["eventSource"]
    assert copy.deepcopy(record) == raw
    clone = pickle.loads(pickle.dumps(record))
    assert clone == raw and type(clone) is cls
    assert record.raw_event == raw


def test_json_body_is_parsed_once_and_a_bad_body_fails_only_when_read():
    record = SQSRecord(sqs_record(1, body='{"a": [1]}'))
    assert record.json_body is record.json_body
    bad = SQSRecord(sqs_record(2, body="not json"))
    assert bad.body == "not json"
    with pytest.raises(json.JSONDecodeError):
        _ = bad.json_body


def test_handlers_receive_record_objects_for_each_event_type():
    seen = []

    def handler(record):
        seen.append(type(record).__name__)
        if isinstance(record, SQSRecord):
            return (record.message_id, record["body"], record.attributes.approximate_receive_count)
        if isinstance(record, KinesisStreamRecord):
            return (record.kinesis.sequence_number, record.kinesis.data_as_json())
        return (record.event_name.name, record.dynamodb.new_image)

    for event_type, raw in [
        (EventType.SQS, sqs_record(1)),
        (EventType.KinesisDataStreams, kinesis_record(1)),
        (EventType.DynamoDBStreams, dynamodb_record(1)),
    ]:
        processor = BatchProcessor(event_type)
        with processor([raw], handler) as proc:
            ((status, result, _),) = proc.process()
        assert status == "success", result
    assert seen == ["SQSRecord", "KinesisStreamRecord", "DynamoDBRecord"]


def test_the_partial_response_names_the_failing_record_read_through_attributes():
    records = [sqs_record(n, body=json.dumps({"qty": n})) for n in range(1, 5)]

    def handler(record):
        if record.json_body["qty"] % 2 == 0:
            raise ValueError("even quantities are refused")

    processor = BatchProcessor(EventType.SQS)
    response = process_partial_response({"Records": records}, handler, processor)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-4"}]}
    assert [record.message_id for record in processor.fail_messages] == ["m-2", "m-4"]
    assert processor.success_messages == [records[0], records[2]]


def test_the_v1_api_handler_reads_the_body_both_ways():
    bodies = []
    processor = PartialSQSProcessor()
    with processor([sqs_record(1)], lambda record: bodies.append((record["body"], record.body))) as proc:
        proc.process()
    assert bodies == [("body-1", "body-1")]


def test_a_model_still_replaces_the_record_object():
    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):
        messageId: str
        body: str

    got = []
    processor = BatchProcessor(EventType.SQS, model=Message)
    with processor([sqs_record(1)], got.append) as proc:
        proc.process()
    assert got == [Message(messageId="m-1", body="body-1")]

    processor = BatchProcessor(EventType.SQS, model=PtSQSRecord)  # Powertools' own data class as a model
    with processor([sqs_record(2)], lambda record: got.append(record.message_id)) as proc:
        proc.process()
    assert got[-1] == "m-2"


def test_creating_and_reading_records_imports_neither_boto3_nor_typing_nor_decimal():
    code = (
        "import sys\n"
        "from lambda_batch import BatchProcessor, EventType, process_partial_response\n"
        "from tests.processing_events import dynamodb_record\n"
        "before = set(sys.modules)\n"
        "p = BatchProcessor(EventType.DynamoDBStreams)\n"
        "process_partial_response({'Records': [dynamodb_record(1)]},"
        " lambda r: (r.event_name, r.dynamodb.sequence_number), p)\n"
        "print(sorted(m for m in set(sys.modules) - before"
        " if m.split('.')[0] in ('boto3', 'botocore', 'typing', 'decimal')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layer'}:{ROOT}"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("mode", ["threads", "async"])
def test_concurrent_and_async_handlers_receive_record_objects(mode):
    records = [kinesis_record(n, shard=f"shardId-00000000000{n % 2}") for n in range(1, 7)]
    seen = []

    def handler(record):
        seen.append((type(record).__name__, record.kinesis.sequence_number))

    async def async_handler(record):
        seen.append((type(record).__name__, record.kinesis.sequence_number))

    processor = BatchProcessor(EventType.KinesisDataStreams, max_concurrency=3)
    response = process_partial_response(
        {"Records": records}, handler if mode == "threads" else async_handler, processor
    )
    assert response == {"batchItemFailures": []}
    assert sorted(seen) == sorted(("KinesisStreamRecord", r["kinesis"]["sequenceNumber"]) for r in records)


def test_a_malformed_event_is_refused_before_any_record_object_is_made():
    from lambda_batch import MalformedEventError

    calls = []
    processor = BatchProcessor(EventType.SQS)
    broken = {**sqs_record(2), "messageId": ""}
    with pytest.raises(MalformedEventError, match=r"record 1"):
        process_partial_response({"Records": [sqs_record(1), broken]}, calls.append, processor)
    assert calls == []
