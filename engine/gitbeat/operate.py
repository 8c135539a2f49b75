"""Break-glass actions on applied schedules: run now, backfill past due times, pause, resume; each audited.

The CLI commands and the HTTP API both act through here, with the same rules: a
hand-started run is routed exactly as beat routes the schedule's runs (queue, routing
key, priority, expires, headers) and is recorded in the run ledger; a backfill uses
the due times' deterministic run ids, so a repeated backfill sends nothing twice.
"""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile
from typing import Any

from .applied import AppliedConfig
from .errors import BrokerError, GitbeatError, UnknownScheduleError
from .sending import Outgoing, Sender, task_id
from .spec import ScheduleSpec
from .store import Store
from .store.beat import BeatStore
from .store.operate import Operations, Override
from .store.runs import NewRun, RunLedger
from .timing import fire_times

BACKFILL_LIMIT = 1000


@dataclass(frozen=True)
class Applied:
    """A schedule as applied: its spec, the revision's config that routes it, the revision."""

    name: str
    spec: ScheduleSpec
    config: AppliedConfig
    revision: int | None
    anchor: datetime | None


def applied_schedule(store: Store, name: str) -> Applied:
    """The schedule `name` as the store holds it; UnknownScheduleError (with a "did you mean") otherwise."""
    row = store.stored_schedule(name)
    if row is None:
        names = [r.name for r in BeatStore(store).rows()] if store.ensure_schema() else []
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownScheduleError(f"no schedule named {name!r} is applied{hint}")
    revision, config = BeatStore(store).revision_config()
    return Applied(name, ScheduleSpec.model_validate_json(row.text), config or AppliedConfig(), revision, row.anchor_at)


@dataclass(frozen=True)
class Triggered:
    """The run a trigger recorded, and why it is not sent yet (None: the broker has it)."""

    task_id: str
    deferred: str | None


def trigger(store: Store, app: Any, name: str, actor: str, note: str | None, *, source: str = "cli") -> Triggered:
    """Run the schedule now, once, as a `manual` run (recorded first: it runs even if the broker is away now)."""
    schedule = applied_schedule(store, name)
    now = datetime.now(UTC)
    run_id = str(uuid.uuid4())  # each trigger is a run of its own
    recorded = Operations(store).record_runs(
        [NewRun(run_id, name, now, schedule.spec.task, "manual")], schedule.revision, now, actor, "trigger", note,
        {"task_id": run_id, "source": source},
    )
    deferred = _send(store, app, schedule, [Outgoing(run_id, name, now, "manual", schedule.spec)] if recorded else [])
    return Triggered(run_id, deferred)


@dataclass(frozen=True)
class Backfill:
    """The due times in the range, and the runs recorded for them (none on a dry run)."""

    due: list[datetime]
    sent: list[str]  # the runs recorded now: sent, unless `deferred`
    already: int
    deferred: str | None = None  # why the runs are not sent yet (the broker is away): the leading beat sends them


def backfill(store: Store, app: Any | None, name: str, start: datetime, end: datetime, actor: str,
             note: str | None, *, limit: int = BACKFILL_LIMIT, source: str = "cli") -> Backfill:
    """Run every due time in [start, end], oldest first, as `backfill` runs; `app` None: a dry run."""
    if end < start:
        raise GitbeatError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    schedule = applied_schedule(store, name)
    timezone = schedule.spec.timezone or "UTC"
    after = start - timedelta(microseconds=1)  # `start` itself is in the range
    times = takewhile(lambda moment: moment <= end, fire_times(schedule.spec, timezone, after, schedule.anchor))
    due = list(islice(times, limit + 1))
    if len(due) > limit:
        raise GitbeatError(
            f"more than {limit} due times of {name} between {start.isoformat()} and {end.isoformat()}; "
            "backfill a shorter range, or raise --limit"
        )
    if app is None or not due:
        return Backfill(due, [], 0)
    new_runs = [NewRun(task_id(name, moment), name, moment, schedule.spec.task, "backfill") for moment in due]
    recorded = Operations(store).record_runs(
        new_runs, schedule.revision, datetime.now(UTC), actor, "backfill", note,
        {"from": start.isoformat(), "to": end.isoformat(), "source": source},
    )
    outgoing = [
        Outgoing(r.task_id, name, r.due_at, "backfill", schedule.spec) for r in new_runs if r.task_id in recorded
    ]
    deferred = _send(store, app, schedule, outgoing)
    return Backfill(due, [run.task_id for run in outgoing], len(due) - len(outgoing), deferred)


def pause(store: Store, name: str, actor: str, note: str, duration: float | None, *, source: str = "cli") -> Override:
    applied_schedule(store, name)
    now = datetime.now(UTC)
    until = now + timedelta(seconds=duration) if duration else None
    return Operations(store).pause(name, actor, until, note, now, source=source)


def resume(store: Store, name: str, actor: str, note: str | None, *, source: str = "cli") -> bool:
    applied_schedule(store, name)
    return Operations(store).resume(name, actor, note, datetime.now(UTC), source=source)


def _send(store: Store, app: Any, schedule: Applied, outgoing: list[Outgoing]) -> str | None:
    """Send recorded runs and mark them sent; None, or why not (the broker is away: the leading beat sends them).

    The runs are in the ledger before this is called, so a failed send is not a failed
    trigger: saying "failed" would make the caller retry, and the run would execute twice.
    """
    if not outgoing:
        return None
    from .app import broker_errors

    try:
        with broker_errors(app, f"send the runs of {schedule.name}"):
            # A few runs: publisher confirms, as the app is set up (beat's transactions need a channel of their own)
            Sender(app, transactional=False).send(outgoing, schedule.config, schedule.revision)
    except BrokerError as error:
        return f"{error}; recorded: the leading beat sends it when the broker is back"
    RunLedger(store).mark_sent([run.task_id for run in outgoing], datetime.now(UTC))
    return None
