"""The template as SAM and cfn-lint see it, and the settings the issue asks for."""

from __future__ import annotations

import pytest

from emulator.stack import load_template, read_settings

from .conftest import TEMPLATE


def test_every_cfn_lint_finding_silenced_in_the_template_is_answered() -> None:
    """cfn-lint with the serverless rules runs in `make validate` (which `make test` runs first); each
    finding the template silences is answered by a comment next to it."""
    text = TEMPLATE.read_text()
    for rule in ("ES6000", "WS1000", "WS1004", "ES1001"):
        assert f"# {rule} (" in text, rule


def test_layer_resource() -> None:
    layer = load_template(TEMPLATE)["Resources"]["LambdaBatchLayer"]
    props = layer["Properties"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert props["ContentUri"] == "layer/"
    assert props["CompatibleRuntimes"] == [f"python3.{minor}" for minor in range(12, 15)]
    assert props["CompatibleArchitectures"] == ["x86_64", "arm64"]
    assert props["RetentionPolicy"] == "Retain"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    output = load_template(TEMPLATE)["Outputs"]["LambdaBatchLayerArn"]
    assert output["Value"] == {"Ref": "LambdaBatchLayer"}
    assert output["Export"]["Name"] == {"Fn::Sub": "${AWS::StackName}-LambdaBatchLayerArn"}


@pytest.mark.parametrize(
    "overrides",
    [{}, {"MaxReceiveCount": "7", "FifoMaxReceiveCount": "9", "ConsumerBatchingWindow": "30"}],
)
def test_queues_redrive_encryption_and_visibility(overrides) -> None:
    settings = read_settings(TEMPLATE, overrides)
    window_max = int(load_template(TEMPLATE)["Parameters"]["ConsumerBatchingWindow"]["MaxValue"])
    consumer_timeout = settings.function("ConsumerFunction").timeout
    for work, dlq in (("WorkQueue", "DeadLetterQueue"), ("WorkFifoQueue", "FifoDeadLetterQueue")):
        queue = settings.queue(work)
        assert queue.dead_letter_queue == dlq
        if queue.fifo:
            # Room for the messages returned behind a failed one of their group (skip_group_on_error).
            assert queue.max_receive_count == int(overrides.get("FifoMaxReceiveCount", 5))
            assert queue.max_receive_count > settings.queue("WorkQueue").max_receive_count
        else:
            assert queue.max_receive_count == int(overrides.get("MaxReceiveCount", 3))
        assert queue.visibility_timeout >= 6 * consumer_timeout + window_max
        assert queue.sqs_managed_sse and settings.queue(dlq).sqs_managed_sse
        assert settings.queue(dlq).message_retention_period == 14 * 24 * 3600
        assert settings.queue(dlq).fifo == queue.fifo
    source = settings.event_source_for_queue("WorkQueue")
    assert (source.function, source.batch_size) == ("ConsumerFunction", 10)
    assert source.maximum_batching_window == int(overrides.get("ConsumerBatchingWindow", 1))
    assert settings.event_source_for_queue("WorkFifoQueue").maximum_batching_window == 0


def test_idle_stack_costs_nothing_kinesis_is_off_by_default() -> None:
    template = load_template(TEMPLATE)
    assert template["Parameters"]["EnableKinesis"]["Default"] == "false"
    assert template["Resources"]["EventStream"]["Condition"] == "KinesisEnabled"
    assert template["Resources"]["ResultsTable"]["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    settings = read_settings(TEMPLATE)
    env = settings.function("ProducerFunction").environment
    assert env["EVENT_STREAM_NAME"] == {"Fn::If": ["KinesisEnabled", {"Ref": "EventStream"}, ""]}


def test_each_function_logs_to_its_own_log_group_with_retention() -> None:
    resources = load_template(TEMPLATE)["Resources"]
    for name in ("Consumer", "Producer"):
        props = resources[f"{name}Function"]["Properties"]
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert group == f"{name}LogGroup"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_powertools_is_taken_from_its_public_layer_by_a_parameter() -> None:
    template = load_template(TEMPLATE)
    layers = template["Globals"]["Function"]["Layers"]
    assert layers[0] == {"Ref": "LambdaBatchLayer"}
    condition, public, chosen = layers[1]["Fn::If"]
    assert condition == "UsePublicPowertoolsLayer" and chosen == {"Ref": "PowertoolsLayerArn"}
    assert ":017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:" in public["Fn::Sub"]
    assert template["Globals"]["Function"]["Runtime"] == "python3.14"
    assert template["Globals"]["Function"]["Architectures"] == ["arm64"]
