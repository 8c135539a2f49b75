"""Sync the config into the database in one transaction and record a revision."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from .. import gitinfo
from ..errors import GitbeatError
from ..planner import desired_state
from ..savedplan import load
from . import OK, open_store, valid_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", nargs="?", type=Path, metavar="FILE",
                        help="a plan saved with `gitbeat plan --out FILE`: apply exactly it, or refuse")
    parser.add_argument("--no-prune", action="store_true", help="keep schedules removed from the config")
    parser.add_argument("--message", "-m", default=None, help="why: recorded with the revision")
    parser.add_argument(
        "--lock-timeout", type=float, default=30.0, metavar="SECONDS",
        help="how long to wait for another apply to finish (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    saved = load(args.plan) if args.plan is not None else None  # a file that is not a plan: before anything else
    from ..store import RevisionMeta

    # The config is not kept: its YAML documents would stay in memory while the store is read.
    desired = desired_state(valid_config(args))
    prune, expect = not args.no_prune, None
    if saved is not None:
        if saved.environment != desired.environment:
            raise GitbeatError(f"the plan was made for {saved.environment or 'the base config'}, not for "
                               f"{desired.environment or 'the base config'}; nothing was changed")
        if saved.config_digest != desired.digest():
            raise GitbeatError("the files no longer match the plan (they changed since it was made); nothing was "
                               "changed: plan again")
        prune, expect = saved.prune, (saved.revision, saved.state)
    root = Path(args.config)
    git_commit, dirty = gitinfo.commit(root)
    meta = RevisionMeta(author=gitinfo.author(root), message=args.message, git_commit=git_commit, git_dirty=dirty)
    store = open_store(args, lock_timeout=args.lock_timeout)
    plan, revision = store.apply(desired, meta, datetime.now(UTC), prune=prune, expect=expect)
    if revision is None:
        print("No changes: the database matches the config; no revision recorded.")
    else:
        print(f"Applied revision {revision}: {plan.summary()}.")
    return OK
