"""Every command of the README and of the documentation pages that hold the "two commands", the
demo, "Attach the layer", the reference stack and "Invoking the functions", run the way the page
shows it, with the outcome it states.

The commands are read from the documents themselves (``DOCUMENTS``). ``COVERED`` says, for each
one, which test below runs it (or, for a command that needs Docker or an AWS account, why it is
only checked for what can be checked here); ``test_every_readme_command_is_covered`` fails when a
document gains, loses or changes a command, so documents and tests cannot drift. Everything runs
against moto on loopback, without AWS credentials in the environment (the fake ones the tools use
on loopback).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.realtime]

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: The documents whose every command is run here: the README (the front page) and the pages of
#: the site that hold the two commands, the demo, attaching the layer, the reference stack and
#: invoking the functions (tests/docs/test_site.py: a page with a bash block must be one of them).
DOCUMENTS = (
    README,
    ROOT / "docs" / "guide" / "getting-started.md",
    ROOT / "docs" / "guide" / "demo.md",
    ROOT / "docs" / "guide" / "reference-stack.md",
    ROOT / "docs" / "guide" / "local-development.md",
)
#: The page with the `make demo` sample (tools/readme_samples.py rewrites it), the one with the invoke table.
DEMO_PAGE = ROOT / "docs" / "guide" / "demo.md"
INVOKE_PAGE = ROOT / "docs" / "guide" / "local-development.md"
PREFIXES = ("make ", ".venv/bin/", "sam ", "aws ", "git ")
PORT = "http://127.0.0.1:PORT"

# ----------------------------------------------------------------------------- reading the documents


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level (a comment
    line of a code block is no heading)."""
    level = len(heading.split(" ", maxsplit=1)[0])
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    rest = text[start:]
    blanked = re.sub(r"```.*?```", lambda fence: re.sub(r"[^\n]", " ", fence.group(0)), rest, flags=re.S)
    match = re.search(r"\n#{1," + str(level) + r"} ", blanked)
    return rest[: match.start()] if match else rest


def commands_of(text: str) -> List[str]:
    """Commands in ``bash`` blocks (one a line, comments and comment lines cut) and inline spans
    that start like one."""
    found: List[str] = []
    fenced = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
    for match in fenced.finditer(text):
        if match.group(1) == "bash":
            for line in match.group(2).replace("\\\n", " ").splitlines():
                command = re.sub(r"\s+", " ", re.split(r"\s+# ", line)[0]).strip()
                if command and not command.startswith("#"):
                    found.append(command)
    for span in re.findall(r"`([^`\n]+)`", fenced.sub("", text)):
        if span.startswith(PREFIXES):
            found.append(span.strip())
    return found


def readme_commands() -> List[str]:
    seen: List[str] = []
    for document in DOCUMENTS:
        for command in commands_of(document.read_text(encoding="utf-8")):
            if command not in seen:
                seen.append(command)
    return seen


def invoke_table() -> Dict[str, List[str]]:
    """The invoke table's rows: event file -> [function, outcome as written]."""
    text = section(INVOKE_PAGE.read_text(encoding="utf-8"), "## Invoking the functions")
    rows = re.findall(r"^\| `([a-z-]+\.json)` \| (\w+) \| (.+?) \|$", text, re.MULTILINE)
    return {event: [function, outcome] for event, function, outcome in rows}


# ----------------------------------------------------------------------------- what covers each command

#: A command of the documents -> the test that runs it, or why it is only explained.
COVERED: Dict[str, str] = dict(
    [
        (
            "make demo",
            "test_make_demo",
        ),
        (
            "make test",
            "test_make_test_and_help",
        ),
        (
            "make help",
            "test_make_test_and_help",
        ),
        (
            "git clone <this repository> lambda-batch && cd lambda-batch",
            "explained: these tests run in the clone itself",
        ),
        (
            'make -s demo DEMO_ARGS="--fifo --messages 600 --poison-rate 0.1"',
            "test_make_demo_fifo_600_poison_10pc",
        ),
        (
            'make -s demo DEMO_ARGS="--json --messages 100" > summary.json',
            "test_make_demo_json",
        ),
        (
            "sam build",
            "fragment: run by test_make_build",
        ),
        (
            ".venv/bin/python -m demo --help",
            "test_make_demo_json",
        ),
        (
            "make -s",
            "fragment: test_make_demo_fifo_600_poison_10pc, test_make_demo_json",
        ),
        (
            "make deploy-emulator",
            "test_kept_stack",
        ),
        (
            "aws lambda update-function-configuration --function-name my-function --layers "
            "arn:aws:lambda:eu-west-1:123456789012:layer:lambda-batch:1",
            "test_kept_stack (the same API call, boto3)",
        ),
        (
            "make publish-layer REGION=eu-west-1",
            "test_kept_stack",
        ),
        (
            "aws s3 rm s3://BUCKET --recursive",
            "explained: AWS's own CLI, on a deployed stack's bucket before `sam delete`; "
            "tests/template/test_large_payloads_stack.py checks the bucket the stack creates",
        ),
        (
            "aws configure",
            "explained: AWS's own CLI set-up; test_kept_stack checks the message naming it",
        ),
        (
            "make publish-layer PRINCIPAL=210987654321",
            "test_kept_stack",
        ),
        (
            "make publish-layer PRINCIPAL='*'",
            "test_kept_stack",
        ),
        (
            "make publish-layer ORG_ID=o-abc1234567",
            "test_kept_stack",
        ),
        (
            "make validate",
            "explained: make test runs it (sam validate --lint, cfn-lint, checkov) before the tests",
        ),
        (
            "make build",
            "test_make_build",
        ),
        (
            "make deploy",
            "explained: tests/tooling/test_make_deploy.py runs it on a fresh clone against the embedded "
            "emulator and reads the stack back, and without credentials; test_aws_only_commands: settings",
        ),
        (
            ".venv/bin/sam deploy --parameter-overrides EnableKinesis=true MaxReceiveCount=5",
            "explained: tests/tooling/test_make_deploy.py runs it against the embedded emulator",
        ),
        (
            ".venv/bin/sam delete --stack-name lambda-batch --region us-east-1 --no-prompts",
            "explained: tests/tooling/test_make_deploy.py runs it against the embedded emulator",
        ),
        (
            "make serve-emulator",
            "explained: tests/tooling/test_make_deploy.py runs its command (python -m emulator serve)",
        ),
        (
            "make invoke-local FUNCTION=ConsumerFunction EVENT=events/sqs-batch-with-failures.json",
            "test_invoke_table_row",
        ),
        (
            "make invoke-local FUNCTION=ProducerFunction EVENT=events/producer-standard.json",
            "test_invoke_table_row",
        ),
        (
            f"make invoke-local ENDPOINT_URL={PORT}",
            "test_kept_stack",
        ),
        (
            "make invoke-local-stop",
            "test_invoke_local_stop",
        ),
        (
            f'make -s demo DEMO_ARGS="--endpoint-url {PORT} --messages 100"',
            "test_kept_stack",
        ),
        (
            f"make purge-emulator ENDPOINT_URL={PORT}",
            "test_kept_stack",
        ),
        (
            f"make delete-emulator ENDPOINT_URL={PORT}",
            "test_kept_stack",
        ),
        (
            "sam deploy",
            "fragment: test_aws_only_commands",
        ),
        (
            "sam delete",
            "fragment: test_aws_only_commands",
        ),
        (
            ".venv/bin/sam",
            "fragment: test_aws_only_commands",
        ),
        (
            "make invoke FUNCTION=ConsumerFunction EVENT=events/sqs-batch-with-failures.json",
            "test_make_invoke_needs_docker",
        ),
        (
            "sam local invoke",
            "fragment: test_make_invoke_needs_docker",
        ),
        (
            "make invoke-local",
            "fragment: test_invoke_table_row",
        ),
        (
            "make purge-emulator",
            "fragment: test_kept_stack",
        ),
    ]
)


def test_every_readme_command_is_covered() -> None:
    commands = readme_commands()
    assert set(commands) == set(COVERED), (
        f"commands of the documents without a test: {sorted(set(commands) - set(COVERED))}; "
        f"tests of commands the documents no longer show: {sorted(set(COVERED) - set(commands))}"
    )
    names = {name for name in globals() if name.startswith("test_")}
    for command, covered_by in COVERED.items():
        if not covered_by.startswith(("explained:", "fragment:")):
            assert covered_by.split(" ")[0] in names, (command, covered_by)


# ----------------------------------------------------------------------------- running them


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, str]]:
    """A newcomer's environment: no AWS credentials, no profile; the build in a folder of our own.
    The emulators `make invoke-local` kept for that build are stopped at the end."""
    values = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE", "MFLAGS"))}
    values.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
        SAM_BUILD_DIR=str(tmp_path_factory.mktemp("readme") / "build"),
    )
    yield values
    run("make invoke-local-stop", values, 60)


def run(command: str, env: Dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``command`` in bash at the repository's root, exactly as written."""
    return subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def command(key: str) -> str:
    """The documents' own spelling of a command (checked against COVERED by the first test)."""
    assert key in readme_commands(), f"the documents no longer show {key!r}"
    return key


def summary_figures(stdout: str) -> Dict[str, int]:
    figures = {}
    for name in ("requested", "sent", "processed", "in the DLQ", "still in flight", "lost"):
        match = re.search(rf"^  {name}\s+(\d+)", stdout, re.MULTILINE)
        assert match, (name, stdout[-2000:])
        figures[name] = int(match.group(1))
    poison = re.search(r"poison sent: (\d+); poison in the DLQ: (\d+); good in the DLQ: (\d+)", stdout)
    assert poison
    figures.update(poison_sent=int(poison[1]), poison_in_dlq=int(poison[2]), good_in_dlq=int(poison[3]))
    return figures


def small(key: str, messages: int) -> str:
    """The documents' command ``key`` run small: its ``--messages`` (given, or the default) made ``messages``.

    The documented arguments themselves are parsed by the demo's own parser (``documented_options``):
    what a run of 500 or 600 messages would add is time, not behaviour."""
    documented = command(key)
    if "--messages" in documented:
        return re.sub(r"--messages \d+", f"--messages {messages}", documented)
    return f'{documented} DEMO_ARGS="--messages {messages}"'


def documented_options(key: str) -> Any:
    """The demo's options as the documents' command ``key`` gives them, parsed and checked by the demo."""
    from demo.cli import parse_args, to_options

    match = re.search(r'DEMO_ARGS="([^"]*)"', command(key))
    options = parse_args(match.group(1).split() if match else [])
    to_options(options).check()
    return options


def test_make_demo(env: Dict[str, str]) -> None:
    """`make demo`: its defaults are the page's (500 messages, 5% poison); the same command on 100
    messages loses none, the DLQ holds exactly the poison, and the summary has the page's sample's shape."""
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    from readme_samples import blocks, shape

    defaults = documented_options("make demo")
    assert (defaults.messages, defaults.poison_rate, defaults.fifo) == (500, 0.05, False)
    sample = blocks(DEMO_PAGE.read_text(encoding="utf-8"))["make demo"]
    assert re.search(r"^  requested\s+500$", sample, re.MULTILINE), "the page's sample is of the default run"

    completed = run(small("make demo", 100), env, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = summary_figures(completed.stdout)
    assert figures["requested"] == figures["sent"] == 100
    assert figures["lost"] == 0 and figures["still in flight"] == 0
    # 5% of each wave of 50: 2 poison a wave, 4 in all.
    assert figures["in the DLQ"] == figures["poison_sent"] == figures["poison_in_dlq"] == 4
    assert figures["good_in_dlq"] == 0
    assert completed.stdout.rstrip().endswith("OK: every message is accounted for")
    summary = completed.stdout[completed.stdout.index("\nsummary") :]
    assert shape(sample) == shape(summary), (
        "the demo page's sample is stale: run .venv/bin/python tools/readme_samples.py"
    )


def test_make_demo_fifo_600_poison_10pc(env: Dict[str, str]) -> None:
    """The FIFO queue, 10 groups, 10% poison: the documented 600 messages parse; the same command on 20
    messages loses none, and the DLQ holds exactly the 2 poison, no good message. (Item i goes to
    group i % 10, so every poison message of a wave is in one group and comes back one after the
    other, each after its 5 receives' growing retry delays: each adds about half a minute.)"""
    key = 'make -s demo DEMO_ARGS="--fifo --messages 600 --poison-rate 0.1"'
    documented = documented_options(key)
    assert (documented.messages, documented.poison_rate, documented.fifo) == (600, 0.1, True)
    started = time.monotonic()
    completed = run(small(key, 20), env, 600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = summary_figures(completed.stdout)
    assert figures["requested"] == figures["sent"] == 20
    assert figures["lost"] == 0 and figures["still in flight"] == 0
    assert figures["in the DLQ"] == figures["poison_in_dlq"] == figures["poison_sent"] == 2
    assert figures["good_in_dlq"] == 0 and figures["processed"] == 18
    assert "WorkFifoQueue" in completed.stdout and "maxReceiveCount 5" in completed.stdout
    assert completed.stdout.startswith("emulator ")  # nothing of make's own
    print(f"FIFO 20 messages, 10% poison: {time.monotonic() - started:.1f} s")


def test_make_demo_json(env: Dict[str, str]) -> None:
    """`--json` > summary.json: the file parses as JSON, progress went to stderr; `--help`."""
    key = 'make -s demo DEMO_ARGS="--json --messages 100" > summary.json'
    assert documented_options(key).messages == 100
    target = ROOT / "summary.json"
    try:
        completed = run(small(key, 20), env, 300)
        assert completed.returncode == 0, completed.stderr[-3000:]
        summary = json.loads(target.read_text())
    finally:
        target.unlink(missing_ok=True)
    assert summary["ok"] is True
    assert summary["counts"]["lost"] == 0 and summary["counts"]["requested"] == 20
    assert "progress" in completed.stderr
    # The same JSON without -s: the recipe is silent, so make adds nothing either.
    plain = run('make demo DEMO_ARGS="--json --messages 10 --skip-build"', env, 300)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert json.loads(plain.stdout)["ok"] is True
    helped = run(command(".venv/bin/python -m demo --help"), env, 60)
    assert helped.returncode == 0
    for option in (
        "--messages",
        "--poison-rate",
        "--fifo",
        "--json",
        "--endpoint-url",
        "--visibility-timeout",
    ):
        assert option in helped.stdout


def test_make_test_and_help(env: Dict[str, str]) -> None:
    """`make test` is this suite (not run from inside it): lint, the test pools, the matrix; `make help`."""
    dry = run("make -n test", env, 60)
    assert dry.returncode == 0, dry.stderr
    assert "ruff check" in dry.stdout and "mypy" in dry.stdout
    assert "tools/test_pools.py" in dry.stdout and "test-pythons" in dry.stdout
    helped = run(command("make help"), env, 60)
    assert helped.returncode == 0
    assert "\x1b" not in helped.stdout  # its stdout is a pipe here: no colour codes
    for target in (
        "demo",
        "test",
        "test-fast",
        "invoke-local",
        "deploy-emulator",
        "purge-emulator",
        "delete-emulator",
    ):
        assert re.search(rf"^\s*{target}\s", re.sub(r"\x1b\[[0-9;]*m", "", helped.stdout), re.MULTILINE), (
            target
        )


def test_make_build(env: Dict[str, str]) -> None:
    """`make build`: the layer as python/lambda_batch and both functions, no Docker; output on stderr."""
    completed = run(command("make build"), env, 300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout == ""
    # sam build's "Commands you can use next" advertise what cannot work here: the project's instead.
    assert "Build Succeeded" in completed.stderr
    assert (
        "Commands you can use next" not in completed.stderr and "sam deploy --guided" not in completed.stderr
    )
    assert "sam local invoke" not in completed.stderr
    assert completed.stderr.rstrip().splitlines()[-1].startswith("next: make invoke-local FUNCTION=")
    build = Path(env["SAM_BUILD_DIR"])
    assert (build / "LambdaBatchLayer" / "python" / "lambda_batch" / "py.typed").exists()
    assert (build / "ConsumerFunction" / "app.py").exists() and (
        build / "ProducerFunction" / "app.py"
    ).exists()


def test_make_invoke_needs_docker(env: Dict[str, str]) -> None:
    """Docker only: without it, `make invoke` says so and shows the `make invoke-local` command instead."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0
    ):
        pytest.skip("Docker is available: sam local invoke would run (not tested here)")
    key = "make invoke FUNCTION=ConsumerFunction EVENT=events/sqs-batch-with-failures.json"
    completed = run(command(key), env, 300)
    assert completed.returncode == 2
    assert "needs Docker" in completed.stdout
    assert (
        "make invoke-local FUNCTION=ConsumerFunction EVENT=events/sqs-batch-with-failures.json"
        in completed.stdout
    )


def test_aws_only_commands(env: Dict[str, str]) -> None:
    """`make deploy`'s settings (samconfig.toml, named whatever the build folder), and the page's
    `sam deploy` overrides; tests/tooling/test_make_deploy.py runs them for real."""
    from emulator.stack import read_settings, samconfig_parameters

    dry = run(command("make deploy") + " -n", env, 60)
    assert dry.returncode == 0
    assert (
        f"--config-file {ROOT}/samconfig.toml --template-file {env['SAM_BUILD_DIR']}/template.yaml"
        in dry.stdout
    )
    defaults = samconfig_parameters("default")
    assert defaults["stack_name"] == "lambda-batch" and defaults["region"] == "us-east-1"
    assert defaults["confirm_changeset"] is False  # no prompts
    deploy = command(".venv/bin/sam deploy --parameter-overrides EnableKinesis=true MaxReceiveCount=5")
    overrides = dict(pair.split("=") for pair in deploy.split("--parameter-overrides ")[1].split())
    settings = read_settings(ROOT / "template.yaml", overrides)
    assert settings.queue("WorkQueue").max_receive_count == 5
    assert "EventStream" in settings.translated["Resources"]


# ----------------------------------------------------------------------------- the invoke table


def _after(stderr: str) -> Optional[Dict[str, Any]]:
    for line in stderr.splitlines():
        if line.startswith('{"after"'):
            return dict(json.loads(line))
    return None


def _check_all_success(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc == 0 and out == {"batchItemFailures": [], "processed": 3}
    after = _after(stderr)
    assert (
        after
        and after["deleted_by_lambda"] == 3
        and after["after"]["visible"] + after["after"]["in_flight"] == 0
    )


def _check_with_failures(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc != 0 and out["errorType"] == "SQSBatchProcessingError"
    assert "2 of 5 records failed, 3 deleted" in out["errorMessage"]
    after = _after(stderr)
    assert (
        after and after["after"]["in_flight"] == 2 and after["after"]["visible"] == 0
    )  # the other three: deleted


def _check_fifo(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc != 0 and out["errorType"] == "SQSBatchProcessingError"
    assert "2 of 4 records failed, 2 deleted" in out["errorMessage"]  # order-1 and order-4 deleted
    # order-3 goes back behind order-2, named by the record that failed first (the group id, the
    # sender's, is named only with log_exception_messages=True)
    assert "failed earlier" in out["errorMessage"] and "customer-1" not in out["errorMessage"]
    after = _after(stderr)
    assert after and after["after"]["in_flight"] == 2 and after["after"]["queue"] == "WorkFifoQueue"


def _check_malformed(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc != 0 and out["errorType"] == "MalformedEventError"
    assert "has no receiptHandle" in out["errorMessage"]
    assert (
        "passed to the handler as it is" in stderr and _after(stderr) is None
    )  # nothing seeded, nothing deleted


def _check_producer_standard(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert (
        rc == 0 and out["sent"] == {"sqs": 20, "dynamodb": 20, "cloudwatch": 2} and out["queue"] == "standard"
    )


def _check_producer_fifo(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc == 0 and out["queue"] == "fifo" and out["sent"]["sqs"] == out["requested"] > 0
    assert out["unprocessed_count"] == 0


def _check_producer_kinesis(rc: int, out: Dict[str, Any], stderr: str) -> None:
    # Plain: refused, with the way to deploy the stream.
    assert rc != 0 and out["errorType"] == "InvalidRequestError"
    assert "PARAMETERS=EnableKinesis=true" in stderr and "make deploy-emulator" in stderr


def _check_stream_sample(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc == 0 and out == {"batchItemFailures": []}, (out, stderr[-2000:])


def _check_producer_invalid(rc: int, out: Dict[str, Any], stderr: str) -> None:
    assert rc != 0 and out["errorType"] == "InvalidRequestError"
    assert "count must be" in out["errorMessage"] and "sent" not in out


ROWS = {
    "sqs-batch-all-success.json": ("ConsumerFunction", "all succeed", _check_all_success),
    "sqs-batch-with-failures.json": (
        "ConsumerFunction",
        "a poison body and a non-JSON body fail; the other three are deleted",
        _check_with_failures,
    ),
    "sqs-fifo-batch.json": (
        "ConsumerFunction",
        "`order-2` fails: `order-3`, behind it in group `customer-1`, goes back with it; `order-1` and "
        "`order-4` (group `customer-2`) are deleted",
        _check_fifo,
    ),
    "sqs-malformed.json": (
        "ConsumerFunction",
        "`MalformedEventError` (the record has no `receiptHandle`), nothing deleted",
        _check_malformed,
    ),
    "producer-standard.json": (
        "ProducerFunction",
        "sends to the standard queue, table and metrics",
        _check_producer_standard,
    ),
    "producer-fifo.json": ("ProducerFunction", "sends to the FIFO queue", _check_producer_fifo),
    "producer-kinesis.json": (
        "ProducerFunction",
        "sends to the stream and table; needs the stream: add `PARAMETERS=EnableKinesis=true` (or use "
        "`make deploy-emulator`, which enables it); without it, refused with the way to deploy it",
        _check_producer_kinesis,
    ),
    "producer-invalid.json": ("ProducerFunction", "refused before anything is sent", _check_producer_invalid),
    "kinesis-kpl-aggregated.json": (
        "StreamConsumerFunction",
        "each user record of the KPL aggregates handled on its own, no failure; needs "
        "`PARAMETERS=EnableKinesis=true` (or the kept stack)",
        _check_stream_sample,
    ),
    "kafka-msk.json": (
        "StreamConsumerFunction",
        "each Kafka record handled on its own, in order per partition, no failure; needs the stream "
        "consumer, as above",
        _check_stream_sample,
    ),
    "kafka-self-managed.json": (
        "StreamConsumerFunction",
        "the same, from self-managed Kafka",
        _check_stream_sample,
    ),
    "pipes-sqs.json": (
        "StreamConsumerFunction",
        "an EventBridge Pipes batch of SQS records, no failure",
        _check_stream_sample,
    ),
    "pipes-kinesis.json": (
        "StreamConsumerFunction",
        "an EventBridge Pipes batch of Kinesis records, no failure",
        _check_stream_sample,
    ),
    "pipes-dynamodb.json": (
        "StreamConsumerFunction",
        "an EventBridge Pipes batch of DynamoDB stream records, no failure",
        _check_stream_sample,
    ),
    "pipes-msk.json": (
        "StreamConsumerFunction",
        "an EventBridge Pipes batch of Kafka records, no failure",
        _check_stream_sample,
    ),
}
#: The rows that need the stream consumer (EnableKinesis=true): without it, refused before building.
STREAM_ROWS = sorted(
    event for event, (function, _, _) in ROWS.items() if function == "StreamConsumerFunction"
)


def test_the_invoke_table_is_the_one_tested() -> None:
    assert invoke_table() == {event: [function, outcome] for event, (function, outcome, _) in ROWS.items()}


#: The rows run as the table writes them, without ENDPOINT_URL (each on a fresh copy of the stack
#: invoke-local keeps for its build and parameters, deployed by the first such call): one of
#: each function and way of running. Every row's outcome is checked again, in the table's order, on
#: the kept stack of the local development page (tests/demo/test_local_development_page.py).
STANDALONE_ROWS = ["sqs-batch-with-failures.json", "producer-kinesis.json", *STREAM_ROWS]


def test_every_row_runs_standalone_or_on_the_kept_stack() -> None:
    """Each function of the table runs standalone at least once; the page test runs every row."""
    assert {ROWS[event][0] for event in STANDALONE_ROWS} == {function for function, _, _ in ROWS.values()}


@pytest.mark.parametrize("event", STANDALONE_ROWS)
def test_invoke_table_row(event: str, env: Dict[str, str], built: None) -> None:
    """`make invoke-local FUNCTION=... EVENT=events/...`: the result alone on stdout; the row's outcome."""
    function, _, check = ROWS[event]
    completed = run(f"make invoke-local FUNCTION={function} EVENT=events/{event}", env, 300)
    if event in STREAM_ROWS:  # no stream consumer in the default stack: one line, before any build
        assert completed.returncode == 2 and completed.stdout == ""
        assert "add PARAMETERS=EnableKinesis=true" in completed.stderr and "Traceback" not in completed.stderr
        if event != STREAM_ROWS[0]:
            return  # one of them runs with the parameter: the others run on the kept stack
        completed = run(
            f"make invoke-local FUNCTION={function} EVENT=events/{event} PARAMETERS=EnableKinesis=true", env
        )
    out = json.loads(completed.stdout)  # nothing but the result on stdout
    check(completed.returncode, out, completed.stderr)
    if event == "producer-kinesis.json":
        deployed = run(
            f"make invoke-local FUNCTION={function} EVENT=events/{event} PARAMETERS=EnableKinesis=true", env
        )
        assert deployed.returncode == 0, deployed.stderr[-2000:]
        assert json.loads(deployed.stdout)["sent"] == {"kinesis": 30, "dynamodb": 30}


def test_invoke_local_stop(env: Dict[str, str]) -> None:
    """`make invoke-local-stop`: stops the emulators invoke-local kept for this build (none is fine)."""
    completed = run(command("make invoke-local-stop"), env, 60)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert f"kept emulators of {env['SAM_BUILD_DIR']} stopped: " in completed.stderr


@pytest.fixture(scope="module")
def built(env: Dict[str, str]) -> None:
    """One `make build` for the module: later builds are cached."""
    completed = run("make build", env, 300)
    assert completed.returncode == 0, completed.stderr[-3000:]


# ----------------------------------------------------------------------------- a kept stack


@pytest.fixture(scope="module")
def kept_stack(env: Dict[str, str], built: None) -> Iterator[str]:
    """`make deploy-emulator` in the background, as in terminal 1; its endpoint. Ctrl-C at the end."""
    process = subprocess.Popen(
        ["bash", "-c", command("make deploy-emulator")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: List[str] = []
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "emulator running on" in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert found.wait(240), "".join(lines)[-3000:]
        endpoint = re.search(r"emulator running on (http://127\.0\.0\.1:\d+)", "".join(lines))
        assert endpoint, lines
        text = "".join(lines)
        assert "Ctrl-C" in text and "make invoke-local ENDPOINT_URL=" in text
        yield endpoint.group(1)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    import boto3.session

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    return session.client(service, endpoint_url=endpoint)


def _work_queue_url(endpoint: str) -> str:
    cloudformation = _client(endpoint, "cloudformation")
    resources = cloudformation.describe_stack_resources(StackName="lambda-batch")["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "WorkQueue")


def test_kept_stack(env: Dict[str, str], kept_stack: str) -> None:
    """Terminal 2 against `make deploy-emulator`: invoke three times, purge, publish-layer, delete."""
    endpoint = kept_stack

    def on_stack(key: str) -> str:
        return command(key).replace(PORT, endpoint)

    # invoke-local, three times in a row on one stack: each starts from an empty queue.
    durations = []
    for attempt in range(3):
        started = time.monotonic()
        completed = run(on_stack(f"make invoke-local ENDPOINT_URL={PORT}"), env, 120)
        durations.append(time.monotonic() - started)
        out = json.loads(completed.stdout)
        assert "held another message" not in completed.stderr, (attempt, completed.stderr[-2000:])
        _check_with_failures(completed.returncode, out, completed.stderr)
    print("invoke-local x3: " + ", ".join(f"{d:.1f}" for d in durations) + " s")

    # The demo on the kept stack (the documented 100 messages parse): run on 20 by the local
    # development page's test (tests/demo/test_local_development_page.py), which follows that page.
    key = f'make -s demo DEMO_ARGS="--endpoint-url {PORT} --messages 100"'
    assert documented_options(key).messages == 100

    # A producer run leaves messages: the consumer invocation says to purge; purge; it works again.
    produced = run(
        f"make invoke-local ENDPOINT_URL={endpoint} FUNCTION=ProducerFunction "
        "EVENT=events/producer-standard.json",
        env,
    )
    assert produced.returncode == 0, produced.stderr[-2000:]
    refused = run(on_stack(f"make invoke-local ENDPOINT_URL={PORT}"), env, 120)
    assert refused.returncode != 0 and "make purge-emulator ENDPOINT_URL=" in refused.stderr
    purged = run(on_stack(f"make purge-emulator ENDPOINT_URL={PORT}"), env, 120)
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["purged"]["WorkQueue"] == 20
    again = run(on_stack(f"make invoke-local ENDPOINT_URL={PORT}"), env, 120)
    _check_with_failures(again.returncode, json.loads(again.stdout), again.stderr)

    # publish-layer as the README shows it: to AWS without credentials, a plain message;
    # on the emulator, the ARN.
    no_credentials = run(command("make publish-layer REGION=eu-west-1"), env, 120)
    assert no_credentials.returncode != 0
    assert "AWS credentials are missing" in no_credentials.stderr and "Traceback" not in no_credentials.stderr
    arns = {}
    for key in (
        "make publish-layer REGION=eu-west-1",
        "make publish-layer PRINCIPAL=210987654321",
        "make publish-layer PRINCIPAL='*'",
        "make publish-layer ORG_ID=o-abc1234567",
    ):
        completed = run(f"{command(key)} ENDPOINT_URL={endpoint}", env, 120)
        assert completed.returncode == 0, (key, completed.stderr[-2000:])
        arn = completed.stdout.strip()
        assert re.fullmatch(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:layer:lambda-batch:\d+", arn), completed.stdout
        arns[key] = arn
    assert arns["make publish-layer REGION=eu-west-1"].startswith("arn:aws:lambda:eu-west-1:")
    lambda_client = _client(endpoint, "lambda")
    for key, principal in (
        ("make publish-layer PRINCIPAL=210987654321", "210987654321"),
        ("make publish-layer PRINCIPAL='*'", "*"),
        ("make publish-layer ORG_ID=o-abc1234567", None),
    ):
        version = int(arns[key].rsplit(":", 1)[1])
        policy = json.loads(
            lambda_client.get_layer_version_policy(LayerName="lambda-batch", VersionNumber=version)["Policy"]
        )
        statement = policy["Statement"][0]
        assert statement["Action"] == "lambda:GetLayerVersion"
        if principal is not None:
            assert principal in json.dumps(statement["Principal"])
        else:
            assert "o-abc1234567" in json.dumps(statement)

    # `aws lambda update-function-configuration --layers <ARN>`: the same API call, on the stack's consumer.
    published = arns["make publish-layer PRINCIPAL='*'"]
    consumer = next(
        r["PhysicalResourceId"]
        for r in _client(endpoint, "cloudformation").describe_stack_resources(StackName="lambda-batch")[
            "StackResources"
        ]
        if r["LogicalResourceId"] == "ConsumerFunction"
    )
    lambda_client.update_function_configuration(FunctionName=consumer, Layers=[published])
    layers = lambda_client.get_function_configuration(FunctionName=consumer)["Layers"]
    assert [layer["Arn"] for layer in layers] == [published]

    # Teardown.
    deleted = run(on_stack(f"make delete-emulator ENDPOINT_URL={PORT}"), env, 120)
    assert deleted.returncode == 0, deleted.stderr
    stacks = _client(endpoint, "cloudformation").list_stacks()["StackSummaries"]
    assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks if s["StackName"] == "lambda-batch")
