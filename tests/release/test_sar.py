"""`make publish-app`: the built stack packaged with `sam package` to S3 on the moto server, the
packaged template read back, its code and documents read back from the bucket, and the
Serverless Application Repository metadata checked as `sam publish` checks it."""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import sar_app
from tools.layer_zip import version

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
S3_URI = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


@pytest.fixture(scope="module")
def packaged(moto_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import boto3

    endpoint = moto_server.endpoint_url
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = "sar-artifacts-release-test"
    s3.create_bucket(Bucket=bucket)
    tmp = tmp_path_factory.mktemp("sar")
    out = tmp / "packaged.yaml"
    code = sar_app.main(
        [
            "--out",
            str(out),
            "--build-dir",
            str(tmp / "build"),
            "--s3-bucket",
            bucket,
            "--endpoint-url",
            endpoint,
        ]
    )
    assert code == 0
    return out.read_text(), s3, bucket


def read_object(s3: Any, uri: str, bucket: str) -> bytes:
    match = S3_URI.match(uri)
    assert match, uri
    assert match.group("bucket") == bucket
    return s3.get_object(Bucket=bucket, Key=match.group("key"))["Body"].read()


def test_packaged_template_points_at_the_uploaded_code_and_documents(packaged: Any) -> None:
    text, s3, bucket = packaged
    template = load(text)
    meta = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert read_object(s3, meta["ReadmeUrl"], bucket) == (ROOT / "README.md").read_bytes()
    assert read_object(s3, meta["LicenseUrl"], bucket) == (ROOT / "LICENSE").read_bytes()
    resources = template["Resources"]
    layer = zipfile.ZipFile(
        io.BytesIO(read_object(s3, resources["LambdaBatchLayer"]["Properties"]["ContentUri"], bucket))
    )
    assert "python/lambda_batch/__init__.py" in layer.namelist()
    assert not [n for n in layer.namelist() if not n.startswith("python/lambda_batch/")]
    for name in ("ConsumerFunction", "ProducerFunction"):
        code = zipfile.ZipFile(io.BytesIO(read_object(s3, resources[name]["Properties"]["CodeUri"], bucket)))
        assert "app.py" in code.namelist()


def test_metadata_validates_as_sam_publish_validates_it(packaged: Any) -> None:
    text, _, _ = packaged
    meta = sar_app.application_metadata(text)
    assert meta["Name"] == "lambda-batch"
    assert meta["SpdxLicenseId"] == "MIT"
    assert meta["SemanticVersion"] == version()
    assert meta["SourceCodeUrl"].startswith("https://")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("SemanticVersion", "1.0", "SemanticVersion"),
        ("Labels", [f"label{n}" for n in range(11)], "Labels"),
        ("Name", "lambda batch", "Name"),
        ("Author", None, "author"),
        ("Description", "x" * 257, "Description"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    template = load((ROOT / "template.yaml").read_text())
    broken = copy.deepcopy(template)
    meta = broken["Metadata"]["AWS::ServerlessRepo::Application"]
    if value is None:
        del meta[field]
    else:
        meta[field] = value
    with pytest.raises(ValueError, match=message):
        sar_app.application_metadata(json.dumps(broken))


def test_one_version_across_package_layer_and_sar() -> None:
    template = load((ROOT / "template.yaml").read_text())
    assert template["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"] == version()
    description = template["Resources"]["LambdaBatchLayer"]["Properties"]["Description"]
    assert description.startswith(f"lambda_batch {version()} - ")
    import lambda_batch

    assert lambda_batch.__version__ == version()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{version()}]" in changelog


def test_make_publish_app_without_a_bucket_runs_on_the_embedded_emulator(tmp_path: Path, capsys: Any) -> None:
    """What `make publish-app` runs with no S3_BUCKET: nothing reaches AWS; publish stops after
    the checks sam publish makes, and says so."""
    out = tmp_path / "packaged.yaml"
    assert sar_app.main(["--out", str(out), "--build-dir", str(tmp_path / "build"), "--publish"]) == 0
    template = load(out.read_text())
    assert template["Resources"]["LambdaBatchLayer"]["Properties"]["ContentUri"].startswith(
        f"s3://{sar_app.EMULATOR_BUCKET}/lambda-batch/{version()}/"
    )
    err = capsys.readouterr().err
    assert "no Serverless Application Repository API" in err
    assert "metadata valid" in err
