"""The batch limits of every AWS service the dispatchers send to: one table, each figure with its source.

A dispatcher fills each call up to these limits (or lower ones it is given) and refuses a
``max_batch_size`` above them. The sizes are measured the way each service measures them;
see ``measure`` in each dispatcher module.

Example::

    from lambda_batch.core.limits import SERVICE_LIMITS

    SERVICE_LIMITS["kinesis"].max_entries      # 500 records per PutRecords call
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

KiB = 1024
MiB = 1024 * 1024


@dataclass(frozen=True)
class ServiceLimits:
    """The limits of one batch API.

    ``max_entries`` entries and ``max_batch_bytes`` bytes per call; ``max_item_bytes`` per
    entry (the default, where the resource can raise it: see ``max_item_bytes_ceiling``).
    """

    service: str
    operation: str
    max_entries: int
    max_batch_bytes: int
    max_item_bytes: int
    #: The most a resource setting can raise ``max_item_bytes`` to.
    max_item_bytes_ceiling: int
    #: What the per-item limit is called in the service's documentation, for error messages.
    item_limit_name: str
    source: str


SERVICE_LIMITS: Dict[str, ServiceLimits] = {
    # SendMessageBatch: 10 entries; the sum of all message sizes (body plus attributes) at most
    # 1,048,576 bytes; each message at most the queue's MaximumMessageSize (1,024 to 1,048,576 bytes).
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
    "sqs": ServiceLimits(
        service="sqs",
        operation="SendMessageBatch",
        max_entries=10,
        max_batch_bytes=1 * MiB,
        max_item_bytes=1 * MiB,
        max_item_bytes_ceiling=1 * MiB,
        item_limit_name="SQS message size limit (the queue's MaximumMessageSize)",
        source="https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html",
    ),
    # PublishBatch: 10 entries; each message, and the messages of a batch together, at most the
    # topic's MaximumMessageSize (1,024 to 1,048,576 bytes; 262,144 by default); message
    # attributes count toward the size. Read on 3 December 2026: the PublishBatch reference and
    # "Publishing large messages with Amazon SNS" (SNS Developer Guide). The dispatcher applies
    # 256 KiB until it has read the topic's attribute (dispatchers/sns_topic.py), and keeps it
    # when it cannot; max_batch_bytes here is the most any topic allows.
    # https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
    # https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html
    "sns": ServiceLimits(
        service="sns",
        operation="PublishBatch",
        max_entries=10,
        max_batch_bytes=1 * MiB,
        max_item_bytes=256 * KiB,
        max_item_bytes_ceiling=1 * MiB,
        item_limit_name="SNS message size limit (the topic's MaximumMessageSize)",
        source="https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html",
    ),
    # PutRecords: 500 records and 10 MiB per call, partition keys included; each record (data
    # plus partition key) at most 1 MiB, or the stream's MaxRecordSizeInKiB (up to 10 MiB).
    # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
    # https://docs.aws.amazon.com/streams/latest/dev/large-records.html
    "kinesis": ServiceLimits(
        service="kinesis",
        operation="PutRecords",
        max_entries=500,
        max_batch_bytes=10 * MiB,
        max_item_bytes=1 * MiB,
        max_item_bytes_ceiling=10 * MiB,
        item_limit_name="Kinesis record size limit (data plus partition key; stream's MaxRecordSizeInKiB)",
        source="https://docs.aws.amazon.com/streams/latest/dev/large-records.html",
    ),
    # PutRecordBatch: 500 records and 4 MiB per call; each record at most 1,000 KiB before base64.
    # https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
    "firehose": ServiceLimits(
        service="firehose",
        operation="PutRecordBatch",
        max_entries=500,
        max_batch_bytes=4 * MiB,
        max_item_bytes=1000 * KiB,
        max_item_bytes_ceiling=1000 * KiB,
        item_limit_name="Firehose record size limit (1,000 KiB before base64)",
        source="https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html",
    ),
    # BatchWriteItem: 25 put or delete requests and 16 MB per call; each item at most 400 KB
    # (attribute names plus values).
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
    "dynamodb": ServiceLimits(
        service="dynamodb",
        operation="BatchWriteItem",
        max_entries=25,
        max_batch_bytes=16 * MiB,
        max_item_bytes=400 * KiB,
        max_item_bytes_ceiling=400 * KiB,
        item_limit_name="DynamoDB item size limit (400 KB, attribute names plus values)",
        source="https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html",
    ),
    # PutMetricData: 1,000 metrics and 1 MB per request; up to 150 Values per metric.
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
    "cloudwatch": ServiceLimits(
        service="cloudwatch",
        operation="PutMetricData",
        max_entries=1000,
        max_batch_bytes=1_000_000,
        max_item_bytes=1_000_000,
        max_item_bytes_ceiling=1_000_000,
        item_limit_name="CloudWatch PutMetricData request size limit (1 MB)",
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html",
    ),
    # PutEvents: 10 entries; each entry, and the request's entries in all, at most 1 MB since
    # 29 January 2026 (256 KB before), counted by the entry-size formula: Time 14 bytes when
    # given, Source, DetailType, Detail and each Resources entry by their UTF-8 bytes. 1 MB is
    # taken as 1,048,576 bytes, as the 256 KB before it was 262,144 and SQS's 1 MiB is. Read on
    # 3 December 2026: the AWS Compute Blog, "More room to build: serverless services now support
    # payloads up to 1 MB" (29 January 2026) for the limit; the formula and the request total from
    # the PutEvents entry-size page (which, as stored, still names the old figure for both).
    # https://aws.amazon.com/blogs/compute/more-room-to-build-serverless-services-now-support-payloads-up-to-1-mb
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html
    # https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
    "events": ServiceLimits(
        service="events",
        operation="PutEvents",
        max_entries=10,
        max_batch_bytes=1 * MiB,
        max_item_bytes=1 * MiB,
        max_item_bytes_ceiling=1 * MiB,
        item_limit_name="EventBridge PutEvents entry size limit (1 MB, by the entry-size formula)",
        source="https://docs.aws.amazon.com/eventbridge/latest/userguide/calculate-putevents-entry-size.html",
    ),
}

#: Values per metric in one PutMetricData call (the Values/Counts arrays).
CLOUDWATCH_MAX_VALUES_PER_METRIC = 150


@dataclass(frozen=True)
class CloudWatchNameRule:
    """What CloudWatch accepts as one kind of name (a namespace, a metric or dimension name, a
    dimension value): ``min_length`` to ``max_length`` characters of printable ASCII (no control
    character), and the rules named by the flags. A name that breaks them is dropped by
    CloudWatch Logs from an EMF document (the metric never appears) or refused by PutMetricData.
    """

    kind: str
    min_length: int
    max_length: int
    #: Must hold a character other than whitespace.
    not_blank: bool
    #: Must not start with a colon.
    no_leading_colon: bool
    #: Prefixes reserved for AWS.
    reserved_prefixes: Tuple[str, ...]
    source: str


#: The characters of CloudWatch names: ASCII without its control characters (0x20 to 0x7E).
CLOUDWATCH_NAME_CHARACTERS = (0x20, 0x7E)
#: CloudWatch's naming rules, read on 2026-12-03 from the CloudWatch API Reference:
#: - Namespace: 1 to 255 characters, pattern ``[^:].*`` (API_Metric); "ASCII characters for the
#:   namespace, except for control characters"; one starting with ``AWS/`` conflicts with the
#:   services' namespaces (API_PutMetricData).
#: - MetricName: 1 to 255 characters (API_MetricDatum, API_Metric).
#: - Dimension Name: 1 to 255 characters, ASCII only, at least one non-whitespace character, not
#:   starting with a colon, no ASCII control characters; Value: 1 to 1,024 characters, the same
#:   but for the colon; up to 30 dimensions per metric (API_Dimension).
CLOUDWATCH_NAME_RULES: Dict[str, CloudWatchNameRule] = {
    "namespace": CloudWatchNameRule(
        kind="namespace",
        min_length=1,
        max_length=255,
        not_blank=True,
        no_leading_colon=True,
        reserved_prefixes=("AWS/",),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html",
    ),
    "metric name": CloudWatchNameRule(
        kind="metric name",
        min_length=1,
        max_length=255,
        not_blank=True,
        no_leading_colon=False,
        reserved_prefixes=(),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html",
    ),
    "dimension name": CloudWatchNameRule(
        kind="dimension name",
        min_length=1,
        max_length=255,
        not_blank=True,
        no_leading_colon=True,
        reserved_prefixes=(),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html",
    ),
    "dimension value": CloudWatchNameRule(
        kind="dimension value",
        min_length=1,
        max_length=1024,
        not_blank=True,
        no_leading_colon=False,
        reserved_prefixes=(),
        source="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html",
    ),
}
#: Dimensions per metric (API_Dimension, API_MetricDatum: "Maximum number of 30 items").
CLOUDWATCH_MAX_DIMENSIONS = 30
CLOUDWATCH_MAX_METRIC_NAME_LENGTH = CLOUDWATCH_NAME_RULES["metric name"].max_length
CLOUDWATCH_MAX_DIMENSION_NAME_LENGTH = CLOUDWATCH_NAME_RULES["dimension name"].max_length
CLOUDWATCH_MAX_DIMENSION_VALUE_LENGTH = CLOUDWATCH_NAME_RULES["dimension value"].max_length
#: CloudWatch rejects values outside -2^360..2^360 (and NaN, infinities).
#: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
CLOUDWATCH_MAX_ABS_VALUE = 2.0**360
#: SendMessageBatch DelaySeconds range (standard queues only).
SQS_MAX_DELAY_SECONDS = 900
#: Kinesis partition keys are 1 to 256 Unicode characters.
KINESIS_MAX_PARTITION_KEY_LENGTH = 256
#: The largest Kinesis ExplicitHashKey: the hash key space is 128 bits.
#: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html
KINESIS_MAX_EXPLICIT_HASH_KEY = 2**128 - 1
#: PutEvents counts a given Time as 14 bytes.
#: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
EVENTBRIDGE_TIME_SIZE = 14
#: An SNS topic's MaximumMessageSize: 262,144 bytes unless set, at least 1,024.
#: https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html (read 3 December 2026)
SNS_DEFAULT_MESSAGE_SIZE = 256 * KiB
SNS_MIN_MESSAGE_SIZE = 1024
#: Message attributes per message (SQS and SNS).
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
SQS_MAX_MESSAGE_ATTRIBUTES = 10
#: DynamoDB numbers: at most 38 significant digits; nonzero magnitudes from 1E-130 to 9.99...E+125.
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html
DYNAMODB_MAX_NUMBER_DIGITS = 38
DYNAMODB_MAX_NUMBER_EXPONENT = 125  # the adjusted exponent (of the leading digit)
DYNAMODB_MIN_NUMBER_EXPONENT = -130
#: DynamoDB key attribute values: at most this many bytes (UTF-8 for strings), and never empty.
#: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
DYNAMODB_MAX_KEY_BYTES = {"partition": 2048, "sort": 1024}

#: The SQS batch actions of the processors (on received messages): 10 entries per call, one queue
#: per call. The request size is not capped by the API beyond SQS's request limit; receipt handles
#: are at most 1,024 characters.
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessageBatch.html
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibilityBatch.html
SQS_ACTION_LIMITS: Dict[str, ServiceLimits] = {
    operation: ServiceLimits(
        service="sqs",
        operation=operation,
        max_entries=10,
        max_batch_bytes=1 * MiB,
        max_item_bytes=1 * MiB,
        max_item_bytes_ceiling=1 * MiB,
        item_limit_name="SQS request size limit",
        source=f"https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_{operation}.html",
    )
    for operation in ("DeleteMessageBatch", "ChangeMessageVisibilityBatch")
}
#: DeleteMessageBatch takes at most this many entries.
SQS_MAX_DELETE_ENTRIES = SQS_ACTION_LIMITS["DeleteMessageBatch"].max_entries
#: A message's visibility timeout: 0 to 43,200 seconds (12 hours).
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
SQS_MAX_VISIBILITY_TIMEOUT = 43_200

#: The DynamoDB calls of the processors' idempotency (``processing.features.idempotency_table``).
#: BatchGetItem: at most 100 keys and 16 MB returned per call (the rest comes back in
#: UnprocessedKeys). TransactWriteItems: at most 100 actions on distinct items, 4 MB in all, per
#: call. Read on 4 December 2026: the BatchGetItem and TransactWriteItems API references.
#: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
#: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
DYNAMODB_BATCH_GET_LIMITS = ServiceLimits(
    service="dynamodb",
    operation="BatchGetItem",
    max_entries=100,
    max_batch_bytes=16 * MiB,
    max_item_bytes=400 * KiB,
    max_item_bytes_ceiling=400 * KiB,
    item_limit_name="DynamoDB item size limit (400 KB, attribute names plus values)",
    source="https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html",
)
DYNAMODB_TRANSACT_WRITE_LIMITS = ServiceLimits(
    service="dynamodb",
    operation="TransactWriteItems",
    max_entries=100,
    max_batch_bytes=4 * MiB,
    max_item_bytes=400 * KiB,
    max_item_bytes_ceiling=400 * KiB,
    item_limit_name="DynamoDB item size limit (400 KB, attribute names plus values)",
    source="https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html",
)

#: S3 DeleteObjects: at most 1,000 keys per request (object keys are at most 1,024 bytes).
#: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
S3_DELETE_OBJECTS_LIMITS = ServiceLimits(
    service="s3",
    operation="DeleteObjects",
    max_entries=1000,
    max_batch_bytes=2 * MiB,
    max_item_bytes=1 * KiB,
    max_item_bytes_ceiling=1 * KiB,
    item_limit_name="S3 object key length limit",
    source="https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html",
)
