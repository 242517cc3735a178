"""Build the lambda_batch layer alone, publish it as a layer version, print its ARN, share it.

Usage::

    python tools/publish_layer.py [--layer-name lambda-batch] [--region us-east-1]
                                  [--principal 123456789012 | --principal '*'] [--org-id o-abc123]
                                  [--endpoint-url http://127.0.0.1:5000] [--build-dir DIR]

The layer is built by ``layer/Makefile`` (the same build ``sam build`` runs) into
``python/lambda_batch``, zipped, and published with PublishLayerVersion; its compatible
runtimes and architectures, description and licence come from the LambdaBatchLayer
resource of template.yaml. ``--principal`` (an account id, or ``*`` for everyone) and
``--org-id`` (every account of an AWS Organization) each add a ``lambda:GetLayerVersion``
grant with AddLayerVersionPermission. The version ARN is the last line of output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.aws_session import MissingCredentialsError, session_for_endpoint  # noqa: E402 - after the path
from devtools.sam_files import load_template, zip_folder  # noqa: E402 - after the path is set
from tools.layer_zip import build_layer  # noqa: E402 - after the path is set

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")


def layer_properties(template: Path = ROOT / "template.yaml") -> Dict[str, Any]:
    """The LambdaBatchLayer resource's properties (runtimes, architectures, description, licence)."""
    return dict(load_template(template)["Resources"]["LambdaBatchLayer"]["Properties"])


def publish(
    lambda_client: Any,
    layer_name: str,
    zip_bytes: bytes,
    properties: Dict[str, Any],
    *,
    principals: List[str],
    org_id: Optional[str],
) -> Dict[str, Any]:
    """Publish ``zip_bytes`` as a new version of ``layer_name`` and add the grants; return the version."""
    version = lambda_client.publish_layer_version(
        LayerName=layer_name,
        Description=str(properties.get("Description", ""))[:256],
        Content={"ZipFile": zip_bytes},
        CompatibleRuntimes=list(properties.get("CompatibleRuntimes", [])),
        CompatibleArchitectures=list(properties.get("CompatibleArchitectures", [])),
        LicenseInfo=str(properties.get("LicenseInfo", "")),
    )
    number = version["Version"]
    for principal in principals:
        statement = "everyone" if principal == "*" else f"account-{principal}"
        lambda_client.add_layer_version_permission(
            LayerName=layer_name,
            VersionNumber=number,
            StatementId=statement,
            Action="lambda:GetLayerVersion",
            Principal=principal,
        )
    if org_id:
        lambda_client.add_layer_version_permission(
            LayerName=layer_name,
            VersionNumber=number,
            StatementId=f"organization-{org_id}",
            Action="lambda:GetLayerVersion",
            Principal="*",
            OrganizationId=org_id,
        )
    return dict(version)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--layer-name", default="lambda-batch", help="the layer's name (default: %(default)s)"
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        help="the region to publish in (default: AWS_REGION, else AWS_DEFAULT_REGION)",
    )
    parser.add_argument("--endpoint-url", default=None, help="a local AWS endpoint (default: AWS itself)")
    parser.add_argument(
        "--principal", action="append", default=[], help="account id, or '*': may use the layer"
    )
    parser.add_argument(
        "--org-id", default=None, help="AWS Organization id (o-...) whose accounts may use it"
    )
    parser.add_argument("--build-dir", default=None, help="where to build (default: a temporary folder)")
    args = parser.parse_args(argv)

    principals = [p for p in args.principal if p]
    for principal in principals:
        if principal != "*" and not _ACCOUNT.match(principal):
            parser.error(f"--principal must be a 12-digit account id or '*', not {principal!r}")
    if args.org_id and not _ORG.match(args.org_id):
        parser.error(f"--org-id must look like o-abc1234567, not {args.org_id!r}")

    try:
        session = session_for_endpoint(args.endpoint_url, args.region)
    except MissingCredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lambda-batch-layer-") as scratch:
        artifacts = build_layer(Path(args.build_dir or scratch).resolve())
        zip_bytes = zip_folder(artifacts)
        size = len(zip_bytes)
        client = session.client("lambda", region_name=args.region, endpoint_url=args.endpoint_url)
        version = publish(
            client, args.layer_name, zip_bytes, layer_properties(), principals=principals, org_id=args.org_id
        )
    grants = [*principals, *([f"organization {args.org_id}"] if args.org_id else [])]
    print(
        json.dumps({"zip_bytes": size, "version": version["Version"], "shared_with": grants}), file=sys.stderr
    )
    print(version["LayerVersionArn"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
