"""Operating without a pull request: pauses (overrides), runs started by hand, and the audit of each action.

An override lives beside the schedule rows, never in them: `apply` does not touch it,
so a schedule whose YAML changes while paused stays paused. Every action writes an
audit row in the same transaction; on PostgreSQL it also notifies running beats, which
honour a pause or a resume at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .apply import NOTIFY_CHANNEL, Store
from .runs import NewRun
from .tables import audit, overrides, runs, schedules

OVERRIDE_NOTICE = "override"  # the NOTIFY payload of a pause or resume (a revision's is its id)


@dataclass(frozen=True)
class Override:
    """A pause: who, when, why, until when (None: until resumed)."""

    schedule: str
    kind: str
    actor: str
    created_at: datetime
    until: datetime | None
    note: str

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now

    def describe(self) -> str:
        until = f" until {self.until:%Y-%m-%d %H:%M:%S}Z" if self.until else ""
        return f"paused by {self.actor} at {self.created_at:%Y-%m-%d %H:%M:%S}Z{until}: {self.note}"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "actor": self.actor, "created_at": self.created_at.isoformat(),
                "until": self.until.isoformat() if self.until else None, "note": self.note}


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    schedule: str | None
    note: str | None
    detail: dict[str, Any]


class Operations:
    """Overrides, hand-started runs and the audit; every method is one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def overrides(self, now: datetime) -> dict[str, Override]:
        """The overrides in force now (an expired one is gone already, or reads as gone)."""
        if not self.store.ensure_schema():
            return {}
        with self.store.connect() as connection:
            found = [Override(*row) for row in connection.execute(sa.select(overrides))]
        return {o.schedule: o for o in found if o.active(now)}

    def pause(self, schedule: str, actor: str, until: datetime | None, note: str, now: datetime,
              *, source: str = "cli") -> Override:
        override = Override(schedule, "pause", actor, now, until, note)
        with self.store.connect(write=True) as connection:
            connection.execute(sa.delete(overrides).where(overrides.c.schedule == schedule))
            connection.execute(sa.insert(overrides).values(
                schedule=schedule, kind="pause", actor=actor[:300], created_at=now, until=until, note=note[:500]
            ))
            self._audit(connection, now, actor, "pause", schedule, note,
                        {"until": until.isoformat() if until else None, "source": source})
            self._notify(connection)
        return override

    def resume(self, schedule: str, actor: str, note: str | None, now: datetime, *, source: str = "cli") -> bool:
        """End a pause; due times missed while paused are not run (the schedule goes on from now)."""
        with self.store.connect(write=True) as connection:
            removed = connection.execute(sa.delete(overrides).where(overrides.c.schedule == schedule)).rowcount
            if not removed:
                return False
            _resume_from(connection, [schedule], now)
            self._audit(connection, now, actor, "resume", schedule, note, {"source": source})
            self._notify(connection)
        return True

    def expire(self, now: datetime) -> list[str]:
        """Remove the pauses whose time is up (beat does this); each goes on from the end of its pause."""
        with self.store.connect(write=True) as connection:
            ended = connection.execute(
                sa.select(overrides.c.schedule, overrides.c.until)
                .where(overrides.c.until.is_not(None), overrides.c.until <= now)
            ).all()
            for name, until in ended:
                connection.execute(sa.delete(overrides).where(overrides.c.schedule == name))
                _resume_from(connection, [name], until)
                self._audit(connection, now, "gitbeat", "resume", name, "the pause expired", {"source": "beat"})
            if ended:
                self._notify(connection)
        return [name for name, _ in ended]

    def record_runs(self, new_runs: list[NewRun], revision: int | None, now: datetime, actor: str, action: str,
                    note: str | None, detail: dict[str, Any]) -> set[str]:
        """Record hand-started runs (trigger, backfill) and their audit row; returns the ids recorded.

        A run whose id is in the ledger already (a due time that ran, or a backfill
        repeated) is not recorded again, and so not sent again.
        """
        with self.store.connect(write=True) as connection:
            existing = set()
            ids = [run.task_id for run in new_runs]
            for start in range(0, len(ids), 1000):
                existing |= {i for (i,) in connection.execute(
                    sa.select(runs.c.task_id).where(runs.c.task_id.in_(ids[start : start + 1000]))
                )}
            fresh = [run for run in new_runs if run.task_id not in existing]
            if fresh:
                connection.execute(sa.insert(runs), [
                    {"task_id": r.task_id, "schedule": r.schedule, "due_at": r.due_at, "task": r.task,
                     "trigger": r.trigger, "state": "queued", "note": (note or "")[:500] or None,
                     "revision_id": revision, "claimed_at": now, "retries": 0}
                    for r in fresh
                ])
            self._audit(connection, now, actor, action, new_runs[0].schedule if new_runs else None, note,
                        {**detail, "runs": len(fresh), "already_ran": len(existing)})
        return {run.task_id for run in fresh}

    def audit(self, limit: int) -> list[AuditEntry]:
        if not self.store.ensure_schema():
            return []
        with self.store.connect() as connection:
            rows = connection.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit))
            return [AuditEntry(r.id, r.at, r.actor, r.action, r.schedule, r.note, json.loads(r.detail)) for r in rows]

    def latest_audit(self) -> int:
        with self.store.connect() as connection:
            return connection.execute(sa.select(sa.func.coalesce(sa.func.max(audit.c.id), 0))).scalar_one()

    def _audit(self, connection: Connection, now: datetime, actor: str, action: str, schedule: str | None,
               note: str | None, detail: dict[str, Any]) -> None:
        connection.execute(sa.insert(audit).values(
            at=now, actor=actor[:300], action=action, schedule=schedule, note=(note or None) and note[:500],
            detail=json.dumps(detail, sort_keys=True),
        ))

    def _notify(self, connection: Connection) -> None:
        if self.store.dialect == "postgresql":
            connection.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, OVERRIDE_NOTICE)))


def _resume_from(connection: Connection, names: list[str], moment: datetime) -> None:
    """Move the schedules' cursors to `moment`: the due times of the pause are handled, not caught up."""
    connection.execute(
        sa.update(schedules)
        .where(schedules.c.name.in_(names), sa.or_(schedules.c.last_due_at.is_(None), schedules.c.last_due_at < moment))
        .values(last_due_at=moment)
    )
