"""Read django-celery-beat's PeriodicTask rows through its own Django models.

Django is configured in this process for the one database named (read only: no migration
runs). Each row's schedule is the model's own `schedule` (a time-zone-aware crontab in the
crontab's timezone, an interval, a solar event, a clocked time); the entry rules are its
`ModelEntry`'s: not before `start_time`, disabled at `expires`, a one-off runs once, and a row
that never ran counts from `date_changed`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import GitbeatError
from ..settings import safe_url
from .entry import Source, SourceEntry
from .sourcetimes import EntryRules

ENGINES = {"postgresql": "django.db.backends.postgresql", "postgres": "django.db.backends.postgresql",
           "mysql": "django.db.backends.mysql", "sqlite": "django.db.backends.sqlite3"}


def django_database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for a database URL (postgresql://, mysql://, sqlite:///path)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in ENGINES:
        raise GitbeatError(f"--from-database: {safe_url(url)!r} is not a PostgreSQL, MySQL or SQLite URL")
    if scheme == "sqlite":
        return {"ENGINE": ENGINES[scheme], "NAME": unquote(parts.path[1:] if parts.netloc == "" else parts.path)}
    return {"ENGINE": ENGINES[scheme], "NAME": unquote(parts.path.lstrip("/")), "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""), "HOST": parts.hostname or "", "PORT": str(parts.port or "")}


def setup(url: str) -> None:
    """Configure Django for django-celery-beat on `url`, once per process."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATABASES={"default": django_database(url)}, INSTALLED_APPS=["django_celery_beat"], USE_TZ=True,
            TIME_ZONE="UTC", DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        )
        django.setup()


def read(url: str) -> Source:
    """Every PeriodicTask of the database at `url`, in id order."""
    from celery import Celery
    from celery import __version__ as celery_version

    Celery("gitbeat-import", set_as_current=True)  # the schedules' app: UTC, Celery's default
    try:
        setup(url)
        from django_celery_beat import __version__
        from django_celery_beat.models import PeriodicTask

        rows = list(PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked").order_by("id"))
    except Exception as error:  # noqa: BLE001 - Django's, the driver's or the database's: said in one line
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise GitbeatError(f"cannot read django-celery-beat's tables at {safe_url(url)}: {reason}") from None
    entries = [_entry(row) for row in rows]
    return Source("django-celery-beat", safe_url(url), f"django-celery-beat {__version__}, Celery {celery_version}",
                  entries)


def _entry(row: Any) -> SourceEntry:
    from kombu.utils.json import loads

    zone = str(row.crontab.timezone) if row.crontab is not None else "UTC"
    options: dict[str, Any] = {k: getattr(row, k) for k in ("queue", "exchange", "routing_key", "priority")
                               if getattr(row, k) is not None}
    if row.expire_seconds:
        options["expires"] = row.expire_seconds
    elif row.expires:
        options["expires"] = row.expires
    options["headers"] = loads(row.headers or "{}")
    # ModelEntry: a row that never ran counts from date_changed, or 30 years before it with a start_time.
    never = row.date_changed or datetime.now(UTC)
    if row.start_time:
        never -= timedelta(days=365 * 30)
    kind = "crontab" if row.crontab_id else "interval" if row.interval_id else "solar" if row.solar_id else "clocked"
    return SourceEntry(
        name=row.name, origin=f"django-celery-beat PeriodicTask #{row.id} ({kind}: {row.scheduler})", task=row.task,
        schedule=row.schedule, timezone=zone, args=loads(row.args or "[]"), kwargs=loads(row.kwargs or "{}"),
        options=options, enabled=row.enabled,
        rules=EntryRules(start_time=row.start_time, stop_at=row.expires, one_off=row.one_off),
        last_run_at=row.last_run_at, run_count=row.total_run_count, description=row.description or None,
        never_run_from=never,
    )
