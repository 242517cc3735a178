"""ARNs: parsing, and the SQS queue URL each queue ARN stands for."""

from __future__ import annotations

import pytest

from lambda_batch.core.arns import parse_arn, sqs_queue_url


def test_parse_arn_splits_the_six_parts_and_keeps_colons_in_the_resource():
    arn = parse_arn("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T00:00:00.000")
    assert (arn.partition, arn.service, arn.region, arn.account) == (
        "aws",
        "dynamodb",
        "us-east-1",
        "123456789012",
    )
    assert arn.resource == "table/orders/stream/2024-01-01T00:00:00.000"
    assert parse_arn("arn:aws:kinesis:eu-west-1:1:stream/a:b").resource == "stream/a:b"


@pytest.mark.parametrize(
    "bad", ["", "arn:aws:sqs", "urn:aws:sqs:us-east-1:1:q", "arn::sqs:r:1:q", "arn:aws:sqs:r:1:", None, 5]
)
def test_parse_arn_rejects_what_is_not_an_arn_and_names_it(bad):
    with pytest.raises(ValueError, match="not an ARN"):
        parse_arn(bad)


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        ("arn:aws:sqs:eu-west-1:123456789012:jobs", "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"),
        (
            "arn:aws:sqs:us-east-1:123456789012:orders.fifo",
            "https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo",
        ),
        (
            "arn:aws-cn:sqs:cn-north-1:123456789012:q",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
        ),
        (
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q",
            "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
        ),
    ],
)
def test_sqs_queue_url_comes_from_the_arn_region_account_and_name(arn, url):
    assert sqs_queue_url(arn) == url


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:sns:us-east-1:123456789012:topic", "arn:aws:sqs::123456789012:q", "arn:aws:sqs:us-east-1::q"],
)
def test_sqs_queue_url_rejects_other_arns(arn):
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        sqs_queue_url(arn)
