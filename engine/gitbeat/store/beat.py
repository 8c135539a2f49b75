"""The beat's SQL: schedule rows to load, runs to claim, beat processes to record."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..applied import AppliedConfig
from .apply import STREAM_ROWS, Store
from .runs import NewRun
from .tables import Moment, beats, revisions, runs, schedules

_STALE = timedelta(minutes=1)  # a beat not heard from for this long is forgotten


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    name: str
    spec: str
    digest: str
    enabled: bool
    anchor_at: datetime | None
    created_at: datetime
    last_due_at: datetime | None
    last_task_id: str | None


@dataclass(frozen=True)
class Claim:
    """One schedule's due times sent in this batch (several only under catchup: all)."""

    name: str
    first_due: datetime
    last_due: datetime
    count: int
    task_id: str | None
    cursor: datetime
    next_due: datetime | None


_ROW_COLUMNS = (
    schedules.c.name,
    schedules.c.spec,
    schedules.c.digest,
    schedules.c.enabled,
    schedules.c.anchor_at,
    schedules.c.created_at,
    schedules.c.last_due_at,
    schedules.c.last_task_id,
)


_CLAIM_SQL = """
WITH v AS (
    SELECT * FROM unnest(%(names)s::text[], %(firsts)s::timestamptz[], %(lasts)s::timestamptz[], %(counts)s::int[],
                         %(ids)s::text[], %(cursors)s::timestamptz[], %(nexts)s::timestamptz[])
        AS v(name, first_due, last_due, count, task_id, cursor, next_due)
), won AS (
    UPDATE gitbeat_schedules AS s
    SET last_due_at = v.cursor,
        next_due_at = v.next_due,
        last_run_at = CASE WHEN v.count > 0 THEN v.last_due ELSE s.last_run_at END,
        run_count = s.run_count + v.count,
        last_task_id = COALESCE(v.task_id, s.last_task_id)
    FROM v
    WHERE s.name = v.name AND (s.last_due_at IS NULL OR s.last_due_at < v.first_due)
    RETURNING s.name
), inserted AS (
    INSERT INTO gitbeat_runs (task_id, schedule, due_at, task, trigger, state, note, revision_id, claimed_at, retries)
    SELECT r.task_id, r.schedule, r.due_at, r.task, r.trigger, r.state, r.note, %(revision)s, %(now)s, 0
    FROM unnest(%(run_ids)s::text[], %(run_schedules)s::text[], %(run_dues)s::timestamptz[], %(run_tasks)s::text[],
                %(run_triggers)s::text[], %(run_states)s::text[], %(run_notes)s::text[], %(run_claimed)s::bool[])
        AS r(task_id, schedule, due_at, task, trigger, state, note, claimed)
    WHERE NOT r.claimed OR r.schedule IN (SELECT name FROM won)
    ON CONFLICT (task_id) DO NOTHING
    RETURNING task_id
)
SELECT 's', name FROM won UNION ALL SELECT 'r', task_id FROM inserted
"""


class BeatStore:
    """What beat reads and writes; every method is one short transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.process_id = f"{socket.gethostname()}:{os.getpid()}"

    def latest_revision(self) -> int | None:
        return self.store.latest_revision()

    def revision_config(self) -> tuple[int | None, AppliedConfig | None]:
        """The latest revision's id and its project, queues and tasks (None, None before the first apply)."""
        with self.store.connect() as connection:
            row = connection.execute(
                sa.select(revisions.c.id, revisions.c.config).order_by(revisions.c.id.desc()).limit(1)
            ).first()
        return (row.id, AppliedConfig.from_text(row.config)) if row else (None, None)

    def digests(self) -> dict[str, tuple[str, bool]]:
        """Every schedule's digest and enabled flag: cheap enough to diff 10,000 rows."""
        with self.store.connect() as connection:
            return {
                name: (digest or "", bool(enabled))
                for name, digest, enabled in connection.execute(
                    sa.select(schedules.c.name, schedules.c.digest, schedules.c.enabled)
                )
            }

    def origins(self) -> dict[str, str]:
        """Where each schedule was declared (file:line), as apply recorded it."""
        with self.store.connect() as connection:
            return {name: origin or "" for name, origin in connection.execute(
                sa.select(schedules.c.name, schedules.c.origin)
            )}

    def rows(self, names: list[str] | None = None) -> Iterator[ScheduleRow]:
        """Full rows: all of them (streamed), or those named (in chunks the database accepts).

        Consumed as they come: beat's start-up at 100,000 schedules held every row at once beside
        the entries made from them, and fetched them one call each.
        """
        query = sa.select(*_ROW_COLUMNS)
        with self.store.connect() as connection:
            if names is None:
                result = connection.execute(query.execution_options(stream_results=True, yield_per=STREAM_ROWS))
                for partition in result.partitions():
                    yield from (ScheduleRow(*row) for row in partition)
                return
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                yield from (ScheduleRow(*row) for row in connection.execute(query.where(schedules.c.name.in_(chunk))))

    def claim(
        self, claims: list[Claim], new_runs: list[NewRun], revision: int | None, now: datetime
    ) -> tuple[set[str], set[str]]:
        """Claim due times and record their runs, in one transaction that commits before anything is sent.

        A due time another beat already claimed (last_due_at not before it) is not claimed
        again, and a run is recorded only for a schedule this beat won (or, for entries
        without a schedule row, whose run id is new). Returns the schedules won and the
        run ids recorded: exactly the runs this beat must send.
        """
        with self.store.connect() as connection:
            if self.store.dialect == "postgresql":
                return self._claim_postgresql(connection, claims, new_runs, revision, now)
            if self.store.dialect == "mysql":
                return self._claim_mysql(connection, claims, new_runs, revision, now)
            won = self._claim_schedules(connection, claims)
            recorded = set()
            for run in new_runs:
                if run.schedule in won or run.schedule not in {c.name for c in claims}:
                    exists = connection.execute(sa.select(runs.c.task_id).where(runs.c.task_id == run.task_id)).first()
                    if exists is None:
                        connection.execute(sa.insert(runs).values(**_run_values(run, revision, now)))
                        recorded.add(run.task_id)
            return won, recorded

    def _claim_postgresql(
        self, connection: Connection, claims: list[Claim], new_runs: list[NewRun], revision: int | None, now: datetime
    ) -> tuple[set[str], set[str]]:
        # One statement of fixed text for any batch: typed arrays, no per-batch SQL to compile.
        claimed = {c.name for c in claims}
        rows = connection.exec_driver_sql(
            _CLAIM_SQL,
            {
                "names": [c.name for c in claims],
                "firsts": [c.first_due for c in claims],
                "lasts": [c.last_due for c in claims],
                "counts": [c.count for c in claims],
                "ids": [c.task_id for c in claims],
                "cursors": [c.cursor for c in claims],
                "nexts": [c.next_due for c in claims],
                "run_ids": [r.task_id for r in new_runs],
                "run_schedules": [r.schedule for r in new_runs],
                "run_dues": [r.due_at for r in new_runs],
                "run_tasks": [r.task for r in new_runs],
                "run_triggers": [r.trigger for r in new_runs],
                "run_states": [r.state for r in new_runs],
                "run_notes": [r.note for r in new_runs],
                "run_claimed": [r.schedule in claimed for r in new_runs],
                "revision": revision,
                "now": now,
            },
        )
        won: set[str] = set()
        recorded: set[str] = set()
        for kind, value in rows:
            (won if kind == "s" else recorded).add(value)
        return won, recorded

    def _claim_mysql(
        self, connection: Connection, claims: list[Claim], new_runs: list[NewRun], revision: int | None, now: datetime
    ) -> tuple[set[str], set[str]]:
        """Four statements for any batch (READ COMMITTED, see database.py).

        The claimed rows are locked (FOR UPDATE, in key order, so two beats wait for each
        other and never deadlock) and read as last committed; those whose cursor is still
        before the due time are won, and their run state moves in one UPDATE. A run is
        then inserted unless the ledger has its id: the lock on its schedule's row keeps
        any other beat from recording it meanwhile.
        """
        by_name = {claim.name: claim for claim in claims}
        won: set[str] = set()
        names = sorted(by_name)
        for start in range(0, len(names), 500):
            locked = connection.execute(
                sa.select(schedules.c.name, schedules.c.last_due_at)
                .where(schedules.c.name.in_(names[start : start + 500]))
                .order_by(schedules.c.name)
                .with_for_update()
            )
            won |= {name for name, last in locked if last is None or last < by_name[name].first_due}
        if won:
            mine = [by_name[name] for name in sorted(won)]

            def each(column: Any, value: Any) -> Any:
                return sa.case({c.name: value(c) for c in mine}, value=schedules.c.name, else_=column)

            connection.execute(
                sa.update(schedules).where(schedules.c.name.in_(sorted(won))).values(
                    last_due_at=each(schedules.c.last_due_at, lambda c: sa.literal(c.cursor, Moment)),
                    next_due_at=each(schedules.c.next_due_at, lambda c: sa.literal(c.next_due, Moment)),
                    last_run_at=each(schedules.c.last_run_at, lambda c: sa.literal(c.last_due, Moment)
                                     if c.count else schedules.c.last_run_at),
                    run_count=each(schedules.c.run_count, lambda c: schedules.c.run_count + c.count),
                    last_task_id=each(schedules.c.last_task_id, lambda c: sa.literal(c.task_id, sa.String)
                                      if c.task_id else schedules.c.last_task_id),
                )
            )
        wanted = {run.task_id: run for run in new_runs if run.schedule in won or run.schedule not in by_name}
        ids = list(wanted)
        existing: set[str] = set()
        for start in range(0, len(ids), 1000):
            existing |= {task_id for (task_id,) in connection.execute(
                sa.select(runs.c.task_id).where(runs.c.task_id.in_(ids[start : start + 1000]))
            )}
        fresh = [run for task_id, run in wanted.items() if task_id not in existing]
        if fresh:
            connection.execute(sa.insert(runs), [_run_values(run, revision, now) for run in fresh])
        return won, {run.task_id for run in fresh}

    def _claim_schedules(self, connection: Connection, claims: list[Claim]) -> set[str]:
        table = schedules
        won = set()
        for claim in claims:
            values: dict[str, Any] = {"last_due_at": claim.cursor, "next_due_at": claim.next_due}
            if claim.count:
                values.update(
                    last_run_at=claim.last_due, run_count=table.c.run_count + claim.count, last_task_id=claim.task_id
                )
            result = connection.execute(
                sa.update(table)
                .where(
                    table.c.name == claim.name,
                    sa.or_(table.c.last_due_at.is_(None), table.c.last_due_at < claim.first_due),
                )
                .values(**values)
            )
            if result.rowcount:
                won.add(claim.name)
        return won

    def heartbeat(self, role: str, started_at: datetime, now: datetime) -> None:
        """Record this process and its role; forget beats silent for a minute."""
        with self.store.connect() as connection:
            updated = connection.execute(
                sa.update(beats).where(beats.c.id == self.process_id).values(role=role, heartbeat_at=now)
            ).rowcount
            if not updated:
                hostname, pid = self.process_id.rsplit(":", 1)
                connection.execute(
                    sa.insert(beats).values(
                        id=self.process_id, hostname=hostname, pid=int(pid), role=role,
                        started_at=started_at, heartbeat_at=now,
                    )
                )
            connection.execute(
                sa.delete(beats).where(beats.c.heartbeat_at < now - _STALE)
            )

    def leave(self) -> None:
        with self.store.connect() as connection:
            connection.execute(sa.delete(beats).where(beats.c.id == self.process_id))


def _run_values(run: NewRun, revision: int | None, now: datetime) -> dict[str, Any]:
    return {
        "task_id": run.task_id, "schedule": run.schedule, "due_at": run.due_at, "task": run.task,
        "trigger": run.trigger, "state": run.state, "note": run.note, "revision_id": revision,
        "claimed_at": now, "retries": 0,
    }


def beat_processes(store: Store) -> list[dict[str, Any]]:
    """The beat processes heard from lately, leader first."""
    with store.connect() as connection:
        rows = connection.execute(sa.select(beats).order_by(beats.c.role, beats.c.started_at)).mappings()
        return [dict(row) for row in rows]
