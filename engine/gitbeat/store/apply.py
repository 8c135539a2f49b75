"""The apply repository: schedules and revisions as `plan` reads and `apply` writes them.

Specs are kept as the exact JSON text gitbeat wrote (a JSON column on PostgreSQL), so a
digest of the text shows any edit made outside gitbeat.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import StoreError
from ..planner import SYMBOLS, Current, Desired, Plan, StoredSchedule, diff
from ..planner import digest as sha
from ..runstate import CarriedRun
from .database import Database
from .tables import OWNER, audit, overrides, revisions, schedules

NOTIFY_CHANNEL = "gitbeat_revisions"
MAX_SUMMARY_CHANGES = 1000
STREAM_ROWS = 5_000  # schedule rows fetched at a time when all are read
Row = TypeVar("Row")


@dataclass(frozen=True)
class RevisionMeta:
    """Who applied what, from where."""

    author: str
    message: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None


@dataclass(frozen=True)
class Revision:
    id: int
    applied_at: datetime
    git_commit: str | None
    git_dirty: bool | None
    author: str
    message: str | None
    config_digest: str
    summary: dict[str, Any]
    environment: str | None = None


class Store(Database):
    """The schedules and revisions in one database: what plan reads and apply writes."""

    # --- reading ------------------------------------------------------------------

    def current(self, connection: Connection, desired: Desired | None = None) -> tuple[Current, str | None]:
        """The stored state and the config digest of the latest revision.

        The rows are streamed (the driver's buffer of the whole result was a tenth of plan's
        peak memory at 100,000 schedules), their names and digests shared with `desired`.
        """
        wanted = desired.schedules if desired is not None else {}
        rows = connection.execute(
            sa.select(
                schedules.c.name,
                schedules.c.spec,
                schedules.c.digest,
                schedules.c.enabled,
                schedules.c.owner,
                schedules.c.anchor_at,
                schedules.c.last_due_at,
            ).execution_options(stream_results=True, yield_per=STREAM_ROWS)  # this statement's, not the connection's
        )
        stored = {}
        for name, spec, digest, enabled, owner, anchor_at, last_due in rows:
            same = wanted.get(name)
            if same is not None:  # the config's strings, not a second copy of each
                name = same.name
                digest = same.digest if same.digest == digest else digest
            stored[name] = StoredSchedule(name, spec, digest or "", bool(enabled), owner == OWNER, anchor_at, last_due)
        latest = connection.execute(
            sa.select(revisions.c.id, revisions.c.config, revisions.c.config_digest)
            .order_by(revisions.c.id.desc())
            .limit(1)
        ).first()
        if latest is None:
            return Current(stored), None
        config = json.loads(latest.config)
        current = Current(stored, config.get("tasks", {}), config.get("queues", {}), config.get("project"), latest.id)
        return current, latest.config_digest

    def plan(self, desired: Desired, now: datetime, *, prune: bool = True, fires: int = 3) -> Plan:
        from .operate import Operations

        current = Current({})
        paused = {}
        if self.ensure_schema():
            with self.connect() as connection:
                _same_environment(connection, desired.environment)
                current, _ = self.current(connection, desired)
            paused = {name: o.describe() for name, o in Operations(self).overrides(now).items()}
        plan = diff(desired, current, now, prune=prune, fires=fires)
        plan.paused = paused
        return plan

    def state(self) -> tuple[int | None, str]:
        """The latest revision and a digest of the schedule rows: what a saved plan was made against."""
        if not self.ensure_schema():
            return None, _state_digest([])
        with self.connect() as connection:
            return _latest_and_state(connection)

    def stored_schedule(self, name: str) -> StoredSchedule | None:
        """One schedule row as stored (its spec text and `every` anchor), or None."""
        if not self.ensure_schema():
            return None
        with self.connect() as connection:
            row = connection.execute(
                sa.select(schedules.c.spec, schedules.c.digest, schedules.c.enabled, schedules.c.owner,
                          schedules.c.anchor_at).where(schedules.c.name == name)
            ).first()
        if row is None:
            return None
        return StoredSchedule(name, row.spec, row.digest or "", bool(row.enabled), row.owner == OWNER, row.anchor_at)

    def latest_revision(self) -> int | None:
        if not self.ensure_schema():
            return None
        with self.connect() as connection:
            return connection.execute(sa.select(sa.func.max(revisions.c.id))).scalar()

    def revision(self, revision_id: int) -> Revision | None:
        if not self.ensure_schema():
            return None
        with self.connect() as connection:
            row = connection.execute(sa.select(revisions).where(revisions.c.id == revision_id)).mappings().first()
        return _revision(row) if row else None

    def history(self, limit: int) -> list[Revision]:
        if not self.ensure_schema():
            return []
        with self.connect() as connection:
            rows = connection.execute(
                sa.select(revisions).order_by(revisions.c.id.desc()).limit(limit)
            ).mappings()
            return [_revision(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Schedules by kind, and how many managed rows drifted."""
        if not self.ensure_schema():
            return dict.fromkeys(
                ("done", "managed", "unmanaged", "enabled", "disabled", "drifted", "tasks", "queues"), 0
            )
        with self.connect() as connection:
            current, _ = self.current(connection)
            fired = {
                name for (name,) in connection.execute(
                    sa.select(schedules.c.name).where(schedules.c.last_run_at.is_not(None))
                )
            }
        rows = current.schedules.values()
        return {
            # a one-off (`at`) that has fired: nothing more will run
            "done": sum(row.name in fired and row.fields().get("at") is not None for row in rows),
            "managed": sum(row.managed for row in rows),
            "unmanaged": sum(not row.managed for row in rows),
            "enabled": sum(row.enabled for row in rows),
            "disabled": sum(not row.enabled for row in rows),
            "drifted": sum(row.drifted() for row in rows),
            "tasks": len(current.tasks),
            "queues": len(current.queues),
        }

    # --- writing ------------------------------------------------------------------

    def apply(
        self, desired: Desired, meta: RevisionMeta, now: datetime, *, prune: bool = True,
        expect: tuple[int | None, str] | None = None,
    ) -> tuple[Plan, int | None]:
        """Make the store match `desired` in one locked transaction; the new revision's id, or None.

        `expect`: the (revision, state) a saved plan was made against; anything else refuses.
        """
        self.ensure_schema()
        with self.connect(write=True) as connection:
            _same_environment(connection, desired.environment)
            if expect is not None:
                _unmoved(connection, expect)
            current, _ = self.current(connection, desired)
            plan = diff(desired, current, now, prune=prune, fires=0)
            if plan.conflicts:
                raise StoreError(
                    "these schedules exist in the database but gitbeat does not own them; rename them in "
                    f"the config or delete the rows: {', '.join(plan.conflicts)}"
                )
            if plan.empty:
                return plan, None
            config_text = desired.config_text()
            summary = {
                **plan.counts(),
                "text": plan.summary(),
                "changes": [f"{SYMBOLS[c.action]} {c.kind} {c.name}" for c in plan.changes[:MAX_SUMMARY_CHANGES]],
            }
            inserted = connection.execute(
                sa.insert(revisions)
                .values(
                    applied_at=now,
                    git_commit=meta.git_commit,
                    git_dirty=meta.git_dirty,
                    author=meta.author,
                    message=meta.message,
                    config_digest=desired.digest(),
                    config=config_text,
                    summary=json.dumps(summary, sort_keys=True),
                    environment=desired.environment,
                )
            ).inserted_primary_key  # RETURNING on PostgreSQL, the insert id on MySQL and SQLite
            assert inserted is not None
            revision_id = inserted[0]
            self._write_schedules(connection, desired, plan, revision_id, now)
            if self.dialect == "postgresql":
                connection.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(revision_id))))
        return plan, revision_id

    def _write_schedules(
        self, connection: Connection, desired: Desired, plan: Plan, revision_id: int, now: datetime
    ) -> None:
        added = [desired.schedules[change.name] for change in plan.of("schedule", "add")]
        columns = ("name", "spec", "digest", "enabled", "owner", "origin", "revision_id", "anchor_at",
                   "created_at", "updated_at", "run_count", "last_run_at", "last_due_at")
        # A new row starts from nothing, or from the run state another beat left (gitbeat import): its last run as
        # the cursor (due times up to it never fire again) and, for `every`, as the anchor.
        starts = {item.name: _start(desired.carried.get(item.name), now) for item in added}
        if added and self.dialect == "postgresql":
            stamp = now.astimezone(UTC).isoformat()
            _copy_rows(
                connection,
                schedules,
                columns,
                (
                    (item.name, item.text, item.digest, "t" if item.spec.enabled else "f", OWNER, item.origin,
                     revision_id, *(_text(value) for value in starts[item.name][:1]), stamp, stamp,
                     *(_text(value) for value in starts[item.name][1:]))
                    for item in added
                ),
            )
        elif added:
            new_rows = (
                dict(zip(columns, (item.name, item.text, item.digest, item.spec.enabled, OWNER, item.origin,
                                   revision_id, starts[item.name][0], now, now, *starts[item.name][1:]), strict=True))
                for item in added
            )
            for chunk in _chunks(new_rows):  # bounded memory, as COPY's
                connection.execute(sa.insert(schedules), chunk)
        updates = plan.of("schedule", "change", "drift")
        for timing_changed in (False, True):
            rows = [
                {
                    "key": change.name,
                    "spec": desired.schedules[change.name].text,
                    "digest": desired.schedules[change.name].digest,
                    "enabled": desired.schedules[change.name].spec.enabled,
                    "origin": desired.schedules[change.name].origin,
                    "revision_id": revision_id,
                    "updated_at": now,
                    **({"anchor_at": now, "next_due_at": None, "last_due_at": None} if timing_changed else {}),
                }
                for change in updates
                if change.timing_changed == timing_changed
            ]
            if rows:
                values: dict[str, Any] = {column: sa.bindparam(column) for column in rows[0] if column != "key"}
                connection.execute(
                    sa.update(schedules)
                    .where(schedules.c.name == sa.bindparam("key"), schedules.c.owner == OWNER)
                    .values(values),
                    rows,
                )
        removed = [change.name for change in plan.of("schedule", "remove")]
        if removed:
            connection.execute(
                sa.delete(schedules).where(schedules.c.name.in_(removed), schedules.c.owner == OWNER)
            )
            # A pause of a removed schedule goes with it, in the audit (apply never drops one silently).
            ended = [name for (name,) in connection.execute(
                sa.select(overrides.c.schedule).where(overrides.c.schedule.in_(removed))
            )]
            if ended:
                connection.execute(sa.delete(overrides).where(overrides.c.schedule.in_(ended)))
                connection.execute(sa.insert(audit), [
                    {"at": now, "actor": "gitbeat apply", "action": "resume", "schedule": name,
                     "note": f"the schedule was removed by revision {revision_id}",
                     "detail": json.dumps({"revision": revision_id, "source": "apply"})}
                    for name in ended
                ])


def _state_digest(rows: list[Any]) -> str:
    return sha("\n".join(f"{name}\0{digest}\0{sha(spec)}\0{enabled}\0{owner}"
                         for name, digest, spec, enabled, owner in rows))


def _latest_and_state(connection: Connection) -> tuple[int | None, str]:
    latest = connection.execute(sa.select(sa.func.max(revisions.c.id))).scalar()
    rows = connection.execute(
        sa.select(schedules.c.name, schedules.c.digest, schedules.c.spec, schedules.c.enabled, schedules.c.owner)
        .order_by(schedules.c.name)
    ).all()
    return latest, _state_digest([tuple(row) for row in rows])


def _unmoved(connection: Connection, expect: tuple[int | None, str]) -> None:
    """Refuse a saved plan whose database moved: a newer revision, or schedule rows edited since."""
    revision, state = _latest_and_state(connection)
    if revision != expect[0]:
        raise StoreError(
            f"the database moved since the plan was made: it is at revision {revision}, the plan was made "
            f"against {f'revision {expect[0]}' if expect[0] else 'an empty database'}; nothing was changed: plan again"
        )
    if state != expect[1]:
        raise StoreError(
            "the database's schedules were changed since the plan was made (drift); nothing was changed: plan again"
        )


def _same_environment(connection: Connection, environment: str | None) -> None:
    """A database holds one environment: refuse another's config, in one line."""
    latest = connection.execute(
        sa.select(revisions.c.environment).order_by(revisions.c.id.desc()).limit(1)
    ).first()
    if latest is not None and latest.environment != environment:
        def name(env: str | None) -> str:
            return f"environment {env!r}" if env else "the base config (no environment)"

        raise StoreError(
            f"this database holds {name(latest.environment)}; refusing {name(environment)}: "
            "point --database at that environment's database, or pass the right --env"
        )


def _start(run: CarriedRun | None, now: datetime) -> tuple[datetime, int, datetime | None, datetime | None]:
    """A new row's anchor_at, run_count, last_run_at and last_due_at."""
    if run is None:
        return now, 0, None, None
    return run.anchor_at or now, run.run_count, run.last_run_at, run.last_run_at


def _text(value: object) -> object:
    """A value for COPY's CSV: an instant in ISO form, NULL as nothing."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _revision(row: Any) -> Revision:
    return Revision(
        id=row["id"], applied_at=row["applied_at"], git_commit=row["git_commit"], git_dirty=row["git_dirty"],
        author=row["author"], message=row["message"], config_digest=row["config_digest"],
        summary=json.loads(row["summary"]), environment=row["environment"],
    )


COPY_CHUNK = 5_000  # rows per COPY or INSERT: a few MB however many rows (a StringIO keeps 4 bytes a character)


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """`rows` in lists of at most COPY_CHUNK."""
    remaining = iter(rows)
    while chunk := list(itertools.islice(remaining, COPY_CHUNK)):
        yield chunk


def _copy_rows(
    connection: Connection, table: sa.Table, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Bulk insert with PostgreSQL's COPY, in the connection's transaction: 10,000 rows in tens of ms."""
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
    cursor = connection.connection.cursor()
    try:
        for chunk in _chunks(rows):
            buffer = io.StringIO()
            csv.writer(buffer).writerows(chunk)
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
    finally:
        cursor.close()
