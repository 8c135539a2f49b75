"""One command for a fresh clone: apply the config to SQLite, run worker and beat, reload on every edit."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import environment, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flower", action="store_true", help="also run Flower on port 8555")
    parser.add_argument("--serve", action="store_true", help="also serve the API and dashboard on 127.0.0.1:8000")


def run(args: argparse.Namespace) -> int:
    from ..watch import run_dev

    return run_dev(Path(args.config).resolve(), open_store(args), args.database, args.flower, args.serve,
                   environment(args))
