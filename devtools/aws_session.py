"""Credentials and boto3 sessions for a local emulator or for AWS.

An endpoint on a loopback address is an emulator (moto, LocalStack): fake credentials sign
for it when the caller has none. Anything else is AWS: the caller's own credentials, or a
plain :class:`MissingCredentialsError`.

Example::

    session = session_for_endpoint("http://127.0.0.1:5000", "us-east-1")
    session.client("sqs", endpoint_url="http://127.0.0.1:5000")
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from typing import Any, Dict, List, Optional

#: Credentials for the emulator; moto accepts any.
FAKE_CREDENTIALS: Dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
#: What the caller's environment may hold to reach real AWS (passed on when not emulated).
REAL_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "HOME",
)


class MissingCredentialsError(RuntimeError):
    """No AWS credentials for an endpoint that is not an emulator on this machine."""


def is_loopback(endpoint_url: Optional[str]) -> bool:
    """Whether ``endpoint_url`` is on this machine (a loopback address): an emulator, not AWS."""
    if not endpoint_url:
        return False
    host = (urllib.parse.urlsplit(endpoint_url).hostname or "").lower()
    return host == "localhost" or host.startswith("127.") or host == "::1"


def credentials_environment(endpoint_url: Optional[str]) -> Dict[str, str]:
    """The credentials a local function gets: fake ones for an emulator on loopback, else the caller's.

    On Lambda the function's role credentials are in its environment; locally, against
    real AWS (no endpoint, or a remote one), the caller's own credentials stand in for them.
    """
    if is_loopback(endpoint_url):
        return dict(FAKE_CREDENTIALS)
    return {name: os.environ[name] for name in REAL_CREDENTIAL_VARIABLES if name in os.environ}


def emulator_session(region: Optional[str]) -> Any:
    """A boto3 session for the emulator: the environment's keys, else the fake ones."""
    import boto3.session

    return boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]),
        aws_secret_access_key=os.environ.get(
            "AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        ),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN", FAKE_CREDENTIALS["AWS_SESSION_TOKEN"]),
        region_name=region,
    )


def missing_credentials_message(endpoint_url: Optional[str]) -> str:
    """The one line that says the credentials are missing, and how to set them."""
    message = (
        f"AWS credentials are missing for {endpoint_url or 'AWS'}: set AWS_PROFILE, or "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see `aws configure`)"
    )
    if is_loopback(endpoint_url):
        message += "; an emulator on this machine takes any (AWS_ACCESS_KEY_ID=testing "
        message += "AWS_SECRET_ACCESS_KEY=testing)"
    return message


def session_for_endpoint(endpoint_url: Optional[str], region: Optional[str] = None) -> Any:
    """A boto3 session for ``endpoint_url``, with credentials that can sign for it.

    The caller's credentials (environment, profile...) when there are any; otherwise, for a
    loopback endpoint (moto, LocalStack), the same fake credentials the other tools use; for
    any other endpoint (AWS itself), :class:`MissingCredentialsError` saying so plainly.
    """
    import boto3.session

    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is not None:
        return session
    if is_loopback(endpoint_url):
        return boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
    raise MissingCredentialsError(missing_credentials_message(endpoint_url))


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m devtools.aws_session``: exit 1 with one plain line when there are no AWS credentials.

    What ``make deploy`` runs first, before building: the endpoint is ``AWS_ENDPOINT_URL``
    (an emulator) or AWS. The caller's credentials are looked up as the SAM CLI looks them up
    (environment, profile, shared files); nothing is called.
    """
    import argparse

    import boto3.session

    parser = argparse.ArgumentParser(
        prog="python -m devtools.aws_session",
        description="Check that AWS credentials are set (before a deployment)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL") or None,
        help="the endpoint the credentials are for (default: AWS_ENDPOINT_URL, else AWS)",
    )
    args = parser.parse_args(argv)
    if boto3.session.Session().get_credentials() is not None:
        return 0
    sys.stderr.write(f"error: {missing_credentials_message(args.endpoint_url)}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
