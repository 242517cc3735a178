"""The SAM transform of a template file is kept by the file's bytes and the values: read back, never stale."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from emulator import template as template_module
from emulator.template import translate_template

from .conftest import TEMPLATE


def test_a_template_translated_again_is_read_back_and_a_changed_one_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "template.yaml"
    source.write_text(TEMPLATE.read_text(encoding="utf-8") + f"\n# {uuid.uuid4()}\n", encoding="utf-8")
    first = translate_template(source, {"EnableKinesis": "true"})
    assert "StreamConsumerFunction" in first["Resources"]

    def no_transform(*args: object) -> None:
        raise AssertionError("translated again")

    monkeypatch.setattr(template_module, "_translate", no_transform)
    assert translate_template(source, {"EnableKinesis": "true"}) == first
    with pytest.raises(AssertionError, match="translated again"):  # other values: another key
        translate_template(source, {})
    source.write_text(source.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="translated again"):  # other bytes: another key
        translate_template(source, {"EnableKinesis": "true"})
