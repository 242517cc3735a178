"""``python -m emulator deploy|purge|delete``: the stack on a moto server, from samconfig.toml's settings.

Example::

    python -m emulator deploy                       # starts a moto server, deploys, stays up until Ctrl-C
    python -m emulator purge --endpoint-url http://127.0.0.1:5000
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from devtools.sam_files import ROOT
from emulator.template import DEFAULT_REGION, DEFAULT_STACK_NAME, StackError


def samconfig_parameters(
    config_env: str = "emulator", path: Union[str, os.PathLike[str], None] = None
) -> Dict[str, Any]:
    """The ``deploy`` parameters of ``config_env`` in samconfig.toml, with ``stack_name`` from its globals.

    ``parameter_overrides`` comes back as a dict (``{"EnableKinesis": "true"}``).
    """
    import tomllib  # type: ignore[import-not-found,unused-ignore]  # Python 3.11+: the tooling's interpreter

    source = Path(path) if path is not None else ROOT / "samconfig.toml"
    with source.open("rb") as handle:
        config = tomllib.load(handle)
    env = config.get(config_env)
    if env is None:
        raise StackError(f"no environment [{config_env}] in {source} (environments: {', '.join(config)})")
    values: Dict[str, Any] = dict((env.get("global") or {}).get("parameters") or {})
    values.update((env.get("deploy") or {}).get("parameters") or {})
    overrides = values.get("parameter_overrides") or ""
    if isinstance(overrides, str):
        values["parameter_overrides"] = dict(pair.split("=", 1) for pair in overrides.split())
    return values


def _failed(exc: Exception, endpoint_url: Optional[str]) -> int:
    """Say why a command failed (a step of the stack, or an endpoint that does not answer); exit status 1."""
    if isinstance(exc, StackError):
        print(f"error: {exc}", file=sys.stderr)
    else:  # botocore: nothing listening there, a bad URL...
        print(f"error: cannot reach {endpoint_url}: {exc}", file=sys.stderr)
    return 1


def _purge_or_delete(command: str, endpoint_url: Optional[str], stack_name: str, region: str) -> int:
    """``purge`` (empty the stack's queues) or ``delete`` (the stack) on ``endpoint_url``; the exit status."""
    from botocore.exceptions import BotoCoreError

    from emulator.stack import delete_stack, load_stack, purge_stack_queues

    if not endpoint_url:
        print(
            f"error: {command} needs --endpoint-url (make {command}-emulator ENDPOINT_URL=...)",
            file=sys.stderr,
        )
        return 2
    try:
        if command == "purge":
            held = purge_stack_queues(load_stack(endpoint_url, stack_name=stack_name, region=region))
            print(json.dumps({"purged": held}))
        else:
            delete_stack(endpoint_url, stack_name, region)
            print(json.dumps({"deleted": stack_name, "endpoint_url": endpoint_url}))
    except (StackError, BotoCoreError) as exc:
        return _failed(exc, endpoint_url)
    return 0


def _serve(port: int) -> int:
    """Start an empty moto server; print its endpoint on stdout (flushed); keep it up until Ctrl-C."""
    from emulator import start_moto_server

    server = start_moto_server(port=port, set_credentials=False)
    try:
        print(server.localhost_url, flush=True)
        print(
            f"emulator running on {server.localhost_url}, in the foreground until Ctrl-C. "
            "In another terminal:\n"
            f"  AWS_ENDPOINT_URL={server.localhost_url} AWS_ACCESS_KEY_ID=testing "
            "AWS_SECRET_ACCESS_KEY=testing make deploy",
            file=sys.stderr,
            flush=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m emulator deploy|purge|delete|serve [--endpoint-url URL] [--config-env emulator]``.

    ``deploy`` deploys the stack with the samconfig environment's stack name, region and
    parameters, and prints its outputs and physical ids as JSON on stdout; without
    ``--endpoint-url`` it starts a moto server and keeps it up (in the foreground) until
    Ctrl-C. ``purge`` empties the stack's queues; ``delete`` deletes the stack. ``serve`` starts
    an empty moto server (``--port``, else a free one), prints its endpoint on stdout and keeps it
    up until Ctrl-C: ``sam deploy`` itself can deploy there (``AWS_ENDPOINT_URL``).
    """
    import argparse

    from botocore.exceptions import BotoCoreError

    from emulator.stack import deploy_stack

    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Deploy template.yaml to moto, empty its queues, delete it; or serve an empty emulator",
    )
    parser.add_argument(
        "command",
        choices=["deploy", "purge", "delete", "serve"],
        help="deploy: the stack (starting a moto server unless --endpoint-url); purge: empty the stack's "
        "queues; delete: the stack; serve: start an empty moto server and keep it up until Ctrl-C "
        "(for `AWS_ENDPOINT_URL=... make deploy`)",
    )
    parser.add_argument(
        "--endpoint-url",
        help="a moto server already running (http://127.0.0.1:PORT); deploy without it starts one and "
        "keeps it up until Ctrl-C; purge and delete need it",
    )
    parser.add_argument(
        "--config-env",
        default="emulator",
        help="the samconfig.toml environment whose stack name, region and parameters are used "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--build-dir",
        help="a `sam build` output of template.yaml to deploy (default: built now, into a temporary folder)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="serve: the port to listen on, on 127.0.0.1 (default: a free one the system chooses)",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args.port)
    config = samconfig_parameters(args.config_env)
    stack_name = config.get("stack_name", DEFAULT_STACK_NAME)
    region = config.get("region", DEFAULT_REGION)
    if args.command != "deploy":
        return _purge_or_delete(args.command, args.endpoint_url, stack_name, region)
    server = None
    endpoint = args.endpoint_url
    if endpoint is None:
        from emulator import start_moto_server

        server = start_moto_server()
        endpoint = server.endpoint_url
    try:
        stack = deploy_stack(
            endpoint,
            build_dir=args.build_dir,
            stack_name=stack_name,
            parameter_overrides=config.get("parameter_overrides"),
            region=region,
            bucket=config.get("s3_bucket"),
        )
        summary = {"endpoint_url": endpoint, "outputs": stack.outputs, "resources": stack.resources}
        print(json.dumps(summary, indent=2), flush=True)
        if server is not None:
            print(
                f"emulator running on {endpoint} with stack {stack_name}, in the foreground: this command "
                "keeps the terminal until you stop it with Ctrl-C (or `kill` its process).\n"
                f"In another terminal: make invoke-local ENDPOINT_URL={endpoint} FUNCTION=... EVENT=...\n"
                f"Empty its queues: make purge-emulator ENDPOINT_URL={endpoint}",
                file=sys.stderr,
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except (StackError, BotoCoreError) as exc:
        return _failed(exc, endpoint)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
