"""Dispatcher benchmark, part 3: wall time against the moto server on loopback, against the alternatives."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any, Dict, List, Tuple

from benchmarks.harness import REGION, session, timed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layer"))

from lambda_batch import (  # noqa: E402
    DynamoBatchDispatcher,
    KinesisBatchDispatcher,
    SQSBatchDispatcher,
)


def bench_moto(count: int) -> List[Tuple[str, float, float, str]]:
    from emulator import start_moto_server

    server = start_moto_server()
    rows: List[Tuple[str, float, float, str]] = []
    try:
        s = session()
        endpoint = server.endpoint_url
        client_kwargs: Dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION}

        dynamodb = s.client("dynamodb", **client_kwargs)
        tables = []
        for _ in range(3):
            name = f"bench-{uuid.uuid4().hex[:8]}"
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            tables.append(name)
        items = [{"pk": f"k{i}", "n": i, "body": "x" * 200} for i in range(count)]

        # Clients and resources are made before the clock starts, for every contender.
        ours_d = DynamoBatchDispatcher(tables[0], partition_key="pk", boto3_session=s, **client_kwargs)
        ours_d.client  # noqa: B018
        naive_table = s.resource("dynamodb", **client_kwargs).Table(tables[1])
        writer_table = s.resource("dynamodb", **client_kwargs).Table(tables[2])

        def ours_dynamo() -> None:
            with ours_d:
                for item in items:
                    ours_d.submit_payload(item)

        def naive_dynamo() -> None:
            for item in items:
                naive_table.put_item(Item=item)

        def writer_dynamo() -> None:
            with writer_table.batch_writer() as writer:
                for item in items:
                    writer.put_item(Item=item)

        ours = timed(ours_dynamo)
        naive = timed(naive_dynamo)
        writer = timed(writer_dynamo)
        rows.append((f"DynamoDB, {count} items", ours, naive, f"{writer / ours:.2f}x"))

        kinesis = s.client("kinesis", **client_kwargs)
        streams = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for name in streams:
            kinesis.create_stream(StreamName=name, ShardCount=2)
        records = [{"user": f"u{i % 50}", "n": i, "body": "x" * 200} for i in range(count)]

        ours_k = KinesisBatchDispatcher(
            streams[0],
            partition_key_identifier="user",
            boto3_session=s,
            max_batch_bytes=5 * 1024 * 1024,
            **client_kwargs,
        )
        ours_k.client  # noqa: B018

        def ours_kinesis() -> None:
            with ours_k:
                for record in records:
                    ours_k.submit_payload(record)

        def naive_kinesis() -> None:
            import json

            for record in records:
                kinesis.put_record(
                    StreamName=streams[1], Data=json.dumps(record).encode(), PartitionKey=record["user"]
                )

        ours = timed(ours_kinesis)
        naive = timed(naive_kinesis)
        rows.append((f"Kinesis, {count} records", ours, naive, "-"))

        sqs = s.client("sqs", **client_kwargs)
        sqs_count = min(count, 300)  # moto's SQS slows with queue depth: keep it shallow
        urls = [sqs.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"] for _ in range(2)]
        messages = [{"n": i, "body": "x" * 200} for i in range(sqs_count)]

        ours_q = SQSBatchDispatcher(urls[0], boto3_session=s, **client_kwargs)
        ours_q.client  # noqa: B018

        def ours_sqs() -> None:
            with ours_q:
                for message in messages:
                    ours_q.submit_payload(message)

        def naive_sqs() -> None:
            import json

            for message in messages:
                sqs.send_message(QueueUrl=urls[1], MessageBody=json.dumps(message))

        ours = timed(ours_sqs)
        naive = timed(naive_sqs)
        rows.append((f"SQS, {sqs_count} messages", ours, naive, "-"))
    finally:
        server.stop()
    return rows


# -- 4. simulated 20 ms round trip: serial against concurrent -----------------------------------
