"""The run ledger: each run's due time (in its schedule's timezone), lag, runtime and outcome, newest first."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ..durations import format_duration
from ..errors import UnknownScheduleError
from ..store.runs import STATES, Run
from ..timing import zone
from . import OK, open_store

JSON_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="one schedule (default: all)")
    parser.add_argument("-n", type=int, default=20, metavar="N", help="how many runs, newest first (default 20)")
    parser.add_argument("--state", choices=STATES, help="only runs in this state")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ..store.runs import RunLedger

    store = open_store(args, readonly=True)
    if args.name is not None and store.stored_schedule(args.name) is None and not _has_runs(store, args.name):
        raise UnknownScheduleError(f"no schedule named {args.name!r} in the database")
    found = RunLedger(store).list(args.name, limit=max(args.n, 0), state=args.state)
    zones = _timezones(store, {run.schedule for run in found})
    if args.format == "json":
        print(json.dumps({"version": JSON_VERSION, "runs": [as_json(run, zones) for run in found]}, indent=2))
        return OK
    if not found:
        print("No runs recorded" + (f" for {args.name}." if args.name else "."))
        return OK
    for line in table(found, zones):
        print(line)
    return OK


def _has_runs(store: Any, name: str) -> bool:
    from ..store.runs import RunLedger

    return bool(RunLedger(store).list(name, limit=1))


def _timezones(store: Any, names: set[str]) -> dict[str, str]:
    zones = {}
    for name in names:
        row = store.stored_schedule(name)
        zones[name] = (row.fields().get("timezone") if row else None) or "UTC"
    return zones


def _local(moment: datetime | None, timezone: str) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(zone(timezone))
    return f"{local:%Y-%m-%d %H:%M:%S %Z}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}s" if value < 60 else format_duration(round(value))


def table(found: list[Run], zones: dict[str, str]) -> list[str]:
    rows = [("DUE", "SCHEDULE", "TRIGGER", "STATE", "LAG", "RUNTIME", "WORKER", "ERROR")]
    for run in found:
        error = f"{run.error_type}: {run.error}" if run.error_type else (run.error or run.note or "")
        retries = f" ({run.retries} retries)" if run.retries else ""
        rows.append((
            _local(run.due_at, zones.get(run.schedule, "UTC")), run.schedule, run.trigger, run.state + retries,
            _seconds(run.lag), _seconds(run.runtime), run.worker or "-", error[:80],
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows]


def as_json(run: Run, zones: dict[str, str]) -> dict[str, Any]:
    def moment(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "task_id": run.task_id, "schedule": run.schedule, "task": run.task, "trigger": run.trigger,
        "state": run.state, "due_at": moment(run.due_at), "timezone": zones.get(run.schedule, "UTC"),
        "revision": run.revision_id, "claimed_at": moment(run.claimed_at), "sent_at": moment(run.sent_at),
        "started_at": moment(run.started_at), "finished_at": moment(run.finished_at), "lag": run.lag,
        "runtime": run.runtime, "worker": run.worker, "retries": run.retries, "error_type": run.error_type,
        "error": run.error, "note": run.note,
    }
