"""One module per command: `add_arguments(parser)` and `run(args) -> exit code`; shared openers here."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CHANGES, FAILED, OK, ConfigError

if TYPE_CHECKING:
    from ..loader import Config
    from ..store import Store

__all__ = ["CHANGES", "FAILED", "OK", "celery_arguments", "environment", "open_store", "valid_config"]


def environment(args: argparse.Namespace) -> str | None:
    """The environment asked for: --env, else GITBEAT_ENV (the environment's or the root's .env), else none."""
    if getattr(args, "env", None):
        return str(args.env)
    root = Path(args.config)
    # Variable names are read case-insensitively, as pydantic-settings reads them.
    if not (root / ".env").is_file() and not any(name.upper() == "GITBEAT_ENV" for name in os.environ):
        return None  # nothing can name one: the settings, and pydantic-settings (0.1 s to import), are not needed
    from ..settings import load_settings

    return load_settings(root).env


def valid_config(args: argparse.Namespace) -> Config:
    """The fully validated config; raises ConfigError (printed, located, by cli.main) when it has errors."""
    from ..validation import collect

    config, diagnostics = collect(Path(args.config), env=environment(args))
    if any(d.severity == "error" for d in diagnostics):
        raise ConfigError(diagnostics)
    return config


def open_store(args: argparse.Namespace, *, readonly: bool = False, lock_timeout: float = 30.0) -> Store:
    """The store named by --database or the settings; a `readonly` one never creates or changes anything."""
    from ..settings import database_url, load_settings
    from ..store import Store

    root = Path(args.config)
    url = database_url(load_settings(root, args.database), root)
    return Store(url, lock_timeout=lock_timeout, readonly=readonly)


def celery_arguments(args: argparse.Namespace) -> list[str]:
    """What followed `--` on the command line, for Celery."""
    return [argument for argument in args.celery_args if argument != "--"]
