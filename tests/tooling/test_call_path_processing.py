"""How long one record's trip is: the layer functions a warm SQS batch calls, in how many files.

The second (warm) ``process_partial_response`` of a 5-record SQS batch whose handler raises for
2 records, native mode (``BatchProcessor(EventType.SQS)``), default options, traced with
``sys.setprofile``. Counted: every Python call event (``c_call`` excluded) whose code object's
file lies under ``layer/lambda_batch`` (comprehensions and lambdas included): the distinct code
objects, the distinct files among them, and the switches between files along the sequence of
those calls. The handler itself lives here, so it is not counted.
"""

from __future__ import annotations

import itertools
import pathlib
import sys

from lambda_batch import BatchProcessor, EventType, process_partial_response

LAYER = str(pathlib.Path(__file__).resolve().parents[2] / "layer" / "lambda_batch")
MAX_FUNCTIONS = 25
MAX_FILES = 5
MAX_SWITCHES = 20


def _event():
    arn = "arn:aws:sqs:us-east-1:123456789012:orders"
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"h-{index}",
                "body": str(index),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for index in range(5)
        ]
    }


def _handler(record):
    if record["body"] in ("1", "3"):
        raise ValueError("declined")
    return record["body"]


def trace_warm_batch():
    """(code objects in call order, the batch's response) of the warm call."""
    processor = BatchProcessor(EventType.SQS)
    process_partial_response(_event(), _handler, processor)  # cold: modules load, caches fill
    event = _event()
    calls = []

    def profile(frame, what, arg):
        if what == "call" and frame.f_code.co_filename.startswith(LAYER):
            calls.append(frame.f_code)

    sys.setprofile(profile)
    try:
        response = process_partial_response(event, _handler, processor)
    finally:
        sys.setprofile(None)
    return calls, response


def measure():
    """``(functions, files, switches)`` of the warm call."""
    calls, _ = trace_warm_batch()
    files = [code.co_filename for code in calls]
    switches = sum(1 for before, after in itertools.pairwise(files) if before != after)
    return len(set(calls)), len(set(files)), switches


def test_the_warm_sqs_batch_takes_a_short_path():
    calls, response = trace_warm_batch()
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}
    assert calls, "nothing of the layer was traced: the count would pass for nothing"
    functions, files, switches = measure()
    names = sorted({f"{pathlib.Path(code.co_filename).name}:{code.co_name}" for code in calls})
    assert functions <= MAX_FUNCTIONS, names
    assert files <= MAX_FILES, names
    assert switches <= MAX_SWITCHES, [pathlib.Path(code.co_filename).name for code in calls]


if __name__ == "__main__":  # python -m tests.tooling.test_call_path_processing: the figures
    calls, _ = trace_warm_batch()
    functions, files, switches = measure()
    print(f"functions {functions}, files {files}, switches {switches}")
    for code in dict.fromkeys(calls):
        print(f"  {pathlib.Path(code.co_filename).relative_to(LAYER)}:{code.co_name}")
