"""What `make invoke-local` checks before building: the function, the event file, the parameters, and
the function's place in the stack it deploys; each refusal is one line naming what is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from devtools.sam_files import load_template
from local_lambda.preflight import (
    PreflightError,
    check_condition,
    check_invocation,
    check_parameters,
    event_kind,
    parse_overrides,
    read_event,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


@pytest.fixture(scope="module")
def template() -> Dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_a_truncated_event_file_is_named(tmp_path: Path) -> None:
    truncated = tmp_path / "cut.json"
    truncated.write_text((EVENTS / "sqs-batch-all-success.json").read_text()[:100])
    with pytest.raises(PreflightError, match=rf"^{truncated} is not valid JSON: "):
        read_event(truncated)
    with pytest.raises(PreflightError, match=r"^no event file .*missing\.json$"):
        read_event(tmp_path / "missing.json")


def test_an_unknown_function_names_the_known_ones(template: Dict[str, Any]) -> None:
    with pytest.raises(PreflightError, match=r"no function 'Nope' in the template .*ConsumerFunction"):
        check_invocation(template, "Nope", {}, "e.json")


def test_records_for_records_is_about_the_records_key(template: Dict[str, Any], tmp_path: Path) -> None:
    event = json.loads((EVENTS / "sqs-batch-all-success.json").read_text())
    event["records"] = event.pop("Records")
    with pytest.raises(PreflightError) as raised:
        check_invocation(template, "ConsumerFunction", event, "e.json")
    assert "has no `Records` key" in str(raised.value) and "Kafka" not in str(raised.value)


@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("kafka-msk.json", "Kafka"),
        ("kafka-self-managed.json", "Kafka"),
        ("pipes-sqs.json", "Pipes"),
        ("kinesis-kpl-aggregated.json", "Kinesis"),
        ("pipes-dynamodb.json", "Pipes"),
    ],
)
def test_a_stream_sample_goes_to_the_stream_consumer(
    template: Dict[str, Any], sample: str, kind: str
) -> None:
    event = read_event(EVENTS / sample)
    assert event_kind(event) == kind
    with pytest.raises(
        PreflightError, match=f"is a {kind} event; ConsumerFunction takes SQS events: invoke "
    ):
        check_invocation(template, "ConsumerFunction", event, sample)
    check_invocation(template, "StreamConsumerFunction", event, sample)  # accepted


def test_every_sample_event_has_a_function_that_takes_it(template: Dict[str, Any]) -> None:
    for path in sorted(EVENTS.glob("*.json")):
        event = read_event(path)
        takers = []  # the producer, invoked directly, takes any JSON: the consumers are what counts
        for function in ("ConsumerFunction", "StreamConsumerFunction"):
            try:
                check_invocation(template, function, event, path.name)
            except PreflightError:
                continue
            takers.append(function)
        assert bool(takers) is not path.name.startswith("producer-"), (path.name, takers)


def test_parameters_and_the_functions_condition(template: Dict[str, Any]) -> None:
    with pytest.raises(
        PreflightError, match=r"unknown template parameter\(s\): Nope \(known: MaxReceiveCount"
    ):
        check_parameters(template, {"Nope": "1"})
    with pytest.raises(PreflightError, match="KEY=VALUE"):
        parse_overrides(["EnableKinesis"])
    with pytest.raises(PreflightError, match="add PARAMETERS=EnableKinesis=true"):
        check_condition(template, "StreamConsumerFunction", {})
    check_condition(template, "StreamConsumerFunction", {"EnableKinesis": "true"})
    check_condition(template, "ConsumerFunction", {})  # no condition


def test_the_check_command_builds_and_imports_nothing_heavy(tmp_path: Path) -> None:
    """`python -m local_lambda check`: exit 2 and one line; boto3 and moto never imported."""
    code = (
        "import sys, runpy; sys.argv = ['local_lambda', 'check', 'Nope', '--event', "
        "'events/sqs-batch-all-success.json']\n"
        "try:\n    runpy.run_module('local_lambda', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 2, exit.code\n"
        "    assert 'boto3' not in sys.modules and 'moto' not in sys.modules, 'heavy import'\n"
        "    print('checked')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.stdout.strip() == "checked", completed.stderr[-2000:]
    assert completed.stderr.strip().splitlines() == [
        "error: no function 'Nope' in the template (functions: ConsumerFunction, ProducerFunction, "
        "StreamConsumerFunction)"
    ]
