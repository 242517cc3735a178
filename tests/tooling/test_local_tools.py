"""The local invoker, its command line, `make invoke` without Docker, and publishing the layer alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from local_lambda.invoker import FunctionError, InvocationError, LocalFunction
from tests.template.test_build import LAYER_ZIP_GOAL_BYTES

from .conftest import ROOT, TEMPLATE, load_event

pytestmark = pytest.mark.integration


def test_invoker_runs_the_built_code_with_lambdas_context_and_environment(consumer, stack) -> None:
    result = consumer.invoke(load_event("sqs-malformed.json"))
    # the layer's code that ran is the built layer, not the repository's copy
    trace = "".join(result.error["stackTrace"])
    assert str(consumer.build_dir / "LambdaBatchLayer" / "python" / "lambda_batch") in trace
    assert str(ROOT / "layer" / "lambda_batch") not in trace
    env = consumer.environment
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == stack.function_name("ConsumerFunction")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == stack.physical_id("ConsumerLogGroup")
    assert consumer.timeout == 20.0
    assert consumer.external_layers and "AWSLambdaPowertoolsPythonV3" in consumer.external_layers[0]


def test_warm_invocations_reuse_the_process(producer) -> None:
    producer.close()
    first = producer.invoke({"count": 1, "targets": ["dynamodb"], "run_id": "warm-1"})
    second = producer.invoke({"count": 1, "targets": ["dynamodb"], "run_id": "warm-2"})
    assert (first.cold_start, second.cold_start) == (True, False)
    assert first.ok and second.ok


def test_a_short_deadline_returns_in_time_with_the_rest_unprocessed(producer) -> None:
    # The dispatchers stop before the deadline: the function returns, nothing is lost. What the
    # layer does is read from its answer (DeadlineExceeded for the rest): the emulator's own stop
    # of an overrun gets a minute of slack, so that a busy machine's slowness is not taken for one.
    result = producer.invoke({"count": 3000, "targets": ["sqs"], "run_id": "short"}, timeout=0.01, grace=60.0)
    assert result.ok, result.error
    body = result.return_value
    assert body["requested"] == 3000
    assert body["sent"].get("sqs", 0) + body["unprocessed_count"] == 3000
    assert body["unprocessed_count"] > 0
    assert {failure["code"] for failure in body["unprocessed"]["sqs"]} == {"DeadlineExceeded"}


@pytest.mark.realtime
def test_a_handler_that_overruns_its_timeout_is_stopped(stack, build_dir, tmp_path) -> None:
    slow_build = tmp_path / "build"
    shutil.copytree(build_dir, slow_build)
    (slow_build / "ProducerFunction" / "app.py").write_text(
        "import time\n\ndef lambda_handler(event, context):\n    time.sleep(60)\n"
    )
    with LocalFunction(TEMPLATE, "ProducerFunction", slow_build, stack=stack) as slow:
        timed_out = slow.invoke({}, timeout=0.2)
        assert timed_out.error_type == "Sandbox.Timedout"
        assert timed_out.error["errorMessage"] == "Task timed out after 0.20 seconds"
        assert slow.invoke({}, timeout=0.2).cold_start  # the stopped process is replaced


@pytest.mark.realtime
def test_a_cold_start_s_init_phase_is_not_counted_in_the_timeout(stack, build_dir, tmp_path) -> None:
    # As on Lambda: importing the handler's module (up to 10 s) is the init phase, outside the
    # first invocation's Timeout; the handler then has its whole Timeout.
    slow_init = tmp_path / "build"
    shutil.copytree(build_dir, slow_init)
    (slow_init / "ProducerFunction" / "app.py").write_text(
        "import time\n\ntime.sleep(3)\n\n"
        "def lambda_handler(event, context):\n    return context.get_remaining_time_in_millis()\n"
    )
    with LocalFunction(TEMPLATE, "ProducerFunction", slow_init, stack=stack) as function:
        first = function.invoke({}, timeout=2.0)
        assert first.ok and first.cold_start, first.error
        assert first.return_value > 1000  # the init's 3 s were not taken from the handler's 2 s


def test_invoker_as_a_plain_handler_raises_on_failure(consumer) -> None:
    with pytest.raises(FunctionError, match="MalformedEventError"):
        consumer(load_event("sqs-malformed.json"), None)
    assert consumer.last_result is not None and not consumer.last_result.ok


def test_invoker_names_a_missing_build_or_unresolvable_environment(tmp_path, build_dir) -> None:
    with pytest.raises(InvocationError, match="not a `sam build` output"):
        LocalFunction(TEMPLATE, "ConsumerFunction", tmp_path)
    with pytest.raises(InvocationError, match="WORK_QUEUE_URL"):
        LocalFunction(TEMPLATE, "ProducerFunction", build_dir, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(KeyError, match="no function 'Nope'"):
        LocalFunction(TEMPLATE, "Nope", build_dir)


def test_command_line_invokes_with_a_seeded_event_on_its_own_emulator(build_dir) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "local_lambda", "invoke", "ConsumerFunction",
         "--event", "events/sqs-batch-with-failures.json", "--build-dir", str(build_dir), "--fresh-emulator"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=180,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stderr[-2000:]
    payload = json.loads(completed.stdout)
    assert payload["errorType"] == "SQSBatchProcessingError"
    assert "2 of 5 records failed, 3 deleted" in payload["errorMessage"]
    after = json.loads([line for line in completed.stderr.splitlines() if line.startswith('{"after"')][-1])
    assert after["after"] == {"queue": "WorkQueue", "visible": 0, "in_flight": 2}


def test_make_invoke_without_docker_names_the_local_alternative(tmp_path) -> None:
    completed = subprocess.run(
        ["make", "--no-print-directory", "-o", "build", "invoke", "FUNCTION=ProducerFunction",
         "EVENT=events/producer-standard.json"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert completed.returncode != 0
    assert "needs Docker" in completed.stdout
    assert (
        "make invoke-local FUNCTION=ProducerFunction EVENT=events/producer-standard.json" in completed.stdout
    )


def test_publish_layer_prints_the_arn_and_shares_it(moto_server, aws_client) -> None:
    completed = subprocess.run(
        [sys.executable, "tools/publish_layer.py", "--endpoint-url", moto_server.endpoint_url,
         "--region", "us-east-1", "--layer-name", "lambda-batch-published",
         "--principal", "210987654321", "--org-id", "o-abc1234567"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    arn = completed.stdout.strip().splitlines()[-1]
    assert arn.startswith("arn:aws:lambda:us-east-1:") and ":layer:lambda-batch-published:" in arn
    lambda_client = aws_client("lambda")
    number = int(arn.rsplit(":", 1)[1])
    version = lambda_client.get_layer_version(LayerName="lambda-batch-published", VersionNumber=number)
    assert version["CompatibleArchitectures"] == ["x86_64", "arm64"]
    policy = json.loads(
        lambda_client.get_layer_version_policy(LayerName="lambda-batch-published", VersionNumber=number)[
            "Policy"
        ]
    )
    grants = {(s["Principal"], s.get("OrganizationId")) for s in policy["Statement"]}
    assert grants == {("210987654321", None), ("*", "o-abc1234567")}
    assert all(s["Action"] == "lambda:GetLayerVersion" for s in policy["Statement"])
    assert 0 < version["Content"]["CodeSize"] < LAYER_ZIP_GOAL_BYTES


def test_publish_layer_refuses_a_bad_principal() -> None:
    completed = subprocess.run(
        [sys.executable, "tools/publish_layer.py", "--principal", "not-an-account", "--region", "us-east-1"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "12-digit account id" in completed.stderr


def test_functions_get_fake_credentials_only_against_an_emulator(monkeypatch) -> None:
    from local_lambda.invoker import FAKE_CREDENTIALS, credentials_environment

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_PROFILE", "work")
    assert credentials_environment("http://127.0.0.1:5000") == FAKE_CREDENTIALS
    assert credentials_environment("http://localhost:4566") == FAKE_CREDENTIALS
    real = credentials_environment(None)
    assert real["AWS_ACCESS_KEY_ID"] == "AKIAREAL" and real["AWS_PROFILE"] == "work"
    remote = credentials_environment("https://sqs.eu-west-1.amazonaws.com")
    assert remote["AWS_SECRET_ACCESS_KEY"] == "real-secret"
