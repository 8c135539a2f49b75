"""Sync the config into the database in one transaction and record a revision."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from .. import gitinfo
from ..planner import desired_state
from . import OK, open_store, valid_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-prune", action="store_true", help="keep schedules removed from the config")
    parser.add_argument("--message", "-m", default=None, help="why: recorded with the revision")
    parser.add_argument(
        "--lock-timeout", type=float, default=30.0, metavar="SECONDS",
        help="how long to wait for another apply to finish (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    config = valid_config(args)
    from ..store import RevisionMeta

    root = Path(args.config)
    git_commit, dirty = gitinfo.commit(root)
    meta = RevisionMeta(author=gitinfo.author(root), message=args.message, git_commit=git_commit, git_dirty=dirty)
    store = open_store(args, lock_timeout=args.lock_timeout)
    plan, revision = store.apply(desired_state(config), meta, datetime.now(UTC), prune=not args.no_prune)
    if revision is None:
        print("No changes: the database matches the config; no revision recorded.")
    else:
        print(f"Applied revision {revision}: {plan.summary()}.")
    return OK
