"""Least privilege, proved by reading the template's IAM policies (and checked against real calls)."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from emulator.stack import (
    Intrinsics,
    iter_policy_statements,
    load_template,
    resources_of_type,
    translate_template,
)
from local_lambda.sqs_events import seed_sqs_event

from .conftest import TEMPLATE, load_event

# API operation -> the IAM action that authorizes it (SQS batch APIs have no action of their own).
IAM_ACTION = {
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "ReceiveMessage"): "sqs:ReceiveMessage",
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("sns", "PublishBatch"): "sns:Publish",
    ("sns", "GetTopicAttributes"): "sns:GetTopicAttributes",
    ("dynamodb", "BatchWriteItem"): "dynamodb:BatchWriteItem",
    ("dynamodb", "DescribeTable"): "dynamodb:DescribeTable",
    ("dynamodb", "BatchGetItem"): "dynamodb:BatchGetItem",
    ("dynamodb", "UpdateItem"): "dynamodb:UpdateItem",
    ("dynamodb", "PutItem"): "dynamodb:PutItem",
    ("dynamodb", "DeleteItem"): "dynamodb:DeleteItem",
    ("kinesis", "PutRecords"): "kinesis:PutRecords",
    ("cloudwatch", "PutMetricData"): "cloudwatch:PutMetricData",
}
#: TransactWriteItems has no IAM action of its own: each item is authorized by its kind's action.
TRANSACT_ITEM_ACTION = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
#: The DynamoDB actions the consumer's idempotency needs, on its table only: one BatchGetItem reads a
#: batch's records, conditional puts in TransactWriteItems claim them (dynamodb:PutItem), BatchWriteItem
#: completes them and releases a failed record's claim (a DeleteRequest: no dynamodb:DeleteItem).
IDEMPOTENCY_ACTIONS = {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"}
#: ``${Bucket.Arn}/*``: the objects of one bucket of the stack (named ``Bucket/*`` below).
OBJECTS_OF = re.compile(r"^\$\{(\w+)\.Arn\}/\*$")
#: Calls a dispatcher makes once and survives being denied (it then assumes the service limits).
TOLERATED_DENIALS = {("ProducerRole", "sqs:GetQueueAttributes")}


def as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def statements(template: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    for role_id in resources_of_type(template, "AWS::IAM::Role"):
        for statement in iter_policy_statements(template, role_id):
            if "Fn::If" in statement:  # a conditional statement: check both branches
                for branch in statement["Fn::If"][1:]:
                    if isinstance(branch, dict) and "Ref" not in branch:
                        yield role_id, branch
                continue
            yield role_id, statement


def resource_ids(statement: Dict[str, Any]) -> Set[str]:
    """The logical ids a statement's resources name (``*`` stays ``*``)."""
    ids = set()
    for resource in as_list(statement["Resource"]):
        if resource == "*":
            ids.add("*")
        elif isinstance(resource, dict) and "Fn::GetAtt" in resource:
            ids.add(resource["Fn::GetAtt"][0])
        elif isinstance(resource, dict) and OBJECTS_OF.match(str(resource.get("Fn::Sub"))):
            ids.add(OBJECTS_OF.match(resource["Fn::Sub"]).group(1) + "/*")  # every object of a bucket
        else:
            raise AssertionError(f"resource {resource!r} is neither a resource of the stack nor '*'")
    return ids


def grants(template: Dict[str, Any], role_id: str) -> Set[Tuple[str, str]]:
    return {
        (action, resource)
        for role, statement in statements(template)
        if role == role_id and statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
        for resource in resource_ids(statement)
    }


@pytest.fixture(scope="module")
def template() -> Dict[str, Any]:
    return load_template(TEMPLATE)


def test_functions_have_their_own_roles_and_no_managed_policies(template) -> None:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert set(functions) == {"ConsumerFunction", "ProducerFunction", "StreamConsumerFunction"}
    for logical_id, function in functions.items():
        props = function["Properties"]
        assert props["Role"] == {"Fn::GetAtt": [logical_id.replace("Function", "Role"), "Arn"]}
        assert "Policies" not in props
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]


def test_no_wildcard_action_anywhere(template) -> None:
    for role_id, statement in statements(template):
        assert statement["Effect"] == "Allow", role_id
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action and "?" not in action, (role_id, action)


def test_wildcard_resource_only_for_put_metric_data_limited_to_the_namespace(template) -> None:
    wildcard = [(role, s) for role, s in statements(template) if "*" in resource_ids(s)]
    assert [role for role, _ in wildcard] == ["ProducerRole"]
    ((_, statement),) = wildcard
    assert as_list(statement["Action"]) == ["cloudwatch:PutMetricData"]
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}}
    # the functions' Powertools metrics use the same namespace
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}


def test_consumer_may_receive_and_delete_on_its_queues_and_nothing_else(template) -> None:
    queues = {"WorkQueue", "WorkFifoQueue"}
    expected = {
        (a, q) for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes") for q in queues
    }
    # retry_delay: the failed messages' visibility, on the consumer's own queues only (no DLQ).
    expected |= {("sqs:ChangeMessageVisibility", q) for q in queues}
    expected |= {("logs:CreateLogStream", "ConsumerLogGroup"), ("logs:PutLogEvents", "ConsumerLogGroup")}
    expected |= {("s3:GetObject", "PayloadBucket/*"), ("s3:DeleteObject", "PayloadBucket/*")}
    # Idempotency, on its own table; the record handler's effect (a job counter) in the results table.
    expected |= {(a, "IdempotencyTable") for a in IDEMPOTENCY_ACTIONS}
    expected |= {("dynamodb:UpdateItem", "ResultsTable")}
    assert grants(template, "ConsumerRole") == expected
    # DeleteMessageBatch, which deletes a partial batch's successes, is authorized by sqs:DeleteMessage.
    assert IAM_ACTION["sqs", "DeleteMessageBatch"] == "sqs:DeleteMessage"
    # The consumer's event sources read exactly these queues.
    events = template["Resources"]["ConsumerFunction"]["Properties"]["Events"]
    assert {e["Properties"]["Queue"]["Fn::GetAtt"][0] for e in events.values()} == queues


def test_producer_has_only_each_dispatchers_put_action_on_its_own_target(template) -> None:
    assert grants(template, "ProducerRole") == {
        ("sqs:SendMessage", "WorkQueue"),
        ("sqs:SendMessage", "WorkFifoQueue"),
        ("dynamodb:BatchWriteItem", "ResultsTable"),
        ("dynamodb:DescribeTable", "ResultsTable"),
        ("kinesis:PutRecords", "EventStream"),
        ("cloudwatch:PutMetricData", "*"),
        ("logs:CreateLogStream", "ProducerLogGroup"),
        ("logs:PutLogEvents", "ProducerLogGroup"),
        ("s3:PutObject", "PayloadBucket/*"),
        ("s3:DeleteObject", "PayloadBucket/*"),
    }
    # the dead-letter queues are written by SQS itself, never by a function
    for role in ("ConsumerRole", "ProducerRole"):
        assert not {r for _, r in grants(template, role)} & {"DeadLetterQueue", "FifoDeadLetterQueue"}


def test_describe_table_is_granted_on_the_results_table_only(template) -> None:
    """The DynamoDB dispatcher reads its table's key (DescribeTable): on that table, by no other role."""
    described = {
        (role, resource)
        for role in ("ConsumerRole", "ProducerRole")
        for action, resource in grants(template, role)
        if action == "dynamodb:DescribeTable"
    }
    assert described == {("ProducerRole", "ResultsTable")}
    for _, statement in statements(template):
        if "dynamodb:DescribeTable" in as_list(statement["Action"]):
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["ResultsTable", "Arn"]}]


def test_idempotency_table_is_the_consumers_alone_with_exactly_the_features_actions(template) -> None:
    """Powertools' table layout, on demand, TTL on ``expiration``, encrypted; only the consumer may use
    it, with the calls the feature makes and no other (no Scan, Query, DescribeTable, UpdateItem)."""
    table = template["Resources"]["IdempotencyTable"]
    props = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    users = {
        (role, action)
        for role in ("ConsumerRole", "ProducerRole", "StreamConsumerRole")
        for action, resource in grants(template, role)
        if resource == "IdempotencyTable"
    }
    assert users == {("ConsumerRole", action) for action in IDEMPOTENCY_ACTIONS}
    for _, statement in statements(template):
        if "IdempotencyTable" in resource_ids(statement):  # the table itself, nothing else with it
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": ["IdempotencyTable", "Arn"]}]
    consumer_env = template["Resources"]["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert consumer_env["IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}
    assert consumer_env["RESULTS_TABLE_NAME"] == {"Ref": "ResultsTable"}
    assert template["Outputs"]["IdempotencyTableName"]["Value"] == {"Ref": "IdempotencyTable"}


def test_stream_consumer_may_read_its_stream_and_write_its_logs_and_nothing_else(template) -> None:
    assert grants(template, "StreamConsumerRole") == {
        ("kinesis:DescribeStream", "EventStream"),
        ("kinesis:DescribeStreamSummary", "EventStream"),
        ("kinesis:GetRecords", "EventStream"),
        ("kinesis:GetShardIterator", "EventStream"),
        ("kinesis:ListShards", "EventStream"),
        ("logs:CreateLogStream", "StreamConsumerLogGroup"),
        ("logs:PutLogEvents", "StreamConsumerLogGroup"),
    }
    function = template["Resources"]["StreamConsumerFunction"]
    assert (
        function["Condition"] == template["Resources"]["StreamConsumerRole"]["Condition"] == "KinesisEnabled"
    )
    (source,) = function["Properties"]["Events"].values()
    assert source["Type"] == "Kinesis" and source["Properties"]["Stream"] == {
        "Fn::GetAtt": ["EventStream", "Arn"]
    }
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_kinesis_grant_exists_only_with_the_stream() -> None:
    for enabled in ("true", "false"):
        translated = translate_template(TEMPLATE, {"EnableKinesis": enabled})
        resolved = Intrinsics(
            translated, {"EnableKinesis": enabled}, ref=str, get_att=lambda i, a: f"{i}.{a}"
        )
        role = resolved.resolve(translated["Resources"]["ProducerRole"])
        actions = json.dumps(role["Properties"]["Policies"])
        assert ("kinesis:PutRecords" in actions) is (enabled == "true")
        assert resolved.resource_exists("EventStream") is (enabled == "true")
        assert resolved.resource_exists("StreamConsumerFunction") is (enabled == "true")


@pytest.mark.integration
def test_every_call_the_functions_make_is_granted(template, consumer, producer, stack, sqs) -> None:
    """Run the sample events and check each recorded API call against the role's grants."""
    consumer_calls = consumer.invoke(
        seed_sqs_event(load_event("sqs-batch-with-failures.json"), stack.queue_url("WorkQueue"), sqs)
    ).api_calls
    # The batch has failures: the consumer deleted its successes and delayed its failures.
    operations = {call["operation"] for call in consumer_calls}
    assert {"DeleteMessageBatch", "ChangeMessageVisibilityBatch"} <= operations, operations
    producer_calls = []
    for name in ("producer-standard.json", "producer-fifo.json", "producer-kinesis.json"):
        result = producer.invoke(load_event(name))
        assert result.ok, result.error
        producer_calls += result.api_calls
    by_physical = {}
    for logical_id in ("WorkQueue", "WorkFifoQueue"):
        by_physical[stack.queue_url(logical_id)] = logical_id
    by_physical[stack.physical_id("ResultsTable")] = "ResultsTable"
    by_physical[stack.physical_id("IdempotencyTable")] = "IdempotencyTable"
    by_physical[stack.physical_id("EventStream")] = "EventStream"

    # Idempotency: the batch's records read, claimed, completed; the successes' effects counted.
    assert {"BatchGetItem", "TransactWriteItems", "UpdateItem"} <= operations, operations
    for role_id, calls in (("ConsumerRole", consumer_calls), ("ProducerRole", producer_calls)):
        assert calls, role_id
        allowed = grants(template, role_id)
        for call in calls:
            target = call["target"]
            if call["operation"] == "TransactWriteItems":  # authorized item by item
                for kind, table in target["TransactItems"]:
                    assert (TRANSACT_ITEM_ACTION[kind], by_physical[table]) in allowed, (role_id, call)
                continue
            action = IAM_ACTION[call["service"], call["operation"]]
            if "Namespace" in target:
                assert target["Namespace"] == stack.parameters["MetricsNamespace"]
                resource = "*"
            else:
                physical = (
                    target.get("QueueUrl")
                    or target.get("StreamName")
                    or target.get("TableName")
                    or target.get("RequestItems", [None])[0]
                )
                resource = by_physical[physical]
            if (role_id, action) in TOLERATED_DENIALS:
                continue
            assert (action, resource) in allowed, (role_id, call)


def test_large_payloads_are_scoped_to_the_objects_of_the_stacks_payload_bucket(template) -> None:
    """Each side gets only its S3 actions, on the objects of the one bucket the stack creates."""
    s3 = {
        (role, action, resource)
        for role in ("ConsumerRole", "ProducerRole")
        for action, resource in grants(template, role)
        if action.startswith("s3:")
    }
    assert s3 == {
        ("ConsumerRole", "s3:GetObject", "PayloadBucket/*"),
        ("ConsumerRole", "s3:DeleteObject", "PayloadBucket/*"),
        ("ProducerRole", "s3:PutObject", "PayloadBucket/*"),
        ("ProducerRole", "s3:DeleteObject", "PayloadBucket/*"),
    }
    # neither may list, read the bucket's settings or touch another bucket; the consumer cannot write
    assert resources_of_type(template, "AWS::S3::Bucket").keys() == {"PayloadBucket"}
    producer_env = template["Resources"]["ProducerFunction"]["Properties"]["Environment"]["Variables"]
    assert producer_env["PAYLOAD_BUCKET_NAME"] == {"Ref": "PayloadBucket"}
    # the consumer is told the one bucket its pointers may name (large_payload_buckets)
    consumer_env = template["Resources"]["ConsumerFunction"]["Properties"]["Environment"]["Variables"]
    assert consumer_env["PAYLOAD_BUCKET_NAME"] == {"Ref": "PayloadBucket"}


def test_payload_bucket_is_encrypted_private_and_expires_orphans(template) -> None:
    props = template["Resources"]["PayloadBucket"]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled" and "Prefix" not in lifecycle and "Filter" not in lifecycle
    # an object outlives every message that can point at it: the queues keep messages 14 days at most
    retention_days = max(
        int(queue["Properties"].get("MessageRetentionPeriod", 345600)) / 86400
        for queue in resources_of_type(template, "AWS::SQS::Queue").values()
    )
    assert lifecycle["ExpirationInDays"] > retention_days
