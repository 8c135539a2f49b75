"""Run Flower on port 8555; with FLOWER_BASIC_AUTH it asks for it, without it listens on 127.0.0.1 only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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


def guard_metrics() -> None:
    """Flower serves /metrics without asking for its basic auth: make it ask, as every other page does."""
    from flower.views import monitor

    serve = monitor.Metrics.get
    if getattr(serve, "gitbeat_guarded", False):
        return

    async def get(self: Any) -> None:
        if self.application.options.basic_auth:
            _ = self.current_user  # Flower's get_current_user answers 401 without the credentials
        await serve(self)

    get.gitbeat_guarded = True  # type: ignore[attr-defined]
    monitor.Metrics.get = get


def run(args: argparse.Namespace) -> int:
    from ..runtime import configured_app
    from ..settings import flower_basic_auth

    runtime = configured_app(Path(args.config), args.database)
    basic_auth = flower_basic_auth(runtime.settings)
    guard_metrics()
    runtime.app.start(["flower", *flower_arguments(args.port, basic_auth), *celery_arguments(args)])
    return OK
