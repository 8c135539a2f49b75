"""Read sqlalchemy-celery-beat's PeriodicTask rows through its own models and session manager.

Its session is opened without preparing the models (that would create tables): the import only
reads. Each row's schedule is the model's own `schedule` (a time-zone-aware crontab in the
crontab's timezone, an interval, a solar event, a clocked time). Its `ModelEntry` holds a row
back until `start_time` and runs a one-off once; at `expires` it does not stop, but every
message it sends then has expired, so gitbeat stops there (`end_at`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import GitbeatError
from ..settings import safe_url
from .entry import Source, SourceEntry
from .sourcetimes import EntryRules


def read(url: str, schema: str | None) -> Source:
    """Every PeriodicTask of the database at `url` (tables in `schema`, else the default one), in id order."""
    from importlib.metadata import version

    from celery import Celery
    from celery import __version__ as celery_version
    from sqlalchemy_celery_beat.models import PeriodicTask
    from sqlalchemy_celery_beat.session import SessionManager

    from ..settings import _sqlalchemy_url

    Celery("gitbeat-import", set_as_current=True)  # the schedules' app: UTC, Celery's default
    engine, factory = SessionManager().create_session(_sqlalchemy_url(url, "--from-database"), schema=schema)
    session = factory()
    try:
        rows = session.query(PeriodicTask).order_by(PeriodicTask.id).all()
        entries = [_entry(row) for row in rows]
    except Exception as error:  # noqa: BLE001 - SQLAlchemy's or the driver's error, said in one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        where = f"{safe_url(url)}" + (f", schema {schema}" if schema else "")
        raise GitbeatError(f"cannot read sqlalchemy-celery-beat's tables at {where}: {reason}") from None
    finally:
        session.close()
        engine.dispose()
    library = f"sqlalchemy-celery-beat {version('sqlalchemy-celery-beat')}, Celery {celery_version}"
    return Source("sqlalchemy-celery-beat", safe_url(url), library, entries)


def _entry(row: Any) -> SourceEntry:
    from kombu.utils.json import loads

    model = row.schedule_model
    zone = (model.timezone or "UTC") if row.discriminator == "crontabschedule" else "UTC"
    options: dict[str, Any] = {k: getattr(row, k) for k in ("queue", "exchange", "routing_key", "priority")
                               if getattr(row, k) is not None}
    if row.expire_seconds:
        options["expires"] = row.expire_seconds
    elif row.expires:
        options["expires"] = row.expires
    options["headers"] = loads(row.headers or "{}")
    never = datetime.now(UTC) - (timedelta(days=365 * 30) if row.start_time else timedelta(0))
    return SourceEntry(
        name=row.name, origin=f"sqlalchemy-celery-beat PeriodicTask #{row.id} ({row.discriminator[:-8]}: {model!r})",
        task=row.task, schedule=row.schedule, timezone=zone, args=loads(row.args or "[]"),
        kwargs=loads(row.kwargs or "{}"), options=options, enabled=row.enabled,
        rules=EntryRules(start_time=row.start_time, stop_at=row.expires, one_off=row.one_off),
        last_run_at=row.last_run_at, run_count=row.total_run_count, description=row.description or None,
        never_run_from=never,
    )
