"""Which AWS errors are worth retrying, and which split a batch: one table, each rule with its source.

Read by the one retry policy only (:mod:`lambda_batch.core.retry`): the delivery loop of the
dispatchers and of the SQS actions asks the policy, never this table. Kinds:

- ``throttling``: slow down and try again (the request was fine);
- ``transient``: the service or the connection failed; the same request may succeed;
- ``split``: the whole call was refused because of one bad entry (a validation error, a
  request too large): split the batch to isolate it, so the other entries still go through.
  Other non-retryable errors (access denied, a missing resource) would fail every part alike.

Per-entry failures of SQS and SNS batch responses carry ``SenderFault``: an entry that is the
sender's fault is not retried (unless its code is a throttling or transient one), one that is
not the sender's fault is (:data:`SENDER_FAULT_RETRYABLE`).

A unit test reads botocore's own lists (``botocore/retries/standard.py`` and
``botocore/data/_retry.json``) and fails when they name a code or status missing here.

Example::

    from lambda_batch.core.error_rules import RETRYABLE_ERROR_CODES, SPLITTABLE_ERROR_CODES

    "ThrottlingException" in RETRYABLE_ERROR_CODES      # True
"""

from __future__ import annotations

THROTTLING = "throttling"
TRANSIENT = "transient"
SPLIT = "split"

#: Sources of the rules below.
BOTOCORE_STANDARD = "botocore/retries/standard.py (_THROTTLED_ERROR_CODES, _TRANSIENT_ERROR_CODES)"
BOTOCORE_RETRY_JSON = "botocore/data/_retry.json (definitions and per-service policies)"
AWS_ERRORS = "https://docs.aws.amazon.com/general/latest/gr/api-retries.html"
KMS_ERRORS = "https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html"
SQS_ERRORS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html"
VALIDATION = "the services' API references: a request refused as a whole for one bad entry"

#: Error code -> (kind, source).
ERROR_RULES = {
    # Throttling codes (botocore's union of every code seen to mean "throttled").
    "Throttling": (THROTTLING, BOTOCORE_STANDARD),
    "ThrottlingException": (THROTTLING, BOTOCORE_STANDARD),
    "ThrottledException": (THROTTLING, BOTOCORE_STANDARD),
    "RequestThrottledException": (THROTTLING, BOTOCORE_STANDARD),
    "TooManyRequestsException": (THROTTLING, BOTOCORE_STANDARD),
    "ProvisionedThroughputExceededException": (THROTTLING, BOTOCORE_STANDARD),
    "TransactionInProgressException": (THROTTLING, BOTOCORE_STANDARD),
    "RequestLimitExceeded": (THROTTLING, BOTOCORE_STANDARD),
    "BandwidthLimitExceeded": (THROTTLING, BOTOCORE_STANDARD),
    "LimitExceededException": (THROTTLING, BOTOCORE_STANDARD),
    "RequestThrottled": (THROTTLING, BOTOCORE_STANDARD),
    "SlowDown": (THROTTLING, BOTOCORE_STANDARD),
    "PriorRequestNotComplete": (THROTTLING, BOTOCORE_STANDARD),
    "EC2ThrottledException": (THROTTLING, BOTOCORE_STANDARD),
    "KMSThrottlingException": (THROTTLING, KMS_ERRORS),
    "KMS.ThrottlingException": (THROTTLING, KMS_ERRORS),
    "KMS.KMSThrottlingException": (THROTTLING, KMS_ERRORS),
    # Transient faults of the service.
    "RequestTimeout": (TRANSIENT, BOTOCORE_STANDARD),
    "RequestTimeoutException": (TRANSIENT, BOTOCORE_STANDARD),
    "IDPCommunicationError": (TRANSIENT, BOTOCORE_RETRY_JSON),
    "BadDigest": (TRANSIENT, BOTOCORE_RETRY_JSON),
    "ReplicatedWriteConflictException": (TRANSIENT, BOTOCORE_RETRY_JSON),
    "ServiceUnavailable": (TRANSIENT, AWS_ERRORS),
    "ServiceUnavailableException": (TRANSIENT, AWS_ERRORS),
    "InternalError": (TRANSIENT, AWS_ERRORS),
    "InternalFailure": (TRANSIENT, AWS_ERRORS),
    "InternalServerError": (TRANSIENT, AWS_ERRORS),
    "InternalServiceError": (TRANSIENT, AWS_ERRORS),
    "InternalServiceErrorException": (TRANSIENT, AWS_ERRORS),
    "InternalException": (TRANSIENT, AWS_ERRORS),
    "ServiceException": (TRANSIENT, AWS_ERRORS),
    "RequestExpired": (TRANSIENT, AWS_ERRORS),
    # A whole call refused for one bad entry: split to isolate it.
    "ValidationException": (SPLIT, VALIDATION),
    "ValidationError": (SPLIT, VALIDATION),
    "SerializationException": (SPLIT, VALIDATION),
    "InvalidParameterValue": (SPLIT, VALIDATION),
    "InvalidParameterValueException": (SPLIT, VALIDATION),
    "InvalidParameterException": (SPLIT, VALIDATION),
    "InvalidParameterCombination": (SPLIT, VALIDATION),
    "InvalidArgumentException": (SPLIT, VALIDATION),
    "ParamValidationError": (SPLIT, "botocore's parameter validation, before sending"),
    "BatchRequestTooLong": (SPLIT, SQS_ERRORS),
    "AWS.SimpleQueueService.BatchRequestTooLong": (SPLIT, SQS_ERRORS),
    "RequestEntityTooLarge": (SPLIT, "a bare HTTP 413 (see HTTP_STATUS_RULES)"),
    "RequestEntityTooLargeException": (SPLIT, VALIDATION),
    "TotalRecordsSizeExceedsLimit": (SPLIT, VALIDATION),
    "InvalidAttributeValue": (SPLIT, SQS_ERRORS),
    "InvalidMessageContents": (SPLIT, SQS_ERRORS),
}

#: HTTP status (first, last) -> (kind, source), for errors whose code is not in ERROR_RULES.
HTTP_STATUS_RULES = {
    (429, 429): (THROTTLING, BOTOCORE_STANDARD + " (_THROTTLING_STATUS_CODES); _retry.json"),
    (500, 599): (TRANSIENT, BOTOCORE_STANDARD + " (_TRANSIENT_STATUS_CODES); _retry.json 5xx"),
    # A bare 413 (no error code): the request was too large for the service or a proxy.
    (413, 413): (SPLIT, "RFC 9110 section 15.5.14 (Content Too Large)"),
}

#: botocore exception class names that are transient: the connection, not the request, failed.
CONNECTION_ERRORS = {
    "ConnectionError": BOTOCORE_STANDARD + " (_TRANSIENT_EXCEPTION_CLS)",
    "HTTPClientError": BOTOCORE_STANDARD + " (_TRANSIENT_EXCEPTION_CLS)",
    "EndpointConnectionError": "botocore.exceptions (a ConnectionError)",
    "ConnectionClosedError": "botocore.exceptions (a ConnectionError)",
    "ConnectTimeoutError": "botocore.exceptions (a ConnectionError)",
    "ReadTimeoutError": "botocore.exceptions (an HTTPClientError)",
    "ProxyConnectionError": "botocore.exceptions (a ConnectionError)",
    "ResponseStreamingError": "botocore.exceptions (an HTTPClientError)",
    "IncompleteReadError": "botocore.exceptions (reading a response body)",
}

#: An SQS/SNS batch entry that failed by the sender's fault is not retried; one that did not is.
SENDER_FAULT_RETRYABLE = False

#: The per-action reasons of a cancelled TransactWriteItems (``CancellationReasons``, one per action
#: in request order): ``lost`` (the action's condition failed: another writer holds the item),
#: ``retry`` (the action was fine, or failed for a reason that passes: another transaction on the
#: item, throttling), anything else refused. Read on 4 December 2026: the TransactWriteItems API
#: reference, TransactionCanceledException.
DYNAMODB_CANCELLATION_SOURCE = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"
)
CANCELLATION_LOST = "lost"
CANCELLATION_RETRY = "retry"
DYNAMODB_CANCELLATION_REASONS = {
    "ConditionalCheckFailed": CANCELLATION_LOST,
    "None": CANCELLATION_RETRY,  # this action was fine: another one cancelled the transaction
    "TransactionConflict": CANCELLATION_RETRY,
    "ThrottlingError": CANCELLATION_RETRY,
    "ProvisionedThroughputExceeded": CANCELLATION_RETRY,
    "RequestLimitExceeded": CANCELLATION_RETRY,
}

#: Codes worth retrying (throttling and transient).
RETRYABLE_ERROR_CODES = frozenset(code for code, (kind, _) in ERROR_RULES.items() if kind != SPLIT)
#: Codes that split a call to isolate the bad entry.
SPLITTABLE_ERROR_CODES = frozenset(code for code, (kind, _) in ERROR_RULES.items() if kind == SPLIT)
#: botocore exception class names worth retrying.
RETRYABLE_BOTOCORE_ERRORS = frozenset(CONNECTION_ERRORS)


def status_kind(status: int) -> str:
    """The kind of an HTTP status with no known error code ("" when none applies).

    >>> status_kind(503)
    'transient'
    """
    for (first, last), (kind, _) in HTTP_STATUS_RULES.items():
        if first <= status <= last:
            return kind
    return ""


__all__ = [
    "CANCELLATION_LOST",
    "CANCELLATION_RETRY",
    "CONNECTION_ERRORS",
    "DYNAMODB_CANCELLATION_REASONS",
    "ERROR_RULES",
    "HTTP_STATUS_RULES",
    "RETRYABLE_BOTOCORE_ERRORS",
    "RETRYABLE_ERROR_CODES",
    "SENDER_FAULT_RETRYABLE",
    "SPLIT",
    "SPLITTABLE_ERROR_CODES",
    "THROTTLING",
    "TRANSIENT",
    "status_kind",
]
