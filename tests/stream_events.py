"""Kinesis and DynamoDB Streams events built from real reads of the emulator.

``kinesis_event`` puts records on a moto stream, reads them back with GetRecords and
shapes them as Lambda's Kinesis event source mapping delivers them (data base64-encoded,
``eventID`` = ``<shard>:<sequence>``). ``dynamodb_stream_event`` writes items to a moto
table with a stream and reads the stream records the same way.
"""

from __future__ import annotations

import base64
import time
from typing import Any, Callable, Dict, List

ACCOUNT = "123456789012"


def kinesis_event(
    kinesis: Any, name: str, payloads: List[bytes], partition_key: str = "sensor-1"
) -> Dict[str, Any]:
    """Create stream ``name``, put ``payloads`` (in order, one partition key) and return the Lambda event."""
    kinesis.create_stream(StreamName=name, ShardCount=1)
    description: Dict[str, Any] = {}
    for _ in range(50):
        description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
        if description["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    for payload in payloads:
        kinesis.put_record(StreamName=name, Data=payload, PartitionKey=partition_key)
    shard = description["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = kinesis.get_records(ShardIterator=iterator, Limit=100)["Records"]
    assert len(records) == len(payloads)
    region = kinesis.meta.region_name
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": record["SequenceNumber"],
                    "data": base64.b64encode(record["Data"]).decode("ascii"),
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{record['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/consumer",
                "awsRegion": region,
                "eventSourceARN": description["StreamARN"],
            }
            for record in records
        ]
    }


def dynamodb_stream_event(
    dynamodb: Any, streams: Any, name: str, write: Callable[[str], None], expected: int
) -> Dict[str, Any]:
    """Create table ``name`` (key ``pk``, stream of new and old images), call ``write(name)``, and
    return the Lambda event of the ``expected`` stream records it produced."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = dynamodb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    write(name)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert len(records) == expected, records
    events = []
    for record in records:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, (int, float)):
            change["ApproximateCreationDateTime"] = int(created.timestamp())  # Lambda sends epoch seconds
        events.append({**record, "dynamodb": change, "eventSourceARN": stream_arn})
    return {"Records": events}
