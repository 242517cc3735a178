"""checkov on template.yaml (`make validate`): no failed check, and every suppression in the
template names the check and says why it is safe, next to the resource it concerns."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_OUTPUT = ("--skip-download", "--output", "json")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def skips() -> list[tuple[str, str, str]]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)
    found = []
    for name, resource in template["Resources"].items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            found.append((name, skip["id"], skip.get("comment") or ""))
    return found


def test_every_suppression_says_why_it_is_safe() -> None:
    found = skips()
    assert found
    for name, check, comment in found:
        assert check.startswith("CKV_"), (name, check)
        assert len(comment.split()) >= 12, f"{name} {check}: say why the suppression is safe"


def scan(template: Path) -> tuple[dict[str, Any], set[tuple[str, str]], int]:
    """checkov's summary of ``template``, the suppressions it applied, and its exit code."""
    result = subprocess.run(
        [*(str(CHECKOV), "--file", str(template), "--framework", "cloudformation"), *CHECKOV_OUTPUT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert report["summary"]["failed"] == 0, (template.name, failed)
    skipped = {(c["resource"].split(".")[-1], c["check_id"]) for c in report["results"]["skipped_checks"]}
    return report["summary"], skipped, result.returncode


def test_checkov_fails_no_check(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.skip("checkov is installed by `make validate` (which `make test` runs first)")
    # checkov leaves out a resource whose Condition is false with the parameters' defaults: the
    # template is scanned again with EnableKinesis on, so that the stream and its consumer are too.
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    enabled = re.sub(r'(\n  EnableKinesis:\n    Type: String\n    Default: )"false"', r'\1"true"', text)
    assert enabled != text, "EnableKinesis's default is no longer where this test expects it"
    (tmp_path / "template.yaml").write_text(enabled, encoding="utf-8")
    _, skipped, code = scan(ROOT / "template.yaml")
    summary, skipped_enabled, code_enabled = scan(tmp_path / "template.yaml")
    assert code == code_enabled == 0
    assert ("StreamConsumerFunction", "CKV_AWS_116") in skipped_enabled and summary["passed"] > 0
    # Every suppression in the template is one checkov applied: none is stale.
    assert skipped | skipped_enabled == {(name, check) for name, check, _ in skips()}
