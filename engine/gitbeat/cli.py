"""The `gitbeat` command: parse arguments, dispatch to commands/<name>.py, map errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import __version__
from .commands import FAILED
from .errors import GitbeatError

COMMANDS = {
    "validate": "check the config files",
    "next": "show the next fire times of a schedule",
    "schema": "print the JSON Schema of the config files",
    "plan": "show what apply would change in the database",
    "apply": "sync the config into the database and record a revision",
    "history": "list the revisions applied",
    "status": "show the current revision, schedules and drift",
    "db": "migrate the database schema",
    "beat": "run Celery beat with gitbeat's scheduler",
    "worker": "run a Celery worker for the applied config",
    "dlq": "list, replay or purge a dead-letter queue",
    "flower": "run Flower (port 8555) to watch the workers",
    "dev": "run everything on the embedded default and reload on every edit",
}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("GITBEAT_CONFIG", ".")),
        metavar="DIR",
        help="the config root (default: $GITBEAT_CONFIG or .)",
    )
    parser.add_argument("--database", metavar="URL", default=None, help="database URL (default: $GITBEAT_DATABASE_URL)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the module of `command` is imported, so each command starts fast."""
    parser = argparse.ArgumentParser(prog="gitbeat", description="Celery tasks, queues and schedules declared in git.")
    parser.add_argument("--version", action="version", version=f"gitbeat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, description=summary)
        _common(sub)
        if name == command:
            module = importlib.import_module(f".commands.{name}", __package__)
            sub.description = module.__doc__
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    command = next((argument for argument in arguments if argument in COMMANDS), None)
    args = build_parser(command).parse_args(arguments)
    try:
        return int(args.run(args))
    except GitbeatError as error:
        print(f"gitbeat: error: {error}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
