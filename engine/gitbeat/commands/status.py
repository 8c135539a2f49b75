"""What runs now: the current revision, the schedules by kind, drift."""

from __future__ import annotations

import argparse

from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    store = open_store(args, readonly=True)
    latest = store.history(1)
    counts = store.counts()
    print(f"database: {store.describe()}")
    if latest:
        revision = latest[0]
        commit = (revision.git_commit or "-")[:12] + (" (dirty)" if revision.git_dirty else "")
        print(
            f"revision: #{revision.id} applied {revision.applied_at:%Y-%m-%d %H:%M:%S}Z by {revision.author}, "
            f"commit {commit}"
        )
    elif store.ensure_schema():
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
    from ..store.beat import beat_processes

    processes = beat_processes(store) if store.ensure_schema() else []
    if not processes:
        print("beat: none running")
    for process in processes:
        print(
            f"beat: {process['id']} {process['role']}, up since {process['started_at']:%Y-%m-%d %H:%M:%S}Z, "
            f"last heard {process['heartbeat_at']:%H:%M:%S}Z"
        )
    return OK
