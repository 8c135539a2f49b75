"""The store: SQLAlchemy tables and the repository. The only module that talks SQL.

Schedules (spec, ownership, run state) and revisions live in the database that beat
and the workers read. Specs are kept as the exact JSON text gitbeat wrote (a JSON
column on PostgreSQL), so a digest of the text shows any edit made outside gitbeat.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import TypeDecorator

from .errors import StoreError
from .planner import SYMBOLS, Current, Desired, Plan, StoredSchedule, diff

HEAD = "0002"
VERSION_TABLE = "gitbeat_alembic_version"
OWNER = "gitbeat"
NOTIFY_CHANNEL = "gitbeat_revisions"
MAX_SUMMARY_CHANGES = 1000
APPLY_LOCK = 0x67697462  # "gitb": the advisory lock key of apply and migrations


class JSONText(TypeDecorator[str]):
    """JSON kept verbatim: written and read as the text gitbeat produced (JSON type on PostgreSQL)."""

    impl = sa.Text
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.Text)


class Moment(TypeDecorator[datetime]):
    """A UTC instant on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


metadata = sa.MetaData()
revisions = sa.Table(
    "gitbeat_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("applied_at", Moment, nullable=False),
    sa.Column("git_commit", sa.String(64)),
    sa.Column("git_dirty", sa.Boolean),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("config_digest", sa.String(64), nullable=False),
    sa.Column("config", JSONText, nullable=False),
    sa.Column("summary", JSONText, nullable=False),
)
schedules = sa.Table(
    "gitbeat_schedules",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("spec", JSONText, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("owner", sa.String(50)),
    sa.Column("origin", sa.String(300)),
    sa.Column("revision_id", sa.Integer),
    sa.Column("anchor_at", Moment),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("updated_at", Moment, nullable=False),
    sa.Column("last_run_at", Moment),
    sa.Column("run_count", sa.Integer, nullable=False),
    sa.Column("last_task_id", sa.String(200)),
    sa.Column("next_due_at", Moment),
    sa.Column("last_due_at", Moment),
)
beats = sa.Table(
    "gitbeat_beats",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("hostname", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("started_at", Moment, nullable=False),
    sa.Column("heartbeat_at", Moment, nullable=False),
)


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


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


def _connection_lost(error: BaseException) -> bool:
    text = _first_line(error)
    return bool(getattr(error, "connection_invalidated", False)) or any(
        marker in text for marker in ("terminat", "closed", "server closed", "connection already closed")
    )


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite store (None for PostgreSQL and in-memory SQLite)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database)


class Store:
    """The schedules and revisions in one database.

    A `readonly` store (plan, status, history, next) never writes: it creates no file,
    folder or table, runs its transactions read-only (PostgreSQL) or `query_only`
    (SQLite), and reads a missing or empty database as one with nothing applied.
    """

    def __init__(self, url: str, *, lock_timeout: float = 30.0, readonly: bool = False) -> None:
        self.lock_timeout = lock_timeout
        self.readonly = readonly
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = lock_timeout
        elif url.startswith("postgresql"):
            connect_args["connect_timeout"] = 5
            connect_args["application_name"] = "gitbeat"
            if readonly:
                connect_args["options"] = "-c default_transaction_read_only=on"
        self.engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        self._file = _sqlite_file(self.engine)
        if self._file is not None and not readonly:
            self._file.parent.mkdir(parents=True, exist_ok=True)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_query_only if readonly else _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._schema: str | None = None  # the schema version once known to be usable

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        return _safe_url(self.engine)

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A transaction; database errors become one clear StoreError line."""
        if write and self.readonly:
            raise StoreError("internal: a read-only store was asked to write")
        dbapi_error = getattr(self.engine.dialect.dbapi, "Error", DBAPIError)
        try:
            with self.engine.connect() as connection:
                connection.info["immediate"] = write
                with connection.begin():
                    if write:
                        self._lock(connection)
                    yield connection
        except StoreError:
            raise
        except OperationalError as error:
            raise StoreError(self._explain(error)) from None
        except (DBAPIError, dbapi_error) as error:
            if _connection_lost(error):
                raise StoreError(self._explain(error)) from None
            raise StoreError(f"database error at {self.describe()}: {_first_line(error)}") from None

    def _explain(self, error: BaseException) -> str:
        text = _first_line(error)
        if "database is locked" in text:
            return f"another gitbeat apply is running; gave up after waiting {self.lock_timeout:g}s"
        if _connection_lost(error):
            return (
                f"lost the connection to the database at {self.describe()} ({text}); "
                "the transaction was rolled back and nothing was changed"
            )
        return f"cannot use the database at {self.describe()}: {text}"

    def _lock(self, connection: Connection) -> None:
        if self.dialect != "postgresql":
            return  # SQLite: the immediate transaction is the lock
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
        try:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(APPLY_LOCK)))
        except DBAPIError as error:
            if getattr(error.orig, "pgcode", None) == "55P03":
                raise StoreError(
                    f"another gitbeat apply is running; gave up after waiting {self.lock_timeout:g}s"
                ) from None
            raise
        connection.exec_driver_sql("SET LOCAL lock_timeout = 0")

    # --- schema -----------------------------------------------------------------

    def schema_version(self) -> str | None:
        """The schema's version; None for a database (or SQLite file) that gitbeat has not set up."""
        if self._file is not None and not self._file.exists():
            return None
        with self.connect() as connection:
            if not sa.inspect(connection).has_table(VERSION_TABLE):
                return None
            return connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()

    def upgrade(self) -> str | None:
        """Migrate to the newest schema; returns the version it started from."""
        before = self.schema_version()
        if before == HEAD:
            self._schema = HEAD
            return before
        from alembic import command
        from alembic.config import Config as AlembicConfig

        alembic = AlembicConfig()
        alembic.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.connect(write=True) as connection:
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, "head")
        self._schema = HEAD
        return before

    def ensure_schema(self) -> bool:
        """Whether gitbeat's tables are there to read: a writer migrates them; a reader never does.

        A read-only store on a database that gitbeat has not set up reads as empty; one
        whose schema is older or newer than this gitbeat's is refused in one line.
        """
        if self._schema is not None:
            return True
        if not self.readonly:
            self.upgrade()
            return True
        version = self.schema_version()
        if version is None:
            return False  # not remembered: a later apply may create the tables
        if version != HEAD:
            raise StoreError(
                f"the database at {self.describe()} has gitbeat schema {version}, and this gitbeat reads {HEAD}: "
                "run `gitbeat db upgrade` (apply also does it) with a gitbeat of the same version"
            )
        self._schema = version
        return True

    # --- reading ------------------------------------------------------------------

    def current(self, connection: Connection) -> tuple[Current, str | None]:
        """The stored state and the config digest of the latest revision."""
        rows = connection.execute(
            sa.select(
                schedules.c.name,
                schedules.c.spec,
                schedules.c.digest,
                schedules.c.enabled,
                schedules.c.owner,
                schedules.c.anchor_at,
            )
        )
        stored = {
            name: StoredSchedule(name, spec, digest or "", bool(enabled), owner == OWNER, anchor_at)
            for name, spec, digest, enabled, owner, anchor_at in rows
        }
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
        current = Current({})
        if self.ensure_schema():
            with self.connect() as connection:
                current, _ = self.current(connection)
        return diff(desired, current, now, prune=prune, fires=fires)

    def latest_revision(self) -> int | None:
        if not self.ensure_schema():
            return None
        with self.connect() as connection:
            return connection.execute(sa.select(sa.func.max(revisions.c.id))).scalar()

    def history(self, limit: int) -> list[Revision]:
        if not self.ensure_schema():
            return []
        with self.connect() as connection:
            rows = connection.execute(
                sa.select(revisions).order_by(revisions.c.id.desc()).limit(limit)
            ).mappings()
            return [
                Revision(
                    id=row["id"],
                    applied_at=row["applied_at"],
                    git_commit=row["git_commit"],
                    git_dirty=row["git_dirty"],
                    author=row["author"],
                    message=row["message"],
                    config_digest=row["config_digest"],
                    summary=json.loads(row["summary"]),
                )
                for row in rows
            ]

    def counts(self) -> dict[str, int]:
        """Schedules by kind, and how many managed rows drifted."""
        if not self.ensure_schema():
            return dict.fromkeys(("done", "managed", "unmanaged", "enabled", "disabled", "drifted", "tasks", "queues"), 0)
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
        self, desired: Desired, meta: RevisionMeta, now: datetime, *, prune: bool = True
    ) -> tuple[Plan, int | None]:
        """Make the store match `desired` in one locked transaction; the new revision's id, or None."""
        self.ensure_schema()
        with self.connect(write=True) as connection:
            current, _ = self.current(connection)
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
            revision_id = connection.execute(
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
                )
                .returning(revisions.c.id)
            ).scalar_one()
            self._write_schedules(connection, desired, plan, revision_id, now)
            if self.dialect == "postgresql":
                connection.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(revision_id))))
        return plan, revision_id

    def _write_schedules(
        self, connection: Connection, desired: Desired, plan: Plan, revision_id: int, now: datetime
    ) -> None:
        added = [desired.schedules[change.name] for change in plan.of("schedule", "add")]
        columns = ("name", "spec", "digest", "enabled", "owner", "origin", "revision_id", "anchor_at",
                   "created_at", "updated_at", "run_count")
        if added and self.dialect == "postgresql":
            stamp = now.astimezone(UTC).isoformat()
            _copy_rows(
                connection,
                schedules,
                columns,
                [
                    (item.name, item.text, item.digest, "t" if item.spec.enabled else "f", OWNER, item.origin,
                     revision_id, stamp, stamp, stamp, 0)
                    for item in added
                ],
            )
        elif added:
            connection.execute(
                sa.insert(schedules),
                [
                    dict(zip(columns, (item.name, item.text, item.digest, item.spec.enabled, OWNER, item.origin,
                                       revision_id, now, now, now, 0)))
                    for item in added
                ],
            )
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
                values = {column: sa.bindparam(column) for column in rows[0] if column != "key"}
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


def _copy_rows(connection: Connection, table: sa.Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert with PostgreSQL's COPY, in the connection's transaction: 10,000 rows in tens of ms."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor = connection.connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
    finally:
        cursor.close()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: pysqlite's own deferred
    # BEGIN would let two applies read the same state and then collide.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    # A reader: no journal-mode change (that writes the file), and SQLite refuses any write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get("immediate") else "BEGIN")
