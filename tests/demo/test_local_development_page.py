"""The local development page followed literally, in its order, on one kept stack: `make deploy-emulator`,
an invoke of every sample event of its table (with `ENDPOINT_URL`), `make purge-emulator`, the demo
(small), `make delete-emulator`; it ends OK. Before the purge, the demo refuses the queues the producer
rows filled, naming `make purge-emulator`, as the consumer does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from typing import Dict, Iterator, List

import pytest

from tests.demo.test_readme_commands import (
    INVOKE_PAGE,
    PORT,
    ROOT,
    ROWS,
    _client,
    _work_queue_url,
    commands_of,
    invoke_table,
    run,
    section,
    small,
    summary_figures,
)

pytestmark = [pytest.mark.integration, pytest.mark.realtime]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """A newcomer's environment: no AWS credentials, no profile; the build in a folder of our own."""
    values = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MAKE", "MFLAGS"))}
    values.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
        SAM_BUILD_DIR=str(tmp_path_factory.mktemp("page") / "build"),
    )
    return values


def page_block() -> List[str]:
    """The kept-stack block of the page's "Invoking the functions" section, in its order."""
    text = section(INVOKE_PAGE.read_text(encoding="utf-8"), "## Invoking the functions")
    block = re.search(r"```bash\n(make deploy-emulator.*?)```", text, re.DOTALL)
    assert block
    return commands_of(f"```bash\n{block.group(1)}```")


@pytest.fixture(scope="module")
def kept_stack(env: Dict[str, str]) -> Iterator[str]:
    """The block's first command, in the background as in terminal 1; its endpoint. Ctrl-C at the end."""
    first = page_block()[0]
    assert first == "make deploy-emulator"
    process = subprocess.Popen(
        ["bash", "-c", first],
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
        yield endpoint.group(1)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def test_the_page_in_its_order_ends_ok(env: Dict[str, str], kept_stack: str) -> None:
    endpoint = kept_stack
    documented = page_block()
    block = [line.replace(PORT, endpoint) for line in documented]
    assert [line.split(" ENDPOINT_URL")[0].split(" DEMO_ARGS")[0] for line in block[1:]] == [
        "make invoke-local",
        "make purge-emulator",
        "make -s demo",
        "make delete-emulator",
    ]

    # Every sample event of the table, in the table's order, on the kept stack.
    for event, (function, _) in invoke_table().items():
        completed = run(
            f"make invoke-local FUNCTION={function} EVENT=events/{event} ENDPOINT_URL={endpoint}", env
        )
        out = json.loads(completed.stdout)  # the result alone on stdout
        if event == "producer-kinesis.json":  # the kept stack has its stream: sent, not refused
            assert completed.returncode == 0 and out["sent"] == {"kinesis": 30, "dynamodb": 30}, out
        else:
            ROWS[event][2](completed.returncode, out, completed.stderr)

    # The producer rows left messages: the demo refuses, before sending anything.
    demo = small(documented[3], 20).replace(PORT, endpoint)  # the documented 100 messages, run on 20
    refused = run(demo, env)
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert f"make purge-emulator ENDPOINT_URL={endpoint}" in refused.stderr
    assert "Traceback" not in refused.stderr

    purged = run(block[2], env)
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["purged"]["WorkQueue"] == 20  # producer-standard.json's

    completed = run(demo, env)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = summary_figures(completed.stdout)
    assert figures["requested"] == figures["sent"] == 20 and figures["lost"] == 0
    assert completed.stdout.rstrip().endswith("OK: every message is accounted for")
    # On the kept stack: nothing deployed again, and the queue's visibility timeout restored.
    assert "using the stack lambda-batch already deployed there" in completed.stdout
    assert "deployed as" not in completed.stdout and "restored" in completed.stdout
    attributes = _client(endpoint, "sqs").get_queue_attributes(
        QueueUrl=_work_queue_url(endpoint), AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "150"
    # Once all is sent, the run says what it waits for, in the demo page's words (its 1 poison message).
    assert re.search(
        r"^waiting    for 1 failed message\(s\): each comes back after the consumer's retry delay "
        r"\(1, 2, 4 s after deliveries 1 to 3\), then is handled or moved to the DLQ; all by "
        r"about \d\d:\d\d:\d\d \(with the batching window of each receive\)$",
        completed.stdout,
        re.MULTILINE,
    ), completed.stdout[-3000:]

    deleted = run(block[4], env)
    assert deleted.returncode == 0, deleted.stderr
