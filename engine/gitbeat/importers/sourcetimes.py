"""The fire times a source's beat produces, computed with the source's own schedule objects.

Celery beat asks a schedule `is_due(last_run_at)`: it is due once `remaining_estimate(last_run_at)`
reaches zero, and the run's time becomes the next last_run_at. With the schedule's clock held at
`last_run_at` (its `nowfun`), `last_run_at + remaining_estimate(last_run_at)` is the instant the
source fires next: what its beat waits for, without its polling lag. The rules an entry wraps
around its schedule (django-celery-beat's and sqlalchemy-celery-beat's `ModelEntry.is_due`: not
before `start_time`, nothing from `expires` on, a one-off runs once) are applied here, each where
the source applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class EntryRules:
    """How a source's beat entry wraps its schedule."""

    start_time: datetime | None = None  # ModelEntry.is_due: not due before it
    stop_at: datetime | None = None  # disabled at expires (django-celery-beat), every message expired (scb)
    one_off: bool = False  # disabled after its first run


class SourceError(Exception):
    """Raised when the source's own library cannot compute a fire time (its message says why)."""


def next_after(schedule: Any, last: datetime) -> datetime | None:
    """The instant `schedule` (a Celery schedule object) fires next when it last ran at `last`; None: never."""
    schedule.nowfun = lambda: last  # BaseSchedule.now() reads it: the clock stands at the last run
    zone = getattr(schedule, "tz", None) if _is_crontab(schedule) else None
    try:
        remaining = schedule.remaining_estimate(last.astimezone(zone) if zone is not None else last)
    except Exception as error:  # noqa: BLE001 - the source library's own failure, reported as the reason
        raise SourceError(f"{type(error).__name__}: {error}") from None
    if remaining is None:  # RedBeat's rrule: no occurrence left
        return None
    return last.astimezone(UTC) + remaining


def _is_crontab(schedule: Any) -> bool:
    from celery.schedules import crontab

    return isinstance(schedule, crontab)


def source_times(schedule: Any, rules: EntryRules, last: datetime, count: int) -> list[datetime]:
    """The next `count` instants (fewer when the schedule ends) after a run at `last`, in UTC."""
    times: list[datetime] = []
    while len(times) < count:
        moment = next_after(schedule, last)
        if moment is None:
            break
        if rules.start_time is not None and moment < rules.start_time:
            moment = rules.start_time.astimezone(UTC)  # due by then, held back until start_time
        if rules.stop_at is not None and moment >= rules.stop_at:
            break
        times.append(moment)
        if rules.one_off:
            break
        last = moment
    return times
