"""The `gitbeat` command: parse arguments, dispatch to commands/<name>.py, map every error to an exit code.

`main` is the one error handler: a user's mistake (GitbeatError, a wrong option) is one
line on stderr and exit 1, a config with errors prints each located error, Ctrl-C is
130, and anything else is a bug: one line on stderr, exit 3, the traceback in a log file.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import logging
import os
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from . import __version__
from .collector import gc_paused
from .errors import BUG, FAILED, INTERRUPTED, ConfigError, GitbeatError, UsageError

COMMANDS = {
    "validate": "check the config files",
    "next": "show the next fire times of a schedule",
    "schema": "print the JSON Schema of the config files",
    "plan": "show what apply would change: against the database or a git ref",
    "apply": "sync the config into the database and record a revision",
    "history": "list the revisions applied",
    "status": "show the current revision, schedules and drift",
    "runs": "list the runs of the schedules: due time, lag, runtime, outcome",
    "trigger": "run a schedule now, once (audited)",
    "backfill": "run a schedule's due times in a past range (audited)",
    "pause": "pause a schedule until resumed or for a while (audited)",
    "resume": "end a pause (audited)",
    "db": "migrate the database schema",
    "beat": "run Celery beat with gitbeat's scheduler",
    "worker": "run a Celery worker for the applied config",
    "dlq": "list, replay or purge a dead-letter queue",
    "flower": "run Flower (port 8555) to watch the workers",
    "dev": "run everything on the embedded default and reload on every edit",
    "serve": "serve the HTTP API and the dashboard",
    "show": "print a saved plan",
    "import": "import schedules from Celery beat, django-celery-beat, sqlalchemy-celery-beat or RedBeat",
}
MODULES = {"import": "import_"}  # a command whose name is a Python keyword lives in another module
# Commands that hand the arguments after `--` to Celery or Flower.
PASSES_THROUGH = ("beat", "worker", "flower")
# Commands whose work is bounded by the config: they load it (and the store's rows), answer and exit, and run
# without the cyclic collector (see collector.py). The others keep running or work through queues of any length.
BOUNDED_BY_CONFIG = ("validate", "next", "plan", "apply", "status")


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit 1) instead of printing usage and exiting 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def parse(arguments: list[str]) -> argparse.Namespace:
    """The parsed command line; an option gitbeat does not know is one line, with a hint for Celery's own."""
    command = _command_of(arguments)
    args, unknown = build_parser(command).parse_known_args(arguments)
    if unknown:
        message = f"unrecognized arguments: {' '.join(unknown)}"
        if command in PASSES_THROUGH:
            start = arguments.index(unknown[0])
            passed = " ".join(a for a in arguments[start:] if a != "--")
            message += f"; Celery's own options go after `--`: gitbeat {command} -- {passed}"
        raise UsageError(f"{message} (see `gitbeat {command or ''} --help`)".replace("  ", " "))
    return args


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # Given before or after the command; after wins. Below the top the defaults are
    # suppressed, so a value given before the command is not reset.
    default_config = Path(os.environ.get("GITBEAT_CONFIG", "."))
    parser.add_argument(
        "--config", type=Path, metavar="DIR", default=default_config if top else argparse.SUPPRESS,
        help="the config root (default: $GITBEAT_CONFIG or .)",
    )
    parser.add_argument(
        "--database", metavar="URL", default=None if top else argparse.SUPPRESS,
        help="database URL (default: $GITBEAT_DATABASE_URL)",
    )
    parser.add_argument(
        "--env", metavar="NAME", default=None if top else argparse.SUPPRESS,
        help="the environment: environments/NAME/ over the base config (default: $GITBEAT_ENV, else none)",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the module of `command` is imported, so each command starts fast."""
    parser = Parser(prog="gitbeat", description="Celery tasks, queues and schedules declared in git.")
    parser.add_argument("--version", action="version", version=f"gitbeat {__version__}")
    _common(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for name, summary in COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, description=summary)
        _common(sub, top=False)
        if name == command:
            module = importlib.import_module(f".commands.{MODULES.get(name, name)}", __package__)
            sub.description = module.__doc__
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def _command_of(arguments: list[str]) -> str | None:
    """The command named on the line: the first argument that is one, before any `--`."""
    for argument in arguments:
        if argument == "--":
            return None
        if argument in COMMANDS:
            return argument
    return None


def log_path() -> Path:
    """Where tracebacks of unexpected errors go (pre-commit's place: the user's cache)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "gitbeat" / "gitbeat.log"


def _report_bug(error: BaseException, arguments: list[str]) -> int:
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"--- {datetime.now(UTC).isoformat()} gitbeat {__version__} {' '.join(arguments[:1])}\n")
            log.write("".join(traceback.format_exception(error)))
        where = f"the traceback is in {path}"
    except OSError:
        where = "no log file could be written"
    print(f"gitbeat: an unexpected error ({type(error).__name__}), please report it; {where}", file=sys.stderr)
    return BUG


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    paused = gc_paused() if _command_of(arguments) in BOUNDED_BY_CONFIG else contextlib.nullcontext()
    try:
        with paused:
            args = parse(arguments)
            return int(args.run(args))
    except ConfigError as error:
        from . import report

        report.write_text(error.diagnostics, sys.stderr)
        print(f"gitbeat: {error}", file=sys.stderr)
        return FAILED
    except GitbeatError as error:
        print(f"gitbeat: error: {error}", file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        return FAILED
    except SystemExit:
        raise  # --help and --version
    except Exception as error:  # noqa: BLE001 - last resort: an unexpected error is a bug, exit 3 with a log file
        click_message = _click_message(error, _command_of(arguments))
        if click_message is not None:
            print(f"gitbeat: error: {click_message}", file=sys.stderr)
            return FAILED
        return _report_bug(error, arguments)


def _click_message(error: Exception, command: str | None) -> str | None:
    """A usage error from Celery's or Flower's own command line (click), as one line naming it."""
    if "click" not in sys.modules:
        return None
    import click

    if isinstance(error, click.ClickException):
        return f"celery {command or ''}: {error.format_message()}".replace(" :", ":")
    return None


def run() -> NoReturn:
    """The `gitbeat` program: main(), then exit."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit with `code` without tearing the interpreter down object by object, when nothing else runs.

    Exit handlers still run and the output is flushed; only the freeing of every object
    (a loaded config, 1,000 handler modules) is skipped, which was 0.15 s of a 1 s `plan`.
    With another thread or a child process alive, the usual exit waits for them.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `gitbeat plan | head`: what could be written was
        code = code or FAILED
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's own, what the usual exit runs first
    if run_exit_handlers is None or threading.active_count() > 1 or _children_alive():
        sys.exit(code)
    run_exit_handlers()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # a closed pipe or stream: nothing more to write
            stream.flush()
    os._exit(code)


def _children_alive() -> bool:
    """Worker pools' processes (multiprocessing, or Celery's billiard) still running."""
    return any(
        module is not None and module.active_children()
        for module in (sys.modules.get("multiprocessing"), sys.modules.get("billiard"))
    )


if __name__ == "__main__":
    run()
