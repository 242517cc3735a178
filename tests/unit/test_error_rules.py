"""The error rules table against botocore's own lists, read at test time: botocore gaining a
throttling or transient code (or status) we lack makes this fail."""

from __future__ import annotations

import json
import os

import botocore
import pytest
from botocore.retries import standard

from lambda_batch.core import error_rules
from lambda_batch.core.error_rules import (
    ERROR_RULES,
    RETRYABLE_ERROR_CODES,
    SPLITTABLE_ERROR_CODES,
    status_kind,
)
from lambda_batch.core.retry import DEFAULT_RETRY_POLICY, ErrorInfo, is_retryable_code


def _retry_json():
    with open(os.path.join(os.path.dirname(botocore.__file__), "data", "_retry.json")) as handle:
        return json.load(handle)


def _walk(node, key):
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from _walk(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value, key)


def _responses(node):
    """Every ``applies_when.response`` of _retry.json."""
    for applies in _walk(node, "applies_when"):
        if "response" in applies:
            yield applies["response"]


def test_every_botocore_standard_throttling_and_transient_code_is_retryable_here():
    theirs = set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
    theirs |= set(standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES)
    assert theirs, "botocore's lists moved: read them from their new place"
    assert theirs - RETRYABLE_ERROR_CODES == set()


def test_every_retry_json_error_code_is_retryable_here():
    codes = {response.get("service_error_code") for response in _responses(_retry_json())}
    codes.discard(None)
    assert len(codes) > 10
    assert codes - RETRYABLE_ERROR_CODES == set()


def test_every_botocore_retryable_status_is_retryable_here():
    statuses = set(standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES)
    statuses |= set(standard.ThrottlingStatusCodeChecker._THROTTLING_STATUS_CODES)
    statuses |= {
        response.get("http_status_code")
        for response in _responses(_retry_json())
        if "service_error_code" not in response and "http_status_code" in response
    }
    assert {429, 500, 503} <= statuses
    for status in statuses:
        assert status_kind(status) in (error_rules.THROTTLING, error_rules.TRANSIENT), status
        assert is_retryable_code("SomeUnknownCode", status)


def test_every_botocore_transient_exception_class_is_retryable_here():
    for klass in standard.TransientRetryableChecker._TRANSIENT_EXCEPTION_CLS:
        assert klass.__name__ in error_rules.RETRYABLE_BOTOCORE_ERRORS


def test_each_rule_has_a_kind_and_a_source_and_the_kinds_do_not_overlap():
    for code, (kind, source) in ERROR_RULES.items():
        assert kind in (error_rules.THROTTLING, error_rules.TRANSIENT, error_rules.SPLIT), code
        assert source, code
    assert RETRYABLE_ERROR_CODES.isdisjoint(SPLITTABLE_ERROR_CODES)
    assert all(source for _, source in error_rules.HTTP_STATUS_RULES.values())


@pytest.mark.parametrize(
    ("status", "kind"),
    [(413, "split"), (429, "throttling"), (500, "transient"), (509, "transient"), (400, "")],
)
def test_statuses_including_a_bare_413(status, kind):
    assert status_kind(status) == kind


def test_the_retry_policy_is_the_judge():
    assert DEFAULT_RETRY_POLICY.splits(ErrorInfo("ValidationException", "bad entry", False))
    assert not DEFAULT_RETRY_POLICY.splits(ErrorInfo("AccessDenied", "no", False))
    assert not DEFAULT_RETRY_POLICY.splits(None)
    assert DEFAULT_RETRY_POLICY.is_retryable("ThrottlingException")
    assert not DEFAULT_RETRY_POLICY.is_retryable("ReceiptHandleIsInvalid", sender_fault=True)
    assert DEFAULT_RETRY_POLICY.is_retryable("Anything", sender_fault=False)
    assert DEFAULT_RETRY_POLICY.classify(ConnectionResetError("reset")).retryable
