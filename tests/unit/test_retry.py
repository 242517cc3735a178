"""The retry policy and the classification of AWS errors."""

from __future__ import annotations

import pytest

from lambda_batch import Deadline, RetryPolicy
from lambda_batch.core.retry import DEFAULT_RETRY_POLICY, classify_exception, is_retryable_code


def client_error(code, status):
    from botocore.exceptions import ClientError

    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} happened"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ThrottlingException", 400, True),
        ("ProvisionedThroughputExceededException", 400, True),
        ("InternalError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("SomethingNew", 503, True),
        ("SlowDownPlease", 429, True),
        ("AccessDenied", 403, False),
        ("ValidationException", 400, False),
        ("ResourceNotFoundException", 400, False),
    ],
)
def test_client_errors_are_classified_by_code_and_status(code, status, retryable):
    info = classify_exception(client_error(code, status))
    assert info.code == code
    assert info.message == f"{code} happened"
    assert info.retryable is retryable


def test_connection_and_timeout_errors_are_retryable_parameter_errors_are_not():
    from botocore.exceptions import (
        ConnectTimeoutError,
        EndpointConnectionError,
        ParamValidationError,
        ReadTimeoutError,
    )

    assert classify_exception(EndpointConnectionError(endpoint_url="http://x")).retryable
    assert classify_exception(ConnectTimeoutError(endpoint_url="http://x")).retryable
    assert classify_exception(ReadTimeoutError(endpoint_url="http://x")).retryable
    assert classify_exception(ConnectionResetError()).retryable
    assert not classify_exception(ParamValidationError(report="bad")).retryable
    assert not classify_exception(ValueError("x")).retryable


def test_entry_level_codes_use_sender_fault():
    assert is_retryable_code("InternalError", sender_fault=True)  # a known transient code wins
    assert not is_retryable_code("ReceiptHandleIsInvalid", sender_fault=True)
    assert is_retryable_code("Whatever", sender_fault=False)
    assert not is_retryable_code("Whatever")


def test_backoff_is_capped_exponential_with_full_jitter():
    policy = RetryPolicy(max_attempts=10, base_delay=0.1, max_delay=1.0)
    assert [policy.backoff(n, rand=lambda: 1.0) for n in range(1, 6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0]
    )
    assert policy.backoff(3, rand=lambda: 0.0) == 0.0
    assert all(0 <= policy.backoff(4) <= 0.8 for _ in range(50))


def test_can_retry_stops_at_max_attempts_and_before_the_deadline():
    policy = RetryPolicy(max_attempts=3, deadline_margin=0.5)
    assert policy.can_retry(1, 0.1)
    assert policy.can_retry(2, 0.1)
    assert not policy.can_retry(3, 0.1)
    assert policy.can_retry(1, 0.1, Deadline.after(5))
    assert not policy.can_retry(1, 0.1, Deadline.after(0.55))
    assert not policy.can_retry(1, 2.0, Deadline.after(2.2))


def test_sleep_uses_the_given_sleeper_and_skips_zero():
    slept = []
    DEFAULT_RETRY_POLICY.sleep(0.25, sleeper=slept.append)
    DEFAULT_RETRY_POLICY.sleep(0, sleeper=slept.append)
    assert slept == [0.25]


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"max_delay": -0.1}])
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_a_bare_413_is_a_request_too_large_and_not_retried():
    from botocore.exceptions import ClientError

    from lambda_batch.core.retry import REQUEST_TOO_LARGE, classify_exception

    error = ClientError(
        {"Error": {"Code": "413", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 413}}, "PutRecords"
    )
    info = classify_exception(error)
    assert (info.code, info.retryable) == (REQUEST_TOO_LARGE, False)


def test_a_botocore_validation_error_is_classified_without_the_values_it_quotes():
    from botocore.exceptions import ParamValidationError

    from lambda_batch.core.retry import classify_exception

    report = "Invalid type for parameter Entries[0].MessageBody, value: b'SECRET', type: <class 'bytes'>"
    info = classify_exception(ParamValidationError(report=report))
    assert info.code == "ParamValidationError" and not info.retryable
    assert "Entries[0].MessageBody" in info.message and "SECRET" not in info.message


def test_run_is_the_one_retry_loop_for_single_calls():
    from lambda_batch.core.deadline import Deadline
    from lambda_batch.core.retry import DeadlineNear, RetryPolicy

    policy = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0, deadline_margin=0.0)
    calls = []

    def flaky(attempt):
        calls.append(attempt)
        if attempt < 3:
            raise ConnectionResetError("reset")
        return "ok"

    assert policy.run(flaky) == "ok"
    assert calls == [1, 2, 3]

    calls.clear()

    def denied(attempt):
        calls.append(attempt)
        raise PermissionError("no")

    with pytest.raises(PermissionError):
        policy.run(denied)
    assert calls == [1]  # not worth retrying

    calls.clear()
    with pytest.raises(ConnectionResetError):
        policy.run(lambda attempt: flaky(0))  # always failing: max_attempts calls, then the last error
    assert len(calls) == 3

    with pytest.raises(DeadlineNear):
        policy.run(denied, Deadline.after(0.5), start_margin=1.0)  # no call once within the margin
