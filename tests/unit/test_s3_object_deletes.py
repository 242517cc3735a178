"""S3 DeleteObjects on the one delivery engine: which keys failed, and which are worth retrying."""

from __future__ import annotations

from lambda_batch.engine.delivery import DeliveryLoop
from lambda_batch.engine.dispatcher import BaseDispatcher
from lambda_batch.payloads.object_deletes import ObjectDeletes, key_results


def test_the_keys_in_errors_failed_and_only_transient_codes_are_retried():
    response = {
        "Errors": [
            {"Key": "b", "Code": "InternalError", "Message": "try again"},
            {"Key": "c", "Code": "AccessDenied", "Message": "no"},
        ]
    }
    results = key_results(["a", "b", "c"], response)
    assert results[0] is None
    assert (results[1].code, results[1].retryable) == ("InternalError", True)
    assert (results[2].code, results[2].retryable) == ("AccessDenied", False)


def test_object_deletes_run_on_the_shared_delivery_loop():
    deletes = ObjectDeletes("bucket", region_name="us-east-1")
    assert issubclass(ObjectDeletes, BaseDispatcher)
    assert type(deletes._delivery) is DeliveryLoop
    assert deletes.max_batch_size == 1000
    assert deletes.run() == []  # nothing submitted: no call
