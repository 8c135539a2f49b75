"""The store's tables and column types (SQLAlchemy Core); migrations create them, everything else reads them here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

VERSION_TABLE = "gitbeat_alembic_version"
OWNER = "gitbeat"  # the owner of rows gitbeat manages; other rows are never changed or pruned


class JSONText(TypeDecorator[str]):
    """JSON kept verbatim: written and read as the text gitbeat produced (JSON type on PostgreSQL, LONGTEXT on MySQL,
    whose JSON type would rewrite the text)."""

    impl = sa.Text
    cache_ok = True

    def column_expression(self, column: Any) -> Any:
        return sa.cast(column, sa.Text)


class Moment(TypeDecorator[datetime]):
    """A UTC instant on every backend (SQLite and MySQL's DATETIME(6) keep no offset: they hold UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and dialect.name in ("sqlite", "mysql", "mariadb"):
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
    sa.Column("environment", sa.String(100)),  # the environment applied (None: the base config)
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
runs = sa.Table(
    "gitbeat_runs",
    metadata,
    sa.Column("task_id", sa.String(64), primary_key=True),  # uuid5(schedule|due): the same on every beat
    sa.Column("schedule", sa.String(200), nullable=False),
    sa.Column("due_at", Moment, nullable=False),
    sa.Column("task", sa.String(200), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),  # scheduled, catchup, manual, backfill
    sa.Column("revision_id", sa.Integer),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("claimed_at", Moment, nullable=False),
    sa.Column("sent_at", Moment),  # NULL: claimed, not yet known to be in the broker (the outbox)
    sa.Column("started_at", Moment),
    sa.Column("finished_at", Moment),
    sa.Column("worker", sa.String(300)),
    sa.Column("attempt", sa.String(100)),  # which copy of the message runs it: send id and retry number
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("runtime", sa.Float),
    sa.Column("error_type", sa.String(200)),
    sa.Column("error", sa.String(500)),
    sa.Column("note", sa.String(500)),
)
overrides = sa.Table(
    "gitbeat_overrides",
    metadata,
    sa.Column("schedule", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # pause
    sa.Column("actor", sa.String(300), nullable=False),
    sa.Column("created_at", Moment, nullable=False),
    sa.Column("until", Moment),  # NULL: until resumed
    sa.Column("note", sa.String(500), nullable=False),
)
audit = sa.Table(
    "gitbeat_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Moment, nullable=False),
    sa.Column("actor", sa.String(300), nullable=False),  # a person (git author, $USER) or an API token's name
    sa.Column("action", sa.String(20), nullable=False),  # trigger, backfill, pause, resume
    sa.Column("schedule", sa.String(200)),
    sa.Column("note", sa.String(500)),
    sa.Column("detail", sa.Text, nullable=False),  # JSON: what the action did (runs, range, until)
)
