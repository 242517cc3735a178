"""CloudFormation intrinsics resolved through aws-sam-cli's resolver, as CloudFormation does."""

from __future__ import annotations

import pytest

from emulator.intrinsics import Intrinsics
from emulator.template import StackError

TEMPLATE = {
    "Parameters": {
        "Enable": {"Type": "String", "Default": "false"},
        "Name": {"Type": "String", "Default": "n"},
    },
    "Conditions": {"Enabled": {"Fn::Equals": [{"Ref": "Enable"}, "true"]}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Stream": {"Type": "AWS::Kinesis::Stream", "Condition": "Enabled"},
    },
}


def test_only_the_chosen_branch_of_fn_if_is_resolved() -> None:
    # The stream does not exist when the condition is false: its branch must not be read.
    intrinsics = Intrinsics(TEMPLATE)
    assert intrinsics.resolve({"Fn::If": ["Enabled", {"Ref": "Stream"}, ""]}) == ""
    assert intrinsics.resource_exists("Stream") is False and intrinsics.resource_exists("Queue") is True


def test_no_value_takes_its_entry_out() -> None:
    intrinsics = Intrinsics(TEMPLATE)
    value = {
        "List": ["a", {"Fn::If": ["Enabled", "b", {"Ref": "AWS::NoValue"}]}],
        "Key": {"Fn::If": ["Enabled", "x", {"Ref": "AWS::NoValue"}]},
        "Kept": {"Fn::Sub": "${Name}-${AWS::Region}-${AWS::AccountId}"},
    }
    assert intrinsics.resolve(value) == {"List": ["a"], "Kept": "n-us-east-1-123456789012"}
    assert intrinsics.resolve({"Ref": "AWS::NoValue"}) is None


def test_parameters_and_stack_references() -> None:
    intrinsics = Intrinsics(
        TEMPLATE,
        {"Enable": "true"},
        region="eu-west-1",
        ref=lambda logical_id: f"url-of-{logical_id}",
        get_att=lambda logical_id, attribute: f"{attribute}-of-{logical_id}",
    )
    assert intrinsics.resolve({"Fn::If": ["Enabled", {"Ref": "Stream"}, ""]}) == "url-of-Stream"
    assert intrinsics.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "Arn-of-Queue"
    assert intrinsics.resolve({"Fn::Sub": "${Queue.Arn}/*"}) == "Arn-of-Queue/*"
    assert (
        intrinsics.resolve({"Fn::Join": [":", [{"Ref": "AWS::Region"}, {"Ref": "Enable"}]]})
        == "eu-west-1:true"
    )


def test_a_resource_reference_without_a_stack_is_named() -> None:
    with pytest.raises(StackError, match="Ref Queue: no stack"):
        Intrinsics(TEMPLATE).resolve({"Ref": "Queue"})
    with pytest.raises(StackError, match=r"Fn::GetAtt Queue\.Arn: no stack"):
        Intrinsics(TEMPLATE).resolve({"Fn::Sub": "${Queue.Arn}"})
    with pytest.raises(StackError, match="unknown template parameter"):
        Intrinsics(TEMPLATE, {"Nope": "1"})
