"""BatchProcessor on events built from real reads of the emulator: SQS FIFO, Kinesis, DynamoDB Streams."""

from __future__ import annotations

import base64
import json

import pytest

from lambda_batch import BatchProcessor, EventType, MalformedEventError, process_partial_response
from tests.processing_events import FakeLambdaContext, make_queue, receive_sqs_event, send_bodies

pytestmark = pytest.mark.integration


def failures(response):
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_fifo_queue_event_reports_the_failure_and_everything_after_it(aws_client, unique_name):
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("native"), fifo=True)
    send_bodies(sqs, queue["url"], ["a1", "a2", "a3"], group="a")
    event = receive_sqs_event(sqs, queue, 3)
    handled = []

    def record_handler(record):
        handled.append(record["body"])
        if record["body"] == "a2":
            raise ValueError("cannot")

    response = process_partial_response(
        event, record_handler, BatchProcessor(EventType.SQS), FakeLambdaContext()
    )
    assert handled == ["a1", "a2"]
    assert failures(response) == [r["messageId"] for r in event["Records"][1:]]


def kinesis_event(kinesis, stream, count):
    description = kinesis.describe_stream(StreamName=stream)["StreamDescription"]
    shard = description["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = kinesis.get_records(ShardIterator=iterator, Limit=count)["Records"]
    return (
        shard,
        description["StreamARN"],
        {
            "Records": [
                {
                    "kinesis": {
                        "partitionKey": r["PartitionKey"],
                        "kinesisSchemaVersion": "1.0",
                        "data": base64.b64encode(r["Data"]).decode(),
                        "sequenceNumber": r["SequenceNumber"],
                        "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard}:{r['SequenceNumber']}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/consumer",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": description["StreamARN"],
                }
                for r in records
            ]
        },
    )


@pytest.mark.parametrize("stop", [False, True])
def test_kinesis_event_reports_sequence_numbers_lambda_resumes_from(aws_client, unique_name, stop):
    kinesis = aws_client("kinesis")
    stream = unique_name("orders")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    kinesis.put_records(
        StreamName=stream,
        Records=[{"Data": json.dumps({"n": n}).encode(), "PartitionKey": f"pk-{n}"} for n in range(6)],
    )
    shard, _, event = kinesis_event(kinesis, stream, 6)
    assert len(event["Records"]) == 6
    handled = []

    def record_handler(record):
        n = json.loads(base64.b64decode(record["kinesis"]["data"]))["n"]
        handled.append(n)
        if n == 2:
            raise ValueError("cannot")

    processor = BatchProcessor(EventType.KinesisDataStreams, stop_on_first_failure=stop)
    response = process_partial_response(event, record_handler, processor, FakeLambdaContext())
    sequences = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
    assert failures(response) == (sequences[2:] if stop else [sequences[2]])
    assert handled == ([0, 1, 2] if stop else [0, 1, 2, 3, 4, 5])
    # Lambda resumes at the lowest reported sequence number: reading from there gives record 2 onwards.
    lowest = min(failures(response), key=int)
    iterator = kinesis.get_shard_iterator(
        StreamName=stream,
        ShardId=shard,
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=lowest,
    )["ShardIterator"]
    again = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [json.loads(r["Data"])["n"] for r in again] == [2, 3, 4, 5]


def test_dynamodb_stream_event_reports_sequence_numbers(aws_client, unique_name):
    dynamodb, streams = aws_client("dynamodb"), aws_client("dynamodbstreams")
    table = unique_name("accounts")
    created = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = created["TableDescription"]["LatestStreamArn"]
    for n in range(4):
        dynamodb.put_item(TableName=table, Item={"id": {"S": f"acct-{n}"}, "balance": {"N": str(n * 10)}})
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    event = {"Records": [{**r, "eventSourceARN": stream_arn} for r in records]}
    for record in event["Records"]:  # JSON as Lambda delivers it: timestamps are numbers
        created_at = record["dynamodb"].get("ApproximateCreationDateTime")
        if created_at is not None and hasattr(created_at, "timestamp"):
            record["dynamodb"]["ApproximateCreationDateTime"] = created_at.timestamp()
    assert [r["eventSource"] for r in event["Records"]] == ["aws:dynamodb"] * 4

    def record_handler(record):
        if record["dynamodb"]["NewImage"]["id"]["S"] == "acct-1":
            raise ValueError("frozen account")

    response = process_partial_response(event, record_handler, BatchProcessor(EventType.DynamoDBStreams))
    assert failures(response) == [event["Records"][1]["dynamodb"]["SequenceNumber"]]


def test_deadline_guard_on_a_real_queue_event(aws_client, unique_name):
    import time

    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("slow"))
    send_bodies(sqs, queue["url"], [f"s-{n}" for n in range(5)])
    event = receive_sqs_event(sqs, queue, 5)

    def slow(record):
        time.sleep(0.1)

    processor = BatchProcessor(EventType.SQS, deadline_margin=0.5)
    response = process_partial_response(event, slow, processor, FakeLambdaContext(remaining_ms=720))
    reported = failures(response)
    assert 1 <= len(reported) <= 4
    assert reported == [r["messageId"] for r in event["Records"][5 - len(reported) :]]


def test_a_queue_event_given_to_a_stream_processor_is_refused(aws_client, unique_name):
    sqs = aws_client("sqs")
    queue = make_queue(sqs, unique_name("wrong"))
    send_bodies(sqs, queue["url"], ["x"])
    event = receive_sqs_event(sqs, queue, 1)
    handled = []
    with pytest.raises(MalformedEventError, match="eventSource 'aws:sqs', expected 'aws:kinesis'"):
        process_partial_response(event, handled.append, BatchProcessor(EventType.KinesisDataStreams))
    assert handled == []
