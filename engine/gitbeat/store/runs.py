"""The run ledger: one row per run of a schedule, from its claim to its outcome.

Beat writes a run `queued` in the transaction that claims its due time, before the
message is sent, and marks it sent once the broker has it: a run claimed but not
marked sent is in the outbox, and the leading beat sends it again. A message may
therefore arrive twice; a run executes once, because the worker moves the row to
`started` before it calls the handler, and only one copy of the message can do that:

- the first delivery of a queued run (no retries yet),
- the retry that the last attempt asked for (`retrying` with the same retry count),
- the same copy again (same send id and retry count: its worker died mid-run and
  the broker redelivered it, `acks_late`).

Any other copy is a duplicate: acknowledged and dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .apply import Store
from .tables import Moment, runs

FINAL = ("succeeded", "failed", "dead-lettered", "revoked", "skipped")
STATES = ("queued", "started", "retrying", *FINAL)


@dataclass(frozen=True)
class NewRun:
    """A run beat is about to claim (or records as skipped)."""

    task_id: str
    schedule: str
    due_at: datetime
    task: str
    trigger: str  # scheduled, catchup, manual, backfill
    state: str = "queued"  # or skipped
    note: str | None = None


@dataclass(frozen=True)
class Run:
    """A run as the ledger holds it."""

    task_id: str
    schedule: str
    due_at: datetime
    task: str
    trigger: str
    revision_id: int | None
    state: str
    claimed_at: datetime
    sent_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    retries: int
    runtime: float | None
    error_type: str | None
    error: str | None
    note: str | None

    @property
    def lag(self) -> float | None:
        """Seconds from the due time to the start."""
        return (self.started_at - self.due_at).total_seconds() if self.started_at else None


_COLUMNS = [runs.c[name] for name in Run.__dataclass_fields__ if name not in ("lag",)]


def _newest(condition: sa.ColumnElement[bool]) -> sa.Subquery:
    """Per schedule, the newest due time among its runs that meet `condition`."""
    return (
        sa.select(runs.c.schedule, sa.func.max(runs.c.due_at).label("due_at"))
        .where(condition)
        .group_by(runs.c.schedule)
        .subquery()
    )


@dataclass(frozen=True)
class RunStats:
    """A schedule's newest run (not skipped), its newest run a worker took, its last success, the failures since.

    Two newest runs, because a run just claimed is queued for a moment: health judges on the
    newest run that started (is the schedule late? did it fail?), and shows the newest.
    """

    last: Run
    last_success_at: datetime | None
    failures_since_success: int
    last_started: Run | None  # the newest run not queued (and not skipped): started, retrying or finished

_START_SQL = """
UPDATE gitbeat_runs
SET state = 'started', started_at = :now, worker = :worker, attempt = :attempt, retries = :retries
WHERE task_id = :task_id AND (
    (state = 'queued' AND :retries = 0)
    OR (state = 'retrying' AND retries = :retries)
    OR (state = 'started' AND attempt = :attempt)
)
"""
_FINISH_SQL = """
UPDATE gitbeat_runs
SET state = :state, finished_at = :now, runtime = {runtime},
    error_type = COALESCE(:error_type, error_type), error = COALESCE(:error, error)
WHERE task_id = :task_id AND state IN ('started', 'retrying', 'queued')
"""
# The seconds from started_at to :now, in each dialect. A success after retries keeps the last failure (COALESCE).
_RUNTIME = {"postgresql": "EXTRACT(EPOCH FROM (:now - started_at))",
            "sqlite": "(julianday(:now) - julianday(started_at)) * 86400.0",
            "mysql": "TIMESTAMPDIFF(MICROSECOND, started_at, :now) / 1e6"}


def _statement(sql: str) -> Any:
    """Fixed SQL text, built once, with :now bound as a UTC instant on every backend."""
    return sa.text(sql).bindparams(sa.bindparam("now", type_=Moment))


_START = _statement(_START_SQL)
_FINISH = {dialect: _statement(_FINISH_SQL.format(runtime=runtime)) for dialect, runtime in _RUNTIME.items()}


class RunLedger:
    """Reads and writes of the run ledger; every method is one short transaction or one statement.

    `outcomes` is where a worker writes how runs ended: a store whose commits need not
    wait for the disk (the gate, `start`, always does).
    """

    def __init__(self, store: Store, outcomes: Store | None = None) -> None:
        self.store = store
        self.outcomes = outcomes or store

    # --- the worker ---------------------------------------------------------------

    def start(self, task_id: str, attempt: str, retries: int, worker: str, now: datetime) -> str | None:
        """Move the run to `started` for this copy of its message; None to run it, else why it is a duplicate."""
        moved = self.store.statement(
            _START, {"task_id": task_id, "attempt": attempt, "retries": retries, "worker": worker[:300], "now": now}
        )
        if moved:
            return None
        with self.store.connect() as connection:
            row = connection.execute(
                sa.select(runs.c.state, runs.c.worker, runs.c.retries).where(runs.c.task_id == task_id)
            ).first()
        if row is None:
            return "no such run in the ledger"
        if row.state == "started":
            return f"it is running on {row.worker}"
        if row.state == "retrying":
            return f"it waits for retry {row.retries}, not this copy"
        return f"it is {row.state}"

    def retrying(self, task_id: str, retries: int, error_type: str, error: str) -> None:
        """The attempt failed and the retry `retries` is about to be sent (written, durably, before it is sent)."""
        with self.store.connect() as connection:
            connection.execute(
                sa.update(runs)
                .where(runs.c.task_id == task_id, runs.c.state == "started")
                .values(state="retrying", retries=retries, error_type=error_type[:200], error=error[:500])
            )

    def finish(
        self, task_id: str, state: str, now: datetime, *, error_type: str | None = None, error: str | None = None
    ) -> None:
        """The run ended (succeeded, failed, dead-lettered, revoked); only a started or waiting run changes."""
        self.outcomes.statement(_FINISH[self.store.dialect], {
            "task_id": task_id, "state": state, "now": now,
            "error_type": error_type[:200] if error_type else None, "error": error[:500] if error else None,
        })

    # --- beat ---------------------------------------------------------------------

    def mark_sent(self, task_ids: Iterable[str], now: datetime) -> None:
        ids = list(task_ids)
        with self.store.connect() as connection:
            for start in range(0, len(ids), 1000):
                connection.execute(
                    sa.update(runs).where(runs.c.task_id.in_(ids[start : start + 1000])).values(sent_at=now)
                )

    def unsent(self, claimed_before: datetime, limit: int = 1000) -> list[Run]:
        """The outbox: runs claimed before `claimed_before` and never known to be in the broker, oldest first."""
        with self.store.connect() as connection:
            rows = connection.execute(
                sa.select(*_COLUMNS)
                .where(runs.c.sent_at.is_(None), runs.c.claimed_at < claimed_before, runs.c.state == "queued")
                .order_by(runs.c.claimed_at)
                .limit(limit)
            )
            return [Run(*row) for row in rows]

    def last_runs(self, names: list[str]) -> dict[str, Run]:
        """Each schedule's newest run that was not skipped (what `overlap: skip` looks at)."""
        if not names:
            return {}
        newest = (
            sa.select(runs.c.schedule, sa.func.max(runs.c.due_at).label("due_at"))
            .where(runs.c.schedule.in_(names), runs.c.state != "skipped")
            .group_by(runs.c.schedule)
            .subquery()
        )
        with self.store.connect() as connection:
            rows = connection.execute(
                sa.select(*_COLUMNS).join(
                    newest, sa.and_(runs.c.schedule == newest.c.schedule, runs.c.due_at == newest.c.due_at)
                ).where(runs.c.state != "skipped")
            )
            return {row.schedule: Run(*row) for row in rows}

    def trim(self, keep: int, batch: int = 5000) -> int:
        """Keep each schedule's newest `keep` succeeded, `keep` skipped and `keep` other finished runs.

        Unfinished runs stay; skips have a share of their own, so they never push failures out.
        """
        outcome = sa.case((runs.c.state == "succeeded", "s"), (runs.c.state == "skipped", "k"), else_="o")
        ranked = (
            sa.select(
                runs.c.task_id,
                sa.func.row_number()
                .over(partition_by=(runs.c.schedule, outcome), order_by=runs.c.due_at.desc())
                .label("rank"),
            )
            .where(runs.c.state.in_(FINAL))
            .subquery()
        )
        doomed = sa.select(ranked.c.task_id).where(ranked.c.rank > keep).limit(batch)
        with self.store.connect() as connection:
            ids = [task_id for (task_id,) in connection.execute(doomed)]
            if ids:
                connection.execute(sa.delete(runs).where(runs.c.task_id.in_(ids)))
        return len(ids)

    # --- reading ------------------------------------------------------------------

    def stats(self) -> dict[str, RunStats]:
        """Per schedule: its newest run, its last success and the failures since (for health and metrics)."""
        if not self.store.ensure_schema():
            return {}
        newest = _newest(runs.c.state != "skipped")
        started = _newest(runs.c.state.not_in(("skipped", "queued")))
        success = (
            sa.select(runs.c.schedule, sa.func.max(runs.c.finished_at).label("at"))
            .where(runs.c.state == "succeeded")
            .group_by(runs.c.schedule)
            .subquery()
        )
        failures = (
            sa.select(runs.c.schedule, sa.func.count().label("failed"))
            .select_from(runs.outerjoin(success, runs.c.schedule == success.c.schedule))
            .where(runs.c.state.in_(("failed", "dead-lettered")),
                   sa.or_(success.c.at.is_(None), runs.c.finished_at > success.c.at))
            .group_by(runs.c.schedule)
            .subquery()
        )
        taken = runs.alias("taken")
        query = (
            sa.select(*_COLUMNS, success.c.at, sa.func.coalesce(failures.c.failed, 0),
                      *(taken.c[column.name] for column in _COLUMNS))
            .join(newest, sa.and_(runs.c.schedule == newest.c.schedule, runs.c.due_at == newest.c.due_at))
            .outerjoin(success, success.c.schedule == runs.c.schedule)
            .outerjoin(failures, failures.c.schedule == runs.c.schedule)
            .outerjoin(started, started.c.schedule == runs.c.schedule)
            .outerjoin(taken, sa.and_(taken.c.schedule == started.c.schedule, taken.c.due_at == started.c.due_at,
                                      taken.c.state.not_in(("skipped", "queued"))))
            .where(runs.c.state != "skipped")
        )
        width = len(_COLUMNS)
        found: dict[str, RunStats] = {}
        with self.store.connect() as connection:
            for row in connection.execute(query):
                run = Run(*row[:width])
                taken_run = Run(*row[width + 2:]) if row[width + 2] is not None else None
                found[run.schedule] = RunStats(run, row[width], int(row[width + 1]), taken_run)
        return found

    def finished_since(self, moment: datetime, limit: int = 100_000) -> list[Run]:
        """Runs that ended after `moment`, oldest first (what metrics count, scrape by scrape)."""
        with self.store.connect() as connection:
            rows = connection.execute(
                sa.select(*_COLUMNS).where(runs.c.finished_at > moment).order_by(runs.c.finished_at).limit(limit)
            )
            return [Run(*row) for row in rows]

    def has_run(self, schedule: str, due: datetime) -> Run | None:
        """The run of `schedule` due at `due`, if any."""
        with self.store.connect() as connection:
            row = connection.execute(
                sa.select(*_COLUMNS).where(runs.c.schedule == schedule, runs.c.due_at == due)
            ).first()
        return Run(*row) if row else None

    def list(self, schedule: str | None = None, *, limit: int = 20, state: str | None = None,
             offset: int = 0) -> list[Run]:
        """Runs, newest due time first."""
        if not self.store.ensure_schema():
            return []
        query = (
            sa.select(*_COLUMNS).order_by(runs.c.due_at.desc(), runs.c.claimed_at.desc()).limit(limit).offset(offset)
        )
        if schedule is not None:
            query = query.where(runs.c.schedule == schedule)
        if state is not None:
            query = query.where(runs.c.state == state)
        with self.store.connect() as connection:
            return [Run(*row) for row in connection.execute(query)]

    def get(self, task_id: str) -> Run | None:
        if not self.store.ensure_schema():
            return None
        with self.store.connect() as connection:
            row = connection.execute(sa.select(*_COLUMNS).where(runs.c.task_id == task_id)).first()
        return Run(*row) if row else None


SWEEP_AFTER = timedelta(seconds=5)  # a claimed run not marked sent for this long is sent again
