"""Run an applied schedule now, once, with all its options, as a `manual` run in the ledger (audited)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import gitinfo
from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule")
    parser.add_argument("--note", default=None, help="why: recorded in the audit and the run")


def run(args: argparse.Namespace) -> int:
    from ..operate import trigger
    from ..runtime import configured_app

    root = Path(args.config)
    store = open_store(args)
    app = configured_app(root, args.database).app
    triggered = trigger(store, app, args.name, gitinfo.author(root), args.note)
    if triggered.deferred:
        print(f"triggered {args.name}: run {triggered.task_id} recorded, not sent yet: {triggered.deferred}")
    else:
        print(f"triggered {args.name}: run {triggered.task_id} sent (see `gitbeat runs {args.name}`)")
    return OK
