"""One module per command: `add_arguments(parser)` and `run(args) -> exit code`; shared openers here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..loader import Config
    from ..store import Store

OK = 0
FAILED = 1
CHANGES = 2


def valid_config(args: argparse.Namespace) -> Config | None:
    """The fully validated config, or None after printing its errors to stderr."""
    from .. import report
    from .validate import collect

    config, diagnostics = collect(Path(args.config))
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        report.write_text(errors, sys.stderr)
        print(f"gitbeat: {report.plural(len(errors), 'error')} in the config; nothing was changed", file=sys.stderr)
        return None
    return config


def open_store(args: argparse.Namespace, *, lock_timeout: float = 30.0) -> Store:
    from ..settings import database_url, load_settings
    from ..store import Store

    root = Path(args.config)
    settings = load_settings(root, args.database)
    return Store(database_url(settings.database_url, root), lock_timeout=lock_timeout)


def celery_arguments(args: argparse.Namespace) -> list[str]:
    """What followed `--` on the command line, for Celery."""
    return [argument for argument in args.celery_args if argument != "--"]
