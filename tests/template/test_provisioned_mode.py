"""Provisioned mode of the consumer's standard-queue event source: off by default, and never
together with ScalingConfig.MaximumConcurrency (a template condition keeps them apart, and a
rule refuses parameters asking for both before the stack is created)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

import pytest

from emulator.intrinsics import Intrinsics
from emulator.stack import load_template, translate_template

from .conftest import TEMPLATE


def failed_rules(overrides: Mapping[str, Any]) -> List[str]:
    """The AssertDescription of each Rules assertion that ``overrides`` fail, as CloudFormation
    evaluates them before it creates or updates the stack."""
    template = load_template(TEMPLATE)
    intrinsics = Intrinsics(template, overrides)
    failed = []
    for rule in (template.get("Rules") or {}).values():
        if "RuleCondition" in rule and not intrinsics.resolve(rule["RuleCondition"]):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not intrinsics.resolve(a["Assert"])]
    return failed


def event_source(overrides: Mapping[str, Any]) -> Dict[str, Any]:
    translated = translate_template(TEMPLATE, overrides)
    intrinsics = Intrinsics(translated, overrides)
    props = translated["Resources"]["ConsumerFunctionWorkQueue"]["Properties"]
    resolved = {
        key: intrinsics.resolve(props.get(key)) for key in ("ProvisionedPollerConfig", "ScalingConfig")
    }
    return {key: value for key, value in resolved.items() if value is not None}


def test_provisioned_mode_is_off_by_default_and_nothing_is_capped() -> None:
    assert event_source({}) == {}
    assert failed_rules({}) == []
    fifo = translate_template(TEMPLATE)["Resources"]["ConsumerFunctionWorkFifoQueue"]["Properties"]
    assert "ProvisionedPollerConfig" not in fifo and "ScalingConfig" not in fifo


def test_minimum_pollers_turn_provisioned_mode_on() -> None:
    overrides = {"ConsumerMinimumPollers": "2", "ConsumerMaximumPollers": "20"}
    assert event_source(overrides) == {
        "ProvisionedPollerConfig": {"MinimumPollers": "2", "MaximumPollers": "20"}
    }
    assert failed_rules(overrides) == []


def test_maximum_concurrency_alone_is_a_scaling_config() -> None:
    overrides = {"ConsumerMaximumConcurrency": "50"}
    assert event_source(overrides) == {"ScalingConfig": {"MaximumConcurrency": "50"}}
    assert failed_rules(overrides) == []


def test_provisioned_mode_and_maximum_concurrency_exclude_each_other() -> None:
    both = {"ConsumerMinimumPollers": "2", "ConsumerMaximumConcurrency": "50"}
    # The rule refuses the stack...
    (refusal,) = failed_rules(both)
    assert "cannot be combined with" in refusal and "ConsumerMaximumConcurrency" in refusal
    # ...and the conditions would never put both on the mapping anyway.
    assert set(event_source(both)) == {"ProvisionedPollerConfig"}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"ConsumerMinimumPollers": "1"}, "at least 2 pollers"),
        ({"ConsumerMaximumConcurrency": "1"}, "2 to 1000"),
    ],
)
def test_values_lambda_refuses_are_refused_by_a_rule(overrides: Dict[str, str], named: str) -> None:
    (refusal,) = failed_rules(overrides)
    assert named in refusal


def test_the_parameters_ranges_are_lambdas() -> None:
    parameters = load_template(TEMPLATE)["Parameters"]
    assert (
        parameters["ConsumerMinimumPollers"]["MinValue"],
        parameters["ConsumerMinimumPollers"]["MaxValue"],
    ) == (0, 200)
    assert (
        parameters["ConsumerMaximumPollers"]["MinValue"],
        parameters["ConsumerMaximumPollers"]["MaxValue"],
    ) == (2, 2000)
    assert parameters["ConsumerMinimumPollers"]["Default"] == 0  # off by default
