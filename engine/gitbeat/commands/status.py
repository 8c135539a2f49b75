"""What runs now: the revision, drift, the beats, and each schedule's health, next due time, last run and override."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ..health import HEALTH
from ..timing import zone
from . import OK, open_store

JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ..overview import schedules
    from ..store.beat import beat_processes

    store = open_store(args, readonly=True)
    now = datetime.now(UTC)
    latest = store.history(1)
    counts = store.counts()
    ready = store.ensure_schema()
    processes = beat_processes(store) if ready else []
    views = schedules(store, now)
    if args.format == "json":
        print(json.dumps(_document(store, latest, counts, processes, views), indent=2))
        return OK
    print(f"database: {store.describe()}")
    if latest:
        revision = latest[0]
        commit = (revision.git_commit or "-")[:12] + (" (dirty)" if revision.git_dirty else "")
        print(
            f"revision: #{revision.id} applied {revision.applied_at:%Y-%m-%d %H:%M:%S}Z by {revision.author}, "
            f"commit {commit}"
        )
    elif ready:
        print("revision: none applied yet")
    else:
        print("revision: none applied yet (the database has no gitbeat tables; apply creates them)")
    print(
        f"schedules: {counts['managed']} managed, {counts['unmanaged']} unmanaged; "
        f"{counts['enabled']} enabled, {counts['disabled']} disabled, {counts['done']} done (one-off, fired)"
    )
    print(f"tasks: {counts['tasks']}, queues: {counts['queues']}")
    if counts["drifted"]:
        print(f"drift: {counts['drifted']} managed schedule(s) changed outside gitbeat")
    else:
        print("drift: none")
    if not processes:
        print("beat: none running")
    for process in processes:
        print(
            f"beat: {process['id']} {process['role']}, up since {process['started_at']:%Y-%m-%d %H:%M:%S}Z, "
            f"last heard {process['heartbeat_at']:%H:%M:%S}Z"
        )
    if views:
        tally = {word: sum(v.health.word == word for v in views) for word in HEALTH}
        print("health: " + ", ".join(f"{count} {word}" for word, count in tally.items() if count))
        print()
        for line in _table(views):
            print(line)
    return OK


def _local(moment: datetime | None, timezone: str) -> str:
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d %H:%M %Z}" if moment else "-"


def _table(views: list[Any]) -> list[str]:
    rows = [("SCHEDULE", "HEALTH", "NEXT DUE", "LAST RUN", "LAST SUCCESS", "FAILURES", "WHY")]
    for view in views:
        last = view.stats.last if view.stats else None
        last_run = f"{_local(last.due_at, view.timezone)} {last.state}" if last else "-"
        success = _local(view.stats.last_success_at, view.timezone) if view.stats else "-"
        failures = str(view.stats.failures_since_success) if view.stats else "0"
        rows.append((view.name, view.health.word, _local(view.health.next_due, view.timezone), last_run, success,
                     failures, view.health.reason))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows]


def _moment(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _document(store: Any, latest: list[Any], counts: dict[str, int], processes: list[dict[str, Any]],
              views: list[Any]) -> dict[str, Any]:
    revision = latest[0] if latest else None
    return {
        "version": JSON_VERSION,
        "database": store.describe(),
        "revision": None if revision is None else {
            "id": revision.id, "applied_at": _moment(revision.applied_at), "author": revision.author,
            "git_commit": revision.git_commit, "git_dirty": revision.git_dirty,
        },
        "counts": counts,
        "beats": [{"id": p["id"], "role": p["role"], "started_at": _moment(p["started_at"]),
                   "heartbeat_at": _moment(p["heartbeat_at"])} for p in processes],
        "schedules": [
            {
                "name": view.name, "task": view.spec.task, "timezone": view.timezone, "health": view.health.word,
                "reason": view.health.reason, "next_due": _moment(view.health.next_due),
                "last_run": None if view.stats is None else {
                    "task_id": view.stats.last.task_id, "due_at": _moment(view.stats.last.due_at),
                    "state": view.stats.last.state, "finished_at": _moment(view.stats.last.finished_at),
                },
                "last_success_at": _moment(view.stats.last_success_at) if view.stats else None,
                "failures": view.stats.failures_since_success if view.stats else 0,
                "override": view.override.as_json() if view.override else None,
            }
            for view in views
        ],
    }
