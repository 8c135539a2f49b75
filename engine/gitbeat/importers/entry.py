"""The intermediate form of an imported schedule: one periodic task as its source holds it.

Each source module (beat_schedule, django, sqlalchemy, redbeat) reads its storage into
`SourceEntry` values, keeping the source library's own schedule object, so that the
translation to YAML and the fire-time proof both start from what the source's beat runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .sourcetimes import EntryRules


@dataclass
class SourceEntry:
    """One periodic task as the source keeps it."""

    name: str
    origin: str  # where it came from, for the YAML comment: "django-celery-beat PeriodicTask #3"
    task: str
    schedule: Any  # the source library's schedule: celery crontab / schedule / solar, clocked, RedBeat rrule
    timezone: str  # the zone its wall times are read in (a crontab's own, else the app's)
    args: Any = field(default_factory=list)
    kwargs: Any = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # queue, exchange, routing_key, priority, expires, headers
    enabled: bool = True
    rules: EntryRules = field(default_factory=EntryRules)
    last_run_at: datetime | None = None
    run_count: int = 0
    description: str | None = None
    # What the source's beat does with an entry that never ran: the last run it assumes ("counts from"),
    # or None when it runs such an entry at once (RedBeat).
    never_run_from: datetime | None = None
    never_run_note: str | None = None  # how the source treats a never-run entry, in words


@dataclass
class Source:
    """What a reader found: the entries and how to name the source in the report."""

    kind: str  # beat-schedule, django-celery-beat, sqlalchemy-celery-beat, redbeat
    where: str  # the app, database or Redis it was read from (no password)
    library: str  # "django-celery-beat 2.9.0, Celery 5.7.0": whose library computed the source's fire times
    entries: list[SourceEntry]
    state_note: str | None = None  # where run state comes from, or why there is none
