"""The files of the SAM application: the template (CloudFormation's short tags understood) and zipped builds.

Example::

    load_template()["Transform"]          # 'AWS::Serverless-2016-10-31'
    zip_folder(".aws-sam/build/LambdaBatchLayer")[:2]   # b'PK'
"""

from __future__ import annotations

import copy
import io
import os
import zipfile
from pathlib import Path
from typing import Any, Dict, Mapping, Union

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"

TemplateSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]


class TemplateError(RuntimeError):
    """The template could not be read; the message names the file and why."""


def load_template(source: TemplateSource = TEMPLATE_PATH) -> Dict[str, Any]:
    """The template as a dict, from a YAML/JSON path (CloudFormation short tags understood) or a mapping.

    >>> load_template()["Transform"]
    'AWS::Serverless-2016-10-31'
    """
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    from samtranslator.yaml_helper import yaml_parse

    path = Path(source)
    try:
        return dict(yaml_parse(path.read_text()))
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc


def zip_folder(folder: Union[str, os.PathLike[str]]) -> bytes:
    """The zip (deflated, sorted entries, fixed timestamps) of everything under ``folder``."""
    root = Path(folder)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
