"""The reference stack deployed to moto: the resources it creates, read back from the emulator."""

from __future__ import annotations

import json

import pytest

from emulator.stack import StackError, deploy_stack, load_stack, read_settings

from .conftest import TEMPLATE

pytestmark = pytest.mark.integration


def test_queues_and_dead_letter_redrive(stack) -> None:
    sqs = stack.client("sqs")
    for work, dlq, fifo, max_receive_count in (
        ("WorkQueue", "DeadLetterQueue", False, 2),
        ("WorkFifoQueue", "FifoDeadLetterQueue", True, 4),
    ):
        attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url(work), AttributeNames=["All"])[
            "Attributes"
        ]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == stack.queue_arn(dlq)
        # the parameters given at deploy time (MaxReceiveCount, FifoMaxReceiveCount)
        assert int(redrive["maxReceiveCount"]) == max_receive_count
        assert attributes["VisibilityTimeout"] == "150"
        assert attributes["SqsManagedSseEnabled"] == "true"
        assert stack.queue_url(work).endswith(".fifo") is fifo
        dlq_attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url(dlq), AttributeNames=["All"])[
            "Attributes"
        ]
        assert dlq_attributes["MessageRetentionPeriod"] == "1209600"


def test_stream_and_table(stack) -> None:
    summary = stack.client("kinesis").describe_stream_summary(StreamName=stack.physical_id("EventStream"))
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == 1
    table = stack.client("dynamodb").describe_table(TableName=stack.physical_id("ResultsTable"))["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_idempotency_table_as_the_template_makes_it(stack) -> None:
    """The consumer's idempotency table on the emulator: Powertools' key, on demand, TTL on
    ``expiration`` (applied from the template, as CloudFormation does), encrypted; the consumer is
    told its name."""
    dynamodb = stack.client("dynamodb")
    name = stack.physical_id("IdempotencyTable")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # (moto reports no SSEDescription for SSEEnabled alone; the template's is checked in test_policy)
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiration",
    }
    results = stack.physical_id("ResultsTable")
    assert dynamodb.describe_time_to_live(TableName=results)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }
    env = stack.function_environment("ConsumerFunction")
    assert env["IDEMPOTENCY_TABLE_NAME"] == name == stack.outputs["IdempotencyTableName"]
    assert env["RESULTS_TABLE_NAME"] == results


def test_functions_roles_and_layer(stack) -> None:
    lambda_client = stack.client("lambda")
    iam = stack.client("iam")
    layer_arn = stack.outputs["LambdaBatchLayerArn"]
    assert layer_arn.startswith(f"arn:aws:lambda:{stack.region}:{stack.account_id}:layer:")
    layer_name, number = layer_arn.split(":")[-2:]
    version = lambda_client.get_layer_version(LayerName=layer_name, VersionNumber=int(number))
    assert version["CompatibleRuntimes"] == [f"python3.{minor}" for minor in range(12, 15)]
    for name, timeout in (("Consumer", 20), ("Producer", 60)):
        config = lambda_client.get_function_configuration(FunctionName=stack.function_name(f"{name}Function"))
        assert (config["Runtime"], config["Handler"], config["Timeout"]) == (
            "python3.14",
            "app.lambda_handler",
            timeout,
        )
        # (moto's CloudFormation drops Architectures; the template's arm64 is checked in test_template)
        assert [layer["Arn"] for layer in config["Layers"]] == [layer_arn]
        assert config["Role"] == stack.get_att(f"{name}Role", "Arn")
        policies = iam.list_role_policies(RoleName=stack.physical_id(f"{name}Role"))["PolicyNames"]
        assert sorted(policies) == sorted(
            ["consume-work-queues" if name == "Consumer" else "dispatch-to-targets", "write-own-logs"]
        )
        assert (
            iam.list_attached_role_policies(RoleName=stack.physical_id(f"{name}Role"))["AttachedPolicies"]
            == []
        )
    # moto cannot run the layer of another account: recorded, not silently lost
    assert all(
        "AWSLambdaPowertoolsPythonV3" in arn
        for arns in stack.adaptations.external_layers.values()
        for arn in arns
    )


def test_event_source_mappings(stack) -> None:
    lambda_client = stack.client("lambda")
    settings = read_settings(TEMPLATE, stack.parameters)
    consumer_arn = stack.get_att("ConsumerFunction", "Arn")
    for logical_id in ("ConsumerFunctionWorkQueue", "ConsumerFunctionWorkFifoQueue"):
        mapping = lambda_client.get_event_source_mapping(UUID=stack.physical_id(logical_id))
        expected = settings.event_sources[logical_id]
        assert mapping["FunctionArn"] == consumer_arn
        assert mapping["EventSourceArn"] == stack.queue_arn(expected.queue)
        assert mapping["BatchSize"] == expected.batch_size
        assert mapping.get("MaximumBatchingWindowInSeconds", 0) == expected.maximum_batching_window
        # created disabled on moto, which would otherwise try to run the function in Docker
        assert mapping["State"] == "Disabled"


def test_outputs_and_environment_resolve_to_the_stack(stack) -> None:
    assert stack.outputs["WorkQueueUrl"] == stack.queue_url("WorkQueue")
    assert stack.outputs["ResultsTableName"] == stack.physical_id("ResultsTable")
    env = stack.function_environment("ProducerFunction")
    assert env["WORK_QUEUE_URL"] == stack.queue_url("WorkQueue")
    assert env["WORK_FIFO_QUEUE_URL"] == stack.queue_url("WorkFifoQueue")
    assert env["EVENT_STREAM_NAME"] == stack.physical_id("EventStream")
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LambdaBatch"


def test_load_stack_reads_back_the_deployed_stack(stack) -> None:
    again = load_stack(stack.endpoint_url, stack_name=stack.stack_name, template=TEMPLATE)
    assert again.resources == stack.resources
    assert again.layer_version_arns == stack.layer_version_arns
    with pytest.raises(StackError, match="no stack"):
        load_stack(stack.endpoint_url, stack_name="no-such-stack", template=TEMPLATE)


def test_deploying_a_stack_twice_or_with_a_bad_parameter_is_a_clear_error(stack) -> None:
    with pytest.raises(StackError, match="already exists"):
        deploy_stack(stack.endpoint_url, build_dir=stack.build_dir, stack_name=stack.stack_name)
    with pytest.raises(StackError, match="unknown template parameter"):
        deploy_stack(
            stack.endpoint_url, build_dir=stack.build_dir, stack_name="x", parameter_overrides={"Nope": 1}
        )


@pytest.mark.slow
def test_default_parameters_deploy_without_the_stream(moto_server, build_dir) -> None:
    default = deploy_stack(moto_server.endpoint_url, build_dir=build_dir, stack_name="lambda-batch-default")
    assert "EventStream" not in default.resources
    assert "EventStreamName" not in default.outputs
    assert default.function_environment("ProducerFunction")["EVENT_STREAM_NAME"] == ""
    assert json.loads(
        default.client("sqs").get_queue_attributes(
            QueueUrl=default.queue_url("WorkQueue"), AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
    )["maxReceiveCount"] in (3, "3")
