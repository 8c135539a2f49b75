"""The revisions applied (id, time, git commit, author, summary) and, beside them, every operator action."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from . import OK, open_store

JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=20, metavar="N", help="how many entries, newest first (default 20)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ..store.operate import Operations

    store = open_store(args, readonly=True)
    limit = max(args.n, 0)
    entries: list[tuple[datetime, str, dict[str, Any]]] = []
    for revision in store.history(limit):
        commit = (revision.git_commit or "-")[:12] + (" (dirty)" if revision.git_dirty else "")
        line = f"#{revision.id}  {revision.applied_at:%Y-%m-%d %H:%M:%S}Z  {commit}  {revision.author}  "
        line += revision.summary.get("text", "")
        if revision.message:
            line += f"  — {revision.message}"
        entries.append((revision.applied_at, line, {
            "kind": "revision", "id": revision.id, "at": _iso(revision.applied_at), "git_commit": revision.git_commit,
            "git_dirty": revision.git_dirty, "author": revision.author, "message": revision.message,
            "summary": revision.summary.get("text", ""),
        }))
    for action in Operations(store).audit(limit):
        detail = ", ".join(f"{key} {value}" for key, value in sorted(action.detail.items()) if value is not None)
        line = f"   {action.at:%Y-%m-%d %H:%M:%S}Z  {action.action} {action.schedule or ''}  by {action.actor}"
        line += (f"  — {action.note}" if action.note else "") + (f"  ({detail})" if detail else "")
        entries.append((action.at, line, {
            "kind": "action", "id": action.id, "at": _iso(action.at), "action": action.action,
            "schedule": action.schedule, "actor": action.actor, "note": action.note, "detail": action.detail,
        }))
    entries.sort(key=lambda entry: entry[0], reverse=True)
    entries = entries[:limit]
    if args.format == "json":
        print(json.dumps({"version": JSON_VERSION, "entries": [entry[2] for entry in entries]}, indent=2))
        return OK
    if not entries:
        print("No revision applied yet.")
    for _, line, _ in entries:
        print(line)
    return OK


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
