"""Issue 8, processing side, without AWS calls: awaitables, warm memory, body-free logs and errors,
unknown options, FIFO skips under concurrency, and the Powertools v3 names.

The delete-mode twins of these tests (real DeleteMessageBatch calls to the moto server) are in
tests/integration/test_processing_hardening.py. New names are imported inside the tests, so that
each test fails on its own when run against a layer that lacks them.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
import time
import tracemalloc
import weakref

import pytest

import lambda_batch
from lambda_batch import (
    BatchProcessingError,
    BatchProcessor,
    EventType,
    PartialSQSProcessor,
    PreviousRecordFailedError,
    batch_processor,
    process_partial_response,
    sqs_batch_processor,
)
from tests.processing_events import FakeLambdaContext, sqs_record

# -- defect 1: an awaitable returned by a handler is awaited, in every mode ----------------------


async def _async_body(record, ran):
    await asyncio.sleep(0)
    ran.append(record["messageId"])
    if record["body"] == "bad":
        raise ValueError("async body failed")
    return record["messageId"].upper()


def _lambda_around_async(ran):
    return lambda record: _async_body(record, ran)


def _wraps_sync_wrapper(ran):
    async def handler(record):
        return await _async_body(record, ran)

    @functools.wraps(handler)
    def wrapper(record):
        return handler(record)  # returns the coroutine, unawaited

    return wrapper


class _AsyncCallableBase:
    def __init__(self, ran):
        self.ran = ran

    async def __call__(self, record):
        return await _async_body(record, self.ran)


class _InheritedAsyncCall(_AsyncCallableBase):
    """Its ``__call__`` is async, but inherited: not in the class's own ``__dict__``."""


HANDLER_KINDS = {
    "lambda around async def": _lambda_around_async,
    "functools.wraps sync wrapper": _wraps_sync_wrapper,
    "inherited async __call__": _InheritedAsyncCall,
}


def _records():
    return [sqs_record(n, body="bad" if n == 2 else f"body-{n}") for n in range(5)]


@pytest.mark.parametrize("kind", list(HANDLER_KINDS))
@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize("mode", ["process", "async_process", "decorator", "async_process_partial_response"])
def test_an_awaitable_result_is_awaited_never_a_silent_success(kind, concurrency, mode):
    ran = []
    handler = HANDLER_KINDS[kind](ran)
    records = _records()
    event = {"Records": records}
    if mode == "async_process_partial_response":
        processor = lambda_batch.AsyncBatchProcessor(EventType.SQS, max_concurrency=concurrency)
        response = lambda_batch.async_process_partial_response(event, handler, processor)
    else:
        processor = BatchProcessor(EventType.SQS, max_concurrency=concurrency)
        if mode == "process":
            response = process_partial_response(event, handler, processor)
        elif mode == "async_process":
            with processor(records, handler) as proc:
                results = proc.async_process()  # Powertools v3: called from sync code, not awaited
            assert isinstance(results, list)
            response = processor.response()
        else:

            @batch_processor(record_handler=handler, processor=processor)
            def lambda_handler(event, context):
                return processor.response()

            response = lambda_handler(event, None)
    assert sorted(ran) == [f"m-{n}" for n in range(5)]  # every async body really ran
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    results = processor._outcome.results
    assert [r[0] for r in results] == ["success", "success", "fail", "success", "success"]
    assert results[0][1] == "M-0"  # the coroutine's result, not the coroutine


def test_an_awaitable_result_inside_a_running_loop_is_awaited_by_async_process():
    ran = []
    handler = _lambda_around_async(ran)

    async def main():
        processor = BatchProcessor(EventType.SQS, max_concurrency=2)
        with processor(_records(), handler) as proc:
            return await proc.async_process()

    results = asyncio.run(main())
    assert sorted(ran) == [f"m-{n}" for n in range(5)]
    assert [r[0] for r in results] == ["success", "success", "fail", "success", "success"]


def test_an_awaitable_that_cannot_be_awaited_fails_the_record():
    handler = _lambda_around_async([])

    async def main():
        processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
        with processor(_records(), handler) as proc:
            return proc.process()  # sync process inside a running loop: cannot await here

    results = asyncio.run(main())
    assert [r[0] for r in results] == ["fail"] * 5
    assert all(r[1].startswith("TypeError:") for r in results)


def test_a_custom_processor_gets_the_awaitable_awaited_by_success_handler():
    ran = []

    class Custom(lambda_batch.BasePartialProcessor):
        def _prepare(self):
            pass

        def _clean(self):
            pass

        def _process_record(self, record):
            try:
                return self.success_handler(record, self.handler(record))
            except Exception as exc:
                return self.failure_handler(record, exc)

    processor = Custom()
    with processor(_records(), _lambda_around_async(ran)) as proc:
        results = proc.process()
    assert sorted(ran) == [f"m-{n}" for n in range(5)]
    assert [r[0] for r in results] == ["success", "success", "fail", "success", "success"]


# -- defect 6: warm memory stays flat ------------------------------------------------------------


class _Payload:
    """What a per-invocation closure captures (about 200 KB)."""

    def __init__(self):
        self.data = bytearray(200_000)


def test_warm_invocations_with_fresh_closures_retain_nothing():
    processor = BatchProcessor(EventType.SQS)
    alive = []

    def invoke(n):
        payload = _Payload()

        def handler(record, lambda_context):  # a closure over this invocation's payload
            return len(payload.data)

        @functools.wraps(handler)
        def decorated(record, lambda_context):  # decorated: its signature needs inspect
            return handler(record, lambda_context)

        class CallableHandler:  # a callable object made per invocation
            def __call__(self, record):
                return len(payload.data)

        alive.append(weakref.ref(payload))
        for record_handler in (decorated, CallableHandler()):
            process_partial_response(
                {"Records": [sqs_record(n)]}, record_handler, processor, FakeLambdaContext()
            )

    invoke(0)  # warm-up: first-use caches and imports
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1, 301):
            invoke(n)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    still_alive = sum(1 for ref in alive if ref() is not None)
    assert still_alive <= 1  # at most the last invocation's (the processor keeps its last handler)
    assert grown < 2_000_000, f"{grown} bytes retained after 300 warm invocations"


# -- defect 7: logs and error texts carry no body --------------------------------------------------

SECRET = "SECRET-4111-1111"


def _int_of_body(record):
    return int(record["body"])  # ValueError: invalid literal for int() with base 10: 'SECRET-...'


def test_failure_log_and_error_text_name_type_and_record_never_the_body(caplog):
    records = [sqs_record(1, body=SECRET), sqs_record(2, body=SECRET + "-2")]
    processor = BatchProcessor(EventType.SQS)
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"), pytest.raises(BatchProcessingError) as raised:
        process_partial_response({"Records": records}, _int_of_body, processor)
    text = str(raised.value)
    for output in (caplog.text, text):
        assert "SECRET" not in output
        assert "ValueError" in output
        assert "m-1" in output and "m-2" in output
    assert "log_exception_messages=True" in text  # says how to get the messages
    # The exceptions themselves are still there for the caller's code.
    assert SECRET in str(raised.value.child_exceptions[0][1])


def test_pydantic_validation_errors_name_fields_not_input_values(caplog):
    pydantic = pytest.importorskip("pydantic")

    class Order(pydantic.BaseModel):
        messageId: str
        body: int

    processor = BatchProcessor(EventType.SQS, model=Order)
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"), pytest.raises(BatchProcessingError) as raised:
        process_partial_response({"Records": [sqs_record(1, body=SECRET)]}, lambda order: order, processor)
    for output in (caplog.text, str(raised.value)):
        assert "SECRET" not in output
        assert "ValidationError" in output
        assert "body" in output  # the field that failed


def test_log_exception_messages_opts_in_to_full_messages(caplog):
    processor = BatchProcessor(EventType.SQS, log_exception_messages=True)
    with caplog.at_level(logging.DEBUG, logger="lambda_batch"), pytest.raises(BatchProcessingError) as raised:
        process_partial_response({"Records": [sqs_record(1, body=SECRET)]}, _int_of_body, processor)
    assert SECRET in caplog.text
    assert SECRET in str(raised.value)


# -- defect 10: unknown options are refused when the object is built ---------------------------------


def test_unknown_processor_options_raise_type_error_naming_them():
    # resolve_large_payloads is an option now (issue 11): its misspelling is refused
    with pytest.raises(TypeError, match="resolve_large_payload'"):
        PartialSQSProcessor(resolve_large_payload=True)
    with pytest.raises(TypeError, match="max_concurency"):
        PartialSQSProcessor(max_concurency=4)
    with pytest.raises(TypeError, match="resolve_large_payload'"):
        sqs_batch_processor(record_handler=print, resolve_large_payload=True)
    with pytest.raises(TypeError, match="resolve_large_payload'"):
        BatchProcessor(EventType.SQS, resolve_large_payload=True)
    with pytest.raises(TypeError, match="resolve_large_payloads"):
        batch_processor(
            record_handler=print, processor=BatchProcessor(EventType.SQS), resolve_large_payloads=True
        )
    PartialSQSProcessor(endpoint_url="http://127.0.0.1:1", region_name="us-east-1")  # client arguments pass


def test_partial_sqs_processor_takes_powertools_v1_positional_order():
    import boto3

    session = boto3.session.Session(region_name="eu-west-1")
    processor = PartialSQSProcessor(None, True, session)  # (config, suppress_exception, boto3_session)
    assert processor.suppress_exception is True
    assert processor._clients._session is session
    with pytest.raises(TypeError, match="suppress_exception"):
        PartialSQSProcessor(None, session)  # the old order: a session where the flag goes


# -- defect 11: FIFO, concurrency: a record before the failing one is not reported as skipped -----


def test_fifo_record_of_another_group_before_the_failure_is_processed_not_skipped():
    arn_queue = "orders.fifo"
    # group A: records 0 and 3 (3 fails); group B: records 1 (slow) and 2; group C: record 4.
    groups = ["A", "B", "B", "A", "C"]
    records = [sqs_record(n, queue=arn_queue, group=group) for n, group in enumerate(groups)]
    three_failed = threading.Event()
    handled = []

    def handler(record):
        n = record["messageId"]
        if n == "m-1":
            assert three_failed.wait(5)
            time.sleep(0.05)  # let the failure of record 3 be noted before record 2 starts
        handled.append(n)
        if n == "m-3":
            three_failed.set()
            raise ValueError("record 3 fails")
        return n

    processor = BatchProcessor(EventType.SQS, max_concurrency=2)
    response = process_partial_response({"Records": records}, handler, processor)
    results = processor._outcome.results
    assert [r[0] for r in results] == ["success", "success", "success", "fail", "fail"]
    assert "m-2" in handled  # it came before the failure: processed, as it would be in order
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-3"}, {"itemIdentifier": "m-4"}]}
    assert processor.exceptions[-1][0] is PreviousRecordFailedError
    assert "m-3" in str(processor.exceptions[-1][1])  # m-4 came after m-3: accurately "failed earlier"


# -- switching from Powertools v3: the names and their semantics -------------------------------------


def test_powertools_v3_names_are_exported():
    for name in (
        "SqsFifoPartialProcessor",
        "AsyncBatchProcessor",
        "async_process_partial_response",
        "async_batch_processor",
    ):
        assert name in lambda_batch.__all__
        assert getattr(lambda_batch, name) is not None


def test_sqs_fifo_partial_processor_stops_at_the_first_failure_or_skips_the_group():
    records = [sqs_record(n, group=g) for n, g in enumerate(["A", "B", "A", "B"])]

    def handler(record):
        if record["messageId"] == "m-1":
            raise ValueError("fails")
        return record["messageId"]

    processor = lambda_batch.SqsFifoPartialProcessor()
    response = process_partial_response({"Records": records}, handler, processor)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m-1", "m-2", "m-3"]

    by_group = lambda_batch.SqsFifoPartialProcessor(skip_group_on_error=True)
    response = process_partial_response({"Records": records}, handler, by_group)
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m-1", "m-3"]


def test_async_batch_processor_decorator_runs_the_async_handler():
    ran = []

    async def record_handler(record):
        ran.append(record["messageId"])

    processor = lambda_batch.AsyncBatchProcessor(EventType.SQS)

    @lambda_batch.async_batch_processor(record_handler=record_handler, processor=processor)
    def lambda_handler(event, context):
        return processor.response()

    assert lambda_handler({"Records": _records()}, None) == {"batchItemFailures": []}
    assert sorted(ran) == [f"m-{n}" for n in range(5)]


@pytest.mark.parametrize(("max_concurrency", "peak"), [(None, 8), (3, 3)])
def test_async_batch_processor_runs_every_record_at_once_unless_bounded(max_concurrency, peak):
    state = {"now": 0, "peak": 0}

    async def record_handler(record):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        await asyncio.sleep(0.01)
        state["now"] -= 1

    options = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
    processor = lambda_batch.AsyncBatchProcessor(EventType.SQS, **options)
    records = [sqs_record(n) for n in range(8)]
    response = lambda_batch.async_process_partial_response({"Records": records}, record_handler, processor)
    assert response == {"batchItemFailures": []}
    assert state["peak"] == peak


# -- the same code against Powertools v3 itself (a development dependency) -------------------------


def _powertools_and_ours():
    batch = pytest.importorskip("aws_lambda_powertools.utilities.batch")
    return [("powertools", batch), ("lambda_batch", lambda_batch)]


@pytest.mark.parametrize("skip_group_on_error", [False, True])
def test_sqs_fifo_partial_processor_answers_as_powertools_does(skip_group_on_error):
    records = [sqs_record(n, queue="orders.fifo", group=g) for n, g in enumerate("ABABCA")]

    def record_handler(record):
        if record["messageId"] in ("m-1", "m-5"):
            raise ValueError("fails")
        return record["messageId"]

    responses = {}
    for name, library in _powertools_and_ours():
        processor = library.SqsFifoPartialProcessor(skip_group_on_error=skip_group_on_error)
        event = {"Records": [dict(record) for record in records]}
        responses[name] = library.process_partial_response(event, record_handler, processor)
    assert responses["lambda_batch"] == responses["powertools"]


def test_async_batch_processor_answers_as_powertools_does():
    records = [sqs_record(n) for n in range(6)]

    async def record_handler(record):
        await asyncio.sleep(0.001 * (6 - int(record["messageId"][2:])))
        if record["messageId"] in ("m-2", "m-4"):
            raise ValueError("fails")
        return record["messageId"]

    responses = {}
    for name, library in _powertools_and_ours():
        processor = library.AsyncBatchProcessor(library.EventType.SQS)
        event = {"Records": [dict(record) for record in records]}
        responses[name] = library.async_process_partial_response(event, record_handler, processor)
        with processor([dict(record) for record in records], record_handler) as proc:
            results = proc.async_process()  # called from sync code, as Powertools documents
        # The fail text: "ValueError:fails" here, "<class 'ValueError'>:fails" in Powertools.
        responses[name + " results"] = [(r[0], r[1] if r[0] == "success" else r[1][-6:]) for r in results]

    def ids(response):
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]

    assert sorted(ids(responses["lambda_batch"])) == sorted(ids(responses["powertools"]))
    assert ids(responses["lambda_batch"]) == ["m-2", "m-4"]  # record order (Powertools: completion order)
    assert responses["lambda_batch results"] == responses["powertools results"]


def test_async_handlers_run_on_the_event_loop_set_for_the_main_thread():
    # A handler module may bind resources to the thread's event loop at import time
    # (Powertools runs the batch on that loop too); that loop must be the one used.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        seen = set()

        async def record_handler(record):
            seen.add(asyncio.get_running_loop())

        processor = lambda_batch.AsyncBatchProcessor(EventType.SQS)
        for _ in range(2):  # warm invocations too
            event = {"Records": [sqs_record(n) for n in range(3)]}
            lambda_batch.async_process_partial_response(event, record_handler, processor)
        assert seen == {loop}
    finally:
        asyncio.set_event_loop(None)
        loop.close()
