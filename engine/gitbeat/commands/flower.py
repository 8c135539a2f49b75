"""Run Flower on port 8555; with FLOWER_BASIC_AUTH it asks for it, without it listens on 127.0.0.1 only."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import OK, celery_arguments

PORT = 8555


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then arguments for Flower")


def flower_arguments(port: int, basic_auth: str | None) -> list[str]:
    """Flower's options: no credentials means no one but this machine may look."""
    arguments = [f"--port={port}"]
    if basic_auth:
        arguments += [f"--basic-auth={basic_auth}", "--address=0.0.0.0"]
    else:
        arguments.append("--address=127.0.0.1")
    return arguments


def run(args: argparse.Namespace) -> int:
    from ..runtime import configured_app

    runtime = configured_app(Path(args.config), args.database)
    runtime.app.start(
        ["flower", *flower_arguments(args.port, runtime.settings.flower_basic_auth), *celery_arguments(args)]
    )
    return OK
