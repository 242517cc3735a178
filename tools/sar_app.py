"""Package the reference stack for the Serverless Application Repository, and publish it.

Usage::

    python tools/sar_app.py [--out dist/packaged.yaml] [--build-dir .aws-sam/build]
                            [--s3-bucket BUCKET --region us-east-1 [--endpoint-url URL]] [--publish]

The stack is built (``sam build``: the layer and the functions as Lambda runs them), then
``sam package`` uploads the code, README.md and LICENSE and writes the packaged template, and
the template's ``AWS::ServerlessRepo::Application`` metadata is checked exactly as ``sam
publish`` checks it before it calls the repository (the SAM CLI's own parser), plus the
repository's documented limits (name, description, labels, semantic version). With
``--publish``, ``sam publish`` then creates or updates the application at
``lambda_batch.__version__``.

Without ``--s3-bucket`` everything runs on an embedded AWS emulator (a moto server on
loopback, with a bucket of its own): nothing reaches AWS, and the packaged template's code URIs
name that emulator's bucket. The emulator has no Serverless Application Repository API, so
``--publish`` there stops after the checks, and says so.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.layer_zip import version  # noqa: E402 - after the path is set

SAM = str(Path(sys.executable).parent / "sam")
EMULATOR_BUCKET = "lambda-batch-sar-artifacts"
METADATA = "AWS::ServerlessRepo::Application"
# The repository's limits (CreateApplication): https://docs.aws.amazon.com/serverlessrepo/latest/devguide/
_NAME = re.compile(r"^[A-Za-z0-9-]{1,140}$")
_LABEL = re.compile(r"^[a-zA-Z0-9+\-_:/@]{1,127}$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def application_metadata(template_text: str) -> Dict[str, Any]:
    """The template's SAR metadata, checked as ``sam publish`` checks it and against the
    repository's limits; raises ``ValueError`` naming what is wrong."""
    from samcli.vendor.serverlessrepo.exceptions import ServerlessRepoError
    from samcli.vendor.serverlessrepo.parser import get_app_metadata, parse_template

    template = parse_template(template_text)
    try:
        metadata = get_app_metadata(template)
        # What sam publish requires to create an application (serverlessrepo.publish).
        metadata.validate(["author", "description", "name", "semantic_version"])
    except ServerlessRepoError as exc:
        raise ValueError(f"{METADATA}: {exc}") from exc
    raw: Dict[str, Any] = dict(template["Metadata"][METADATA])
    problems = []
    if not _NAME.match(str(raw["Name"])):
        problems.append("Name: 1-140 letters, digits and hyphens")
    if not 1 <= len(str(raw["Description"])) <= 256:
        problems.append("Description: 1-256 characters")
    if not 1 <= len(str(raw["Author"])) <= 127:
        problems.append("Author: 1-127 characters")
    labels = raw.get("Labels") or []
    if len(labels) > 10 or not all(_LABEL.match(str(label)) for label in labels):
        problems.append("Labels: at most 10, each 1-127 of [a-zA-Z0-9+-_:/@]")
    if not _SEMVER.match(str(raw["SemanticVersion"])):
        problems.append("SemanticVersion: a semantic version (1.2.3)")
    if not str(raw.get("SourceCodeUrl", "https://")).startswith("https://"):
        problems.append("SourceCodeUrl: an https URL")
    if problems:
        raise ValueError(f"{METADATA}: " + "; ".join(problems))
    return raw


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sam(args: List[str], env: Dict[str, str]) -> None:
    # sam's progress goes to stderr (file descriptor 2): stdout carries only the output path.
    subprocess.run([SAM, *args], cwd=ROOT, env=env, check=True, stdout=2)


def package(out: Path, build_dir: Path, env: Dict[str, str], bucket: str, region: str) -> str:
    """``sam build`` then ``sam package`` into ``out``; return the packaged template's text."""
    _sam(["build", "--build-dir", str(build_dir)], env)
    out.parent.mkdir(parents=True, exist_ok=True)
    _sam(
        [
            "package",
            "--template-file", str(build_dir / "template.yaml"),
            "--s3-bucket", bucket,
            "--s3-prefix", f"lambda-batch/{version()}",
            "--region", region,
            "--output-template-file", str(out),
        ],
        env,
    )  # fmt: skip
    return out.read_text(encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--out",
        default=str(ROOT / "dist" / "packaged.yaml"),
        help="the packaged template (default: %(default)s)",
    )
    parser.add_argument(
        "--build-dir",
        default=str(ROOT / ".aws-sam" / "build"),
        help="sam build's output (default: %(default)s)",
    )
    parser.add_argument(
        "--s3-bucket", default=None, help="artifact bucket (default: the embedded emulator's)"
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or "us-east-1",
        help="the region of the bucket and the repository (default: AWS_REGION, else us-east-1)",
    )
    parser.add_argument("--endpoint-url", default=None, help="a local AWS endpoint for package and publish")
    parser.add_argument("--publish", action="store_true", help="sam publish the packaged template")
    args = parser.parse_args(argv)

    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    server: Any = None
    bucket = args.s3_bucket
    if bucket is None:  # the embedded emulator: nothing reaches AWS
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        args.endpoint_url = f"http://127.0.0.1:{port}"
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing")
        bucket = EMULATOR_BUCKET
        import boto3

        boto3.client(
            "s3", region_name=args.region, endpoint_url=args.endpoint_url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)  # fmt: skip
    if args.endpoint_url:
        env["AWS_ENDPOINT_URL"] = args.endpoint_url
        if (
            args.endpoint_url.startswith(("http://127.", "http://localhost"))
            and "AWS_ACCESS_KEY_ID" not in env
        ):
            env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        text = package(Path(args.out), Path(args.build_dir), env, bucket, args.region)
        metadata = application_metadata(text)
        print(f"packaged: {args.out} ({metadata['Name']} {version()}); metadata valid", file=sys.stderr)
        if args.publish:
            if server is not None:
                print("publish: the embedded emulator has no Serverless Application Repository API;"
                      " the metadata passed the checks sam publish makes first", file=sys.stderr)  # fmt: skip
            else:
                _sam(
                    [
                        "publish",
                        "--template",
                        args.out,
                        "--semantic-version",
                        version(),
                        "--region",
                        args.region,
                    ],
                    env,
                )
    except (subprocess.CalledProcessError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
