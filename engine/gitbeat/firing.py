"""Pure: what beat claims, records and sends for a batch of due entries (no clock, no I/O).

For each entry: the due times to fire now (timing.to_fire), each as a run in the
ledger, `scheduled` when on time and `catchup` when missed; under `overlap: skip`,
due times whose previous run is still queued or running are recorded as `skipped`
with the reason, claimed, and not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .applied import AppliedConfig
from .beatentry import Entry
from .sending import Outgoing, task_id
from .spec import ScheduleSpec
from .store.beat import Claim
from .store.runs import NewRun, Run
from .timing import GRACE, next_fire

DEFAULT_BUSY_LIMIT = 3600.0  # seconds a run counts as queued or running without expires or time_limit


@dataclass
class Batch:
    """One batch's claims (per schedule with a row), ledger rows (per due time) and messages to send."""

    claims: list[Claim] = field(default_factory=list)
    runs: list[NewRun] = field(default_factory=list)
    outgoing: dict[str, Outgoing] = field(default_factory=dict)  # by task id
    skipped: list[tuple[str, datetime, str]] = field(default_factory=list)  # (schedule, due, why)


def busy(last: Run | None, spec: ScheduleSpec, config: AppliedConfig, now: datetime) -> str | None:
    """`overlap: skip`: why the last run still blocks the schedule, or None.

    A run is busy while it is queued or waiting for a retry for less than its `expires`
    (a lost message frees the schedule after that), or started for less than its task's
    `time_limit` (then it was killed), else an hour. Read from the ledger: no result
    backend needed, and it holds across restarts.
    """
    if last is None:
        return None
    expires = config.schedule_options(spec).get("expires")
    task = config.tasks.get(spec.task)
    if last.state in ("queued", "retrying"):
        since = last.sent_at or last.claimed_at
        limit = expires or DEFAULT_BUSY_LIMIT
    elif last.state == "started" and last.started_at is not None:
        since = last.started_at
        limit = (task.time_limit if task else None) or expires or DEFAULT_BUSY_LIMIT
    else:
        return None
    if now - since >= timedelta(seconds=limit):
        return None
    return f"its run due {last.due_at.isoformat()} is still {last.state}"


def plan_batch(
    due: list[tuple[Entry, ScheduleSpec, list[datetime]]],
    last_runs: dict[str, Run],
    config: AppliedConfig,
    now: datetime,
    internal: set[str],
) -> Batch:
    """The claims, runs and messages of a batch of entries whose due times are `due` (each entry's, oldest first)."""
    batch = Batch()
    for entry, spec, dues in due:
        why = busy(last_runs.get(entry.name), spec, config, now) if dues and spec.overlap == "skip" else None
        jitter = timedelta(seconds=spec.jitter or 0)
        sent: list[datetime] = []
        for moment in dues:
            run_id = task_id(entry.name, moment)
            if why is not None:
                batch.runs.append(NewRun(run_id, entry.name, moment, spec.task, "scheduled", "skipped", why[:500]))
                batch.skipped.append((entry.name, moment, why))
                continue
            trigger = "scheduled" if now - moment <= GRACE + jitter else "catchup"
            batch.runs.append(NewRun(run_id, entry.name, moment, spec.task, trigger))
            batch.outgoing[run_id] = Outgoing(run_id, entry.name, moment, trigger, spec)
            sent.append(moment)
        if entry.name in internal:
            continue  # no schedule row: the run id alone is the claim
        batch.claims.append(
            Claim(
                name=entry.name,
                first_due=dues[0] if dues else now,
                last_due=sent[-1] if sent else now,
                count=len(sent),
                task_id=task_id(entry.name, sent[-1]) if sent else None,
                cursor=max(now, dues[-1]) if dues else now,
                next_due=next_fire(spec, spec.timezone or "UTC", now, entry.anchor),
            )
        )
    return batch
