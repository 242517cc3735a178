"""BatchProcessor and process_partial_response: native partial responses for SQS, FIFO, Kinesis, DynamoDB."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time

import pytest

from lambda_batch import (
    BasePartialProcessor,
    BatchProcessingError,
    BatchProcessor,
    ConfigurationError,
    DeadlineReachedError,
    EventType,
    MalformedEventError,
    PreviousRecordFailedError,
    batch_processor,
    process_partial_response,
)
from tests.processing_events import FakeLambdaContext, dynamodb_record, kinesis_record, sqs_record

FIFO = "orders.fifo"


def failures(response):
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def fail_on(*bad_bodies):
    calls = []

    def record_handler(record):
        calls.append(record["body"])
        if record["body"] in bad_bodies:
            raise ValueError(f"cannot handle {record['messageId']}")
        return record["body"]

    record_handler.calls = calls
    return record_handler


# -- SQS standard ---------------------------------------------------------------------


def test_only_the_failed_messages_are_reported_in_order():
    event = {"Records": [sqs_record(n) for n in range(6)]}
    handler = fail_on("body-1", "body-4")
    response = process_partial_response(event, handler, BatchProcessor(EventType.SQS))
    assert failures(response) == ["m-1", "m-4"]
    assert handler.calls == [f"body-{n}" for n in range(6)]  # every record reached the handler


def test_all_success_reports_nothing():
    processor = BatchProcessor(EventType.SQS)
    response = process_partial_response({"Records": [sqs_record(n) for n in range(3)]}, fail_on(), processor)
    assert response == {"batchItemFailures": []}
    assert [r["messageId"] for r in processor.success_messages] == ["m-0", "m-1", "m-2"]


def test_process_returns_one_tuple_per_record_in_order():
    records = [sqs_record(n) for n in range(3)]
    processor = BatchProcessor(EventType.SQS)
    with processor(records, fail_on("body-1")) as proc:
        results = proc.process()
    assert results == [
        ("success", "body-0", records[0]),
        ("fail", "ValueError:cannot handle m-1", records[1]),
        ("success", "body-2", records[2]),
    ]
    assert processor.fail_messages == [records[1]]
    assert processor.exceptions[0][0] is ValueError


def test_entire_batch_failure_raises_by_default_and_lists_every_failure_on_request():
    event = {"Records": [sqs_record(n) for n in range(3)]}
    handler = fail_on("body-0", "body-1", "body-2")
    with pytest.raises(BatchProcessingError, match="All records failed") as raised:
        process_partial_response(event, handler, BatchProcessor(EventType.SQS))
    assert len(raised.value.child_exceptions) == 3
    response = process_partial_response(
        event, handler, BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    )
    assert failures(response) == ["m-0", "m-1", "m-2"]


def test_empty_batch_is_an_empty_response():
    assert process_partial_response({"Records": []}, fail_on(), BatchProcessor(EventType.SQS)) == {
        "batchItemFailures": []
    }


# -- FIFO -----------------------------------------------------------------------------


def test_fifo_stops_at_the_first_failure_and_returns_every_later_record():
    records = [sqs_record(n, queue=FIFO, group="g1" if n % 2 else "g2") for n in range(6)]
    handler = fail_on("body-2")
    processor = BatchProcessor(EventType.SQS)
    response = process_partial_response({"Records": records}, handler, processor)
    assert handler.calls == ["body-0", "body-1", "body-2"]
    assert failures(response) == ["m-2", "m-3", "m-4", "m-5"]
    assert [info[0] for info in processor.exceptions] == [ValueError] + [PreviousRecordFailedError] * 3
    assert "m-2" in str(processor.exceptions[1][1])
    assert processor.is_fifo


def test_fifo_skip_group_on_error_returns_only_the_failed_group():
    records = [sqs_record(n, queue=FIFO, group="odd" if n % 2 else "even") for n in range(6)]
    handler = fail_on("body-1")
    response = process_partial_response(
        {"Records": records}, handler, BatchProcessor(EventType.SQS, skip_group_on_error=True)
    )
    assert handler.calls == ["body-0", "body-1", "body-2", "body-4"]
    assert failures(response) == ["m-1", "m-3", "m-5"]


def test_fifo_whole_batch_failure_raises_or_returns_by_option():
    records = [sqs_record(n, queue=FIFO, group="g") for n in range(3)]
    with pytest.raises(BatchProcessingError):
        process_partial_response({"Records": records}, fail_on("body-0"), BatchProcessor(EventType.SQS))
    response = process_partial_response(
        {"Records": records},
        fail_on("body-0"),
        BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False),
    )
    assert failures(response) == ["m-0", "m-1", "m-2"]


@pytest.mark.parametrize("skip_group", [False, True])
def test_fifo_with_threads_keeps_order_within_each_group(skip_group):
    groups = ["a", "b", "c"]
    records = [sqs_record(n, queue=FIFO, group=groups[n % 3]) for n in range(30)]
    seen = {g: [] for g in groups}
    lock = threading.Lock()

    def record_handler(record):
        time.sleep(0.002)
        with lock:
            seen[record["attributes"]["MessageGroupId"]].append(int(record["body"].split("-")[1]))
        if record["body"] == "body-13":  # group b
            raise ValueError("no")

    processor = BatchProcessor(EventType.SQS, max_concurrency=3, skip_group_on_error=skip_group)
    response = process_partial_response({"Records": records}, record_handler, processor)
    for group, numbers in seen.items():
        assert numbers == sorted(numbers), group
    failed = failures(response)
    assert "m-13" in failed
    group_b_after = [f"m-{n}" for n in range(16, 30, 3)]
    assert set(group_b_after) <= set(failed)  # nothing of group b after its failure succeeded
    assert all(n not in seen["b"] for n in range(16, 30, 3))
    if skip_group:
        assert set(failed) == {"m-13", *group_b_after}
        assert seen["a"] == list(range(0, 30, 3))


# -- streams ----------------------------------------------------------------------------


def test_kinesis_reports_sequence_numbers():
    records = [kinesis_record(n) for n in range(1, 5)]
    calls = []

    def handler(record):
        calls.append(record["kinesis"]["sequenceNumber"])
        if record["kinesis"]["sequenceNumber"].endswith("2"):
            raise RuntimeError("boom")

    response = process_partial_response(
        {"Records": records}, handler, BatchProcessor(EventType.KinesisDataStreams)
    )
    assert failures(response) == [records[1]["kinesis"]["sequenceNumber"]]
    assert len(calls) == 4


def test_kinesis_stop_on_first_failure_skips_work_lambda_would_redo():
    records = [kinesis_record(n) for n in range(1, 6)]
    calls = []

    def handler(record):
        calls.append(record)
        if record == records[1]:  # the handler gets a record object equal to the event's dict
            raise RuntimeError("boom")

    processor = BatchProcessor(EventType.KinesisDataStreams, stop_on_first_failure=True)
    response = process_partial_response({"Records": records}, handler, processor)
    assert len(calls) == 2
    assert failures(response) == [r["kinesis"]["sequenceNumber"] for r in records[1:]]


def test_kinesis_threads_keep_order_per_shard():
    records = [kinesis_record(n, shard=f"shardId-{n % 2:012d}") for n in range(1, 21)]
    order = {}
    lock = threading.Lock()

    def handler(record):
        time.sleep(0.001)
        with lock:
            order.setdefault(record["eventID"].split(":")[0], []).append(record["kinesis"]["sequenceNumber"])

    processor = BatchProcessor(EventType.KinesisDataStreams, max_concurrency=4)
    assert process_partial_response({"Records": records}, handler, processor) == {"batchItemFailures": []}
    assert len(order) == 2
    for sequence in order.values():
        assert sequence == sorted(sequence)


def test_dynamodb_reports_sequence_numbers():
    records = [dynamodb_record(n) for n in range(1, 4)]

    def handler(record):
        if record["dynamodb"]["Keys"]["Id"]["N"] == "3":
            raise KeyError("missing")

    response = process_partial_response(
        {"Records": records}, handler, BatchProcessor(EventType.DynamoDBStreams)
    )
    assert failures(response) == [records[2]["dynamodb"]["SequenceNumber"]]


# -- deadline guard ---------------------------------------------------------------------


def test_deadline_guard_returns_unstarted_records_as_failures():
    records = [sqs_record(n) for n in range(10)]
    started = []

    def slow(record):
        started.append(record["messageId"])
        time.sleep(0.05)

    processor = BatchProcessor(EventType.SQS, deadline_margin=0.2)
    response = process_partial_response(
        {"Records": records}, slow, processor, FakeLambdaContext(remaining_ms=340)
    )
    assert 1 <= len(started) < 10
    assert failures(response) == [f"m-{n}" for n in range(len(started), 10)]
    assert all(info[0] is DeadlineReachedError for info in processor.exceptions)


def test_no_context_or_no_margin_means_no_guard():
    records = [sqs_record(n) for n in range(3)]
    assert process_partial_response({"Records": records}, fail_on(), BatchProcessor(EventType.SQS)) == {
        "batchItemFailures": []
    }
    processor = BatchProcessor(EventType.SQS, deadline_margin=None)
    response = process_partial_response(
        {"Records": records}, fail_on(), processor, FakeLambdaContext(remaining_ms=0)
    )
    assert response == {"batchItemFailures": []}


def test_context_is_read_once_not_per_record():
    class CountingContext(FakeLambdaContext):
        reads = 0

        def get_remaining_time_in_millis(self):
            CountingContext.reads += 1
            return super().get_remaining_time_in_millis()

    records = [sqs_record(n) for n in range(50)]
    process_partial_response(
        {"Records": records}, fail_on(), BatchProcessor(EventType.SQS), CountingContext()
    )
    assert CountingContext.reads == 1


# -- lambda_context, typed records, concurrency --------------------------------------------


def test_handler_declaring_lambda_context_receives_it():
    seen = []

    def handler(record, lambda_context):
        seen.append(lambda_context.function_name)

    def keyword_only(record, *, lambda_context=None):
        seen.append(lambda_context)

    context = FakeLambdaContext()
    process_partial_response({"Records": [sqs_record(1)]}, handler, BatchProcessor(EventType.SQS), context)
    process_partial_response(
        {"Records": [sqs_record(1)]}, keyword_only, BatchProcessor(EventType.SQS), context
    )
    assert seen == ["test-function", context]


def test_decorated_handler_declaring_lambda_context_receives_it():
    def logged(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)

        return wrapper

    seen = []

    @logged
    def handler(record, lambda_context):
        seen.append(lambda_context)

    context = FakeLambdaContext()
    process_partial_response({"Records": [sqs_record(1)]}, handler, BatchProcessor(EventType.SQS), context)
    assert seen == [context]


def test_pydantic_model_validation_failure_is_a_per_record_failure_and_logs_no_body(caplog):
    from pydantic import BaseModel

    class Order(BaseModel):
        messageId: str
        body: int

    records = [sqs_record(1, body="41"), sqs_record(2, body="secret-customer-data"), sqs_record(3, body="43")]
    got = []
    processor = BatchProcessor(EventType.SQS, model=Order)
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        response = process_partial_response(
            {"Records": records}, lambda order: got.append(order.body), processor
        )
    assert got == [41, 43]
    assert failures(response) == ["m-2"]
    assert "m-2" in caplog.text
    assert "secret-customer-data" not in caplog.text


def test_powertools_data_class_as_model():
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    got = []
    processor = BatchProcessor(EventType.SQS, model=SQSRecord)
    process_partial_response({"Records": [sqs_record(1)]}, lambda record: got.append(record.body), processor)
    assert got == ["body-1"]


def test_threads_are_bounded_and_results_stay_in_record_order():
    records = [sqs_record(n) for n in range(12)]
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def handler(record):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        if record["messageId"] == "m-5":
            raise ValueError("five")
        return record["messageId"]

    processor = BatchProcessor(EventType.SQS, max_concurrency=3)
    with processor(records, handler) as proc:
        results = proc.process()
    assert 2 <= state["peak"] <= 3
    assert [r[2]["messageId"] for r in results] == [f"m-{n}" for n in range(12)]
    assert [r[0] for r in results].count("fail") == 1
    assert processor.response() == {"batchItemFailures": [{"itemIdentifier": "m-5"}]}


def test_async_handler_is_bounded_and_ordered():
    records = [sqs_record(n) for n in range(10)]
    state = {"now": 0, "peak": 0}

    async def handler(record):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.005)
        state["now"] -= 1
        if record["messageId"] == "m-7":
            raise ValueError("seven")
        return record["messageId"]

    processor = BatchProcessor(EventType.SQS, max_concurrency=4)
    response = process_partial_response({"Records": records}, handler, processor)
    assert state["peak"] == 4
    assert failures(response) == ["m-7"]
    assert [m["messageId"] for m in processor.success_messages] == [f"m-{n}" for n in range(10) if n != 7]


def test_async_handler_inside_a_running_loop_uses_async_process():
    async def handler(record):
        return record["messageId"]

    async def main():
        processor = BatchProcessor(EventType.SQS)
        with processor([sqs_record(1)], handler) as proc:
            with pytest.raises(ConfigurationError, match="async_process"):
                proc.process()
            return await proc.async_process()

    assert [r[:2] for r in asyncio.run(main())] == [("success", "m-1")]


# -- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({}, "no 'Records'"),
        ({"records": []}, "its keys: records"),
        ({"Records": "x"}, "not a list"),
        ([], "not an object with 'Records'"),
        (
            {"Records": [sqs_record(1), kinesis_record(2)]},
            "record 1 has eventSource 'aws:kinesis', expected 'aws:sqs'",
        ),
        ({"Records": [{**sqs_record(1), "messageId": ""}]}, "record 0 has no messageId"),
        ({"Records": [sqs_record(1), None]}, "record 1 is not an object"),
    ],
)
def test_malformed_events_raise_before_any_record_is_handled(event, message):
    handler = fail_on()
    with pytest.raises(MalformedEventError, match=message):
        process_partial_response(event, handler, BatchProcessor(EventType.SQS))
    assert handler.calls == []


def test_stream_record_without_sequence_number_is_malformed():
    record = kinesis_record(1)
    del record["kinesis"]["sequenceNumber"]
    with pytest.raises(MalformedEventError, match=r"record 1 has no kinesis.sequenceNumber"):
        process_partial_response(
            {"Records": [kinesis_record(0), record]},
            lambda r: None,
            BatchProcessor(EventType.KinesisDataStreams),
        )
    with pytest.raises(MalformedEventError, match="expected 'aws:dynamodb'"):
        process_partial_response(
            {"Records": [kinesis_record(0)]}, lambda r: None, BatchProcessor(EventType.DynamoDBStreams)
        )


def test_many_bad_records_are_summarised():
    event = {"Records": [{"eventSource": "aws:sqs"} for _ in range(15)]}
    with pytest.raises(MalformedEventError, match=r"15 of 15 records are malformed \(and 5 more\)"):
        process_partial_response(event, lambda r: None, BatchProcessor(EventType.SQS))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_concurrency": 0},
        {"max_concurrency": True},
        {"deadline_margin": -1},
        {"model": 42},
        {"concurrency_key": 1},
    ],
)
def test_bad_options_are_configuration_errors(kwargs):
    with pytest.raises(ConfigurationError):
        BatchProcessor(EventType.SQS, **kwargs)
    with pytest.raises(ConfigurationError):
        BatchProcessor("SQS")


# -- reuse, custom processors, decorator ------------------------------------------------------


def test_warm_reuse_starts_clean():
    processor = BatchProcessor(EventType.SQS)
    first = process_partial_response(
        {"Records": [sqs_record(n, queue=FIFO, group="g") for n in range(3)]}, fail_on("body-1"), processor
    )
    assert failures(first) == ["m-1", "m-2"]
    second = process_partial_response(
        {"Records": [sqs_record(n) for n in range(5, 8)]}, fail_on("body-6"), processor
    )
    assert failures(second) == ["m-6"]
    assert [r["messageId"] for r in processor.fail_messages] == ["m-6"]
    assert len(processor.exceptions) == 1
    assert not processor.is_fifo
    third = process_partial_response({"Records": [sqs_record(9)]}, fail_on(), processor)
    assert third == {"batchItemFailures": []}


def test_forgetting_process_is_not_a_silent_success():
    processor = BatchProcessor(EventType.SQS)
    with (
        pytest.raises(BatchProcessingError, match=r"process\(\) was not called"),
        processor([sqs_record(1)], fail_on()),
    ):
        pass


def test_an_error_in_the_with_block_propagates_unchanged():
    processor = BatchProcessor(EventType.SQS)
    with pytest.raises(KeyError, match="mine"), processor([sqs_record(1)], fail_on("body-1")) as proc:
        proc.process()
        raise KeyError("mine")


def test_failure_handler_override_sees_every_failure_and_skip():
    seen = []

    class Reporting(BatchProcessor):
        def failure_handler(self, record, exception):
            seen.append((record["messageId"], exception[0].__name__))
            return super().failure_handler(record, exception)

    records = [sqs_record(n, queue=FIFO, group="g") for n in range(3)]
    response = process_partial_response({"Records": records}, fail_on("body-1"), Reporting(EventType.SQS))
    assert seen == [("m-1", "ValueError"), ("m-2", "PreviousRecordFailedError")]
    assert failures(response) == ["m-1", "m-2"]


def test_custom_process_record_still_gets_ordering_and_ids():
    class Doubling(BatchProcessor):
        def _process_record(self, record):
            try:
                return self.success_handler(record, self.handler(record) * 2)
            except Exception as exc:
                return self.failure_handler(record, exc)

    records = [sqs_record(n, queue=FIFO, group="g") for n in range(4)]
    processor = Doubling(EventType.SQS)
    with processor(records, fail_on("body-2")) as proc:
        results = proc.process()
    assert [r[:2] for r in results[:2]] == [("success", "body-0body-0"), ("success", "body-1body-1")]
    assert processor.response() == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]
    }


def test_batch_processor_decorator_with_a_custom_base_processor():
    class Collecting(BasePartialProcessor):
        cleaned = 0

        def _prepare(self):
            self.prepared = True

        def _clean(self):
            Collecting.cleaned += 1

        def _process_record(self, record):
            try:
                return self.success_handler(record, self.handler(record))
            except Exception as exc:
                return self.failure_handler(record, exc)

    processor = Collecting()

    @batch_processor(record_handler=fail_on("body-1"), processor=processor)
    def lambda_handler(event, context):
        return len(processor.success_messages), len(processor.fail_messages)

    assert lambda_handler({"Records": [sqs_record(n) for n in range(3)]}, None) == (2, 1)
    assert lambda_handler({"Records": [sqs_record(5)]}, None) == (1, 0)  # warm: clean state
    assert Collecting.cleaned == 2
    with pytest.raises(MalformedEventError):
        lambda_handler({"Records": None}, None)


def test_failure_logs_name_the_record_and_reason_but_not_the_body(caplog):
    records = [sqs_record(1, body="card-number-4111")]

    def handler(record):
        raise ValueError("declined")

    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        process_partial_response({"Records": records}, handler, processor)
    assert "m-1" in caplog.text
    assert "ValueError" in caplog.text
    assert "declined" not in caplog.text  # an exception's message may quote the body: left out
    assert "card-number-4111" not in caplog.text

    caplog.clear()
    verbose = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False, log_exception_messages=True)
    with caplog.at_level(logging.WARNING, logger="lambda_batch"):
        process_partial_response({"Records": records}, handler, verbose)
    assert "ValueError: declined" in caplog.text


def test_batch_processor_stays_the_decorator_once_every_module_is_loaded():
    import importlib

    import lambda_batch

    for module in ("batch_processor", "sqs_processor", "processor", "base"):
        importlib.import_module(f"lambda_batch.processing.{module}")
    assert lambda_batch.BatchProcessor.__module__ == "lambda_batch.processing.batch_processor"
    from lambda_batch import batch_processor as decorator

    assert callable(decorator)
    assert decorator.__module__ == "lambda_batch.processing.base"
