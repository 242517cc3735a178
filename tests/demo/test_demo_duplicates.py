"""The demo's duplicate deliveries (demo/duplicates.py) and its effect count (demo/effects.py), on moto,
with in-process handlers: no build, no stack, a few tens of messages."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from demo.cli import format_summary
from demo.duplicates import DuplicateCounts, DuplicatingEventSource
from demo.effects import EffectCounts, read_effects
from demo.ledger import LedgerCounts
from demo.pipeline import CallCounts, DemoError, DemoOptions, DemoResult, PhaseTimes

pytestmark = pytest.mark.integration


def send(sqs: Any, url: str, count: int) -> List[str]:
    """``count`` messages (bodies ``{"id": "job-<n>"}``); their ids."""
    ids = []
    for start in range(0, count, 10):
        entries = [
            {"Id": str(n), "MessageBody": f'{{"id": "job-{n}"}}'}
            for n in range(start, min(count, start + 10))
        ]
        ids += [
            entry["MessageId"]
            for entry in sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]
        ]
    return ids


class CountingHandler:
    """A consumer without idempotency: runs its effect for every record it is given."""

    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, event: Dict[str, Any], context: Any) -> Dict[str, Any]:
        with self.lock:
            self.runs.update(record["messageId"] for record in event["Records"])
        return {"batchItemFailures": []}


def drain(source: DuplicatingEventSource) -> None:
    """Poll until the queue and the messages waiting to be handed again are both empty."""
    for _ in range(100):
        if source.poll_once(wait_seconds=0) is None and not source.pending:
            return
    raise AssertionError("the event source did not run dry")


def test_some_messages_are_handed_twice_and_a_batch_to_two_pollers(aws_client, unique_name) -> None:
    """Without idempotency every injected duplicate runs an effect again: the injection is real."""
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("dup"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    ids = send(sqs, url, 30)
    first, second = CountingHandler(), CountingHandler()
    source = DuplicatingEventSource(
        first,
        url,
        sqs_client=sqs,
        second_handler=second,
        duplicates=4,
        concurrent_batches=1,
        batch_size=10,
        report_batch_item_failures=True,
    )

    drain(source)

    runs = first.runs + second.runs
    assert set(runs) == set(ids)  # every message handled, and nothing else
    d = source.duplicates
    assert (d.redelivered, d.concurrent_batches, d.concurrent_records) == (4, 1, 10)
    assert sum(runs.values()) == len(ids) + d.delivered  # each duplicate ran the effect again
    assert sum(second.runs.values()) == 10  # the second poller had the first batch, at the same time
    assert (
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )


def test_a_duplicate_is_never_handed_a_third_time_nor_is_a_large_payloads_pointer(
    aws_client, unique_name
) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("dup"))["QueueUrl"]
    pointer = '["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "b", "s3Key": "k"}]'
    sqs.send_message(QueueUrl=url, MessageBody=pointer)
    handler = CountingHandler()
    source = DuplicatingEventSource(handler, url, sqs_client=sqs, duplicates=5, batch_size=10)

    drain(source)

    assert source.duplicates.delivered == 0  # the pointer's payload was deleted with its message
    assert list(handler.runs.values()) == [1]
    send(sqs, url, 1)
    drain(source)
    assert sorted(handler.runs.values()) == [1, 2] and source.duplicates.redelivered == 1


def test_bad_settings_are_refused(aws_client, unique_name) -> None:
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=unique_name("dup"))["QueueUrl"]
    with pytest.raises(ValueError, match="second_handler"):
        DuplicatingEventSource(CountingHandler(), url, sqs_client=sqs, concurrent_batches=1)
    with pytest.raises(ValueError, match="0 or more"):
        DuplicatingEventSource(CountingHandler(), url, sqs_client=sqs, duplicates=-1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"duplicates": -1}, "--duplicates must be 0 or more"),
        ({"concurrent_batches": -1}, "--concurrent-batches must be 0 to 100"),
    ],
)
def test_bad_duplicate_options_are_refused_before_anything_runs(
    options: Dict[str, Any], message: str
) -> None:
    with pytest.raises(DemoError, match=message):
        DemoOptions(**options).check()


def test_effects_are_read_back_once_twice_or_never(aws_client, unique_name) -> None:
    dynamodb = aws_client("dynamodb")
    table = unique_name("results")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    jobs = [f"job-{n}" for n in range(150)]  # two BatchGetItem calls
    for job, times in [(j, 1) for j in jobs[:-2]] + [(jobs[-2], 2)]:
        for _ in range(times):
            dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": f"{job}#handled"}},
                UpdateExpression="ADD handled :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    effects = read_effects(dynamodb, table, jobs)

    assert (effects.checked, effects.once, effects.handler_runs) == (150, 148, 150)
    assert effects.duplicated_ids == [jobs[-2]] and effects.missing_ids == [jobs[-1]]


def result_with(effects: EffectCounts) -> DemoResult:
    counts = LedgerCounts(
        requested=10, returned_unsent=0, sent=10, processed=10, retried=0, deliveries=10, dlq=0,
        in_queue=0, lost=0, poison_sent=0, poison_in_dlq=0, poison_processed=0, good_in_dlq=0,
    )  # fmt: skip
    calls = CallCounts(calls=1, one_per_message=10)
    return DemoResult(
        counts=counts,
        producer_calls=calls,
        consumer_calls=calls,
        event_source_calls=calls,
        times=PhaseTimes(),
        settings={},
        invocations={"producer": 1, "consumer": 2, "consumer_errors": 0, "second_poller": 1},
        counted_on_wire=True,
        messages_asked=10,
        duplicates=DuplicateCounts(redelivered=2, concurrent_batches=1, concurrent_records=5),
        effects=effects,
    )


@pytest.mark.parametrize(
    ("effects", "ok"),
    [
        (EffectCounts(checked=10, once=10, handler_runs=10), True),
        (EffectCounts(checked=10, once=9, duplicated_ids=["job-3"], handler_runs=11), False),
        (EffectCounts(checked=10, once=9, missing_ids=["job-4"], handler_runs=9), False),
    ],
)
def test_a_duplicated_or_missing_effect_makes_the_run_not_ok(effects: EffectCounts, ok: bool) -> None:
    result = result_with(effects)
    summary = format_summary(result)
    assert result.ok is ok
    assert "  duplicates delivered         7   (2 messages handed twice, 5 records in 1 batch" in summary
    assert f"  effects duplicated    {effects.duplicated:>8}" in summary
    assert summary.splitlines()[-1 if ok else -2].startswith("OK" if ok else "NOT OK")
    if not ok:
        assert ("job-3" if effects.duplicated else "job-4") in summary.splitlines()[-1]


def test_with_the_layers_idempotency_no_duplicate_runs_an_effect_again(
    aws_client, boto3_session, endpoint_url, unique_name
) -> None:
    """The same injection in front of two execution environments of a consumer using ``Idempotency``:
    a message handed twice is not handled again, and of a batch given to two pollers at once, the
    second finds every record in progress at the first (made certain: the first handles its records
    only once the second has answered) and reports them failed; each effect runs exactly once."""
    from lambda_batch import BatchProcessor, EventType, Idempotency, process_partial_response

    sqs, dynamodb = aws_client("sqs"), aws_client("dynamodb")
    url = sqs.create_queue(QueueName=unique_name("dup"), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    table = unique_name("idempotency")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ids = send(sqs, url, 30)
    effects: Counter[str] = Counter()
    lock = threading.Lock()
    first_holds_claims, second_answered = threading.Event(), threading.Event()

    def record_handler(record: Any) -> None:
        first_holds_claims.set()
        second_answered.wait(10)  # set once the second poller is done (or is not in this batch)
        with lock:
            effects[record["messageId"]] += 1

    def environment() -> Any:
        """One execution environment: its own processor on the shared table."""
        processor = BatchProcessor(
            EventType.SQS,
            idempotency=Idempotency(
                table, boto3_session=boto3_session, endpoint_url=endpoint_url, region_name="us-east-1"
            ),
            raise_on_entire_batch_failure=False,
        )
        return lambda event, context: process_partial_response(event, record_handler, processor, context)

    first, second = environment(), environment()
    second_responses: List[Dict[str, Any]] = []

    def second_poller(event: Dict[str, Any], context: Any) -> Any:
        first_holds_claims.wait(10)
        try:
            second_responses.append(second(event, context))
            return second_responses[-1]
        finally:
            second_answered.set()

    source = DuplicatingEventSource(
        first,
        url,
        sqs_client=sqs,
        second_handler=second_poller,
        duplicates=4,
        concurrent_batches=1,
        batch_size=10,
        report_batch_item_failures=True,
    )

    drain(source)

    assert source.duplicates.delivered == 4 + 10
    assert effects == Counter(dict.fromkeys(ids, 1))  # every message's effect, once
    # the second poller found the first batch's 10 records in progress and handed them back
    (response,) = second_responses
    assert len(response["batchItemFailures"]) == 10


def conflicting_claims(dynamodb: Any, table: str, writers: int) -> Tuple[List[int], List[str], List[Any]]:
    """``writers`` threads claim the same 10 keys at once, each in its own order (so that their
    conditions fail part-way through): the writers that won, the error codes of the others, the items."""
    from botocore.exceptions import ClientError

    orders = [[f"k{(n + shift) % 10}" for n in range(10)] for shift in range(writers)]
    won: List[int] = []
    codes: List[str] = []
    start = threading.Barrier(writers)

    def claim(writer: int) -> None:
        start.wait()
        puts = [
            {
                "Put": {
                    "TableName": table,
                    "Item": {"id": {"S": key}, "owner": {"N": str(writer)}},
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
            for key in orders[writer]
        ]
        try:
            dynamodb.transact_write_items(TransactItems=puts)
            won.append(writer)
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, codes, dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]


def test_the_emulators_dynamodb_transactions_are_isolated(aws_client, unique_name) -> None:
    """Conflicting TransactWriteItems at the same time: exactly one wins every key, and what the
    losers' cancellations put back never undoes the winner's writes (moto alone restores a copy of
    the whole table over them: two pollers could then both claim a record)."""
    dynamodb = aws_client("dynamodb")
    for _ in range(10):  # without the emulator's lock, 3 rounds in 20 went wrong here
        table = unique_name("claims")
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        won, codes, items = conflicting_claims(dynamodb, table, writers=6)
        assert len(won) == 1 and codes == ["TransactionCanceledException"] * 5
        assert sorted(i["id"]["S"] for i in items) == [f"k{n}" for n in range(10)]
        assert {i["owner"]["N"] for i in items} == {str(won[0])}
