"""List the revisions applied: id, time, git commit, author, summary."""

from __future__ import annotations

import argparse

from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=20, metavar="N", help="how many, newest first (default 20)")


def run(args: argparse.Namespace) -> int:
    revisions = open_store(args, readonly=True).history(max(args.n, 0))
    if not revisions:
        print("No revision applied yet.")
    for revision in revisions:
        commit = (revision.git_commit or "-")[:12] + (" (dirty)" if revision.git_dirty else "")
        line = f"#{revision.id}  {revision.applied_at:%Y-%m-%d %H:%M:%S}Z  {commit}  {revision.author}  "
        line += revision.summary.get("text", "")
        if revision.message:
            line += f"  — {revision.message}"
        print(line)
    return OK
