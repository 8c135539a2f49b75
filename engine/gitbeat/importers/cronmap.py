"""Celery's crontab fields as one gitbeat cron expression that fires on exactly the same days (pure).

Celery's `crontab` fires on a day only when its day-of-month AND day-of-week AND month all
match. gitbeat's cron follows Vixie cron: when both day fields are restricted, a day matching
EITHER fires. Vixie cron (and gitbeat) count a day field whose text starts with `*` as not
restricted, though it keeps its values (docs/format.md, "Day rule"): day-of-month `*/31` is
the 1st alone, day-of-week `*/7` is Sunday alone. So an AND is written by starting one day
field with `*`, which is possible exactly when the days of the month hold the 1st or the
weekdays hold Sunday. Otherwise no cron fires on the same days, and no union of crons does
either: each would need the 1st or a Sunday in its day fields, and those days are not wanted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# (low, high) of each field as Celery expands it; gitbeat's day-of-week also takes 7 for Sunday.
MINUTE, HOUR, DAY, MONTH, WEEKDAY = (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)


class NotExpressible(ValueError):
    """Raised when no gitbeat cron fires on the days a Celery crontab fires; the message says why."""


@dataclass(frozen=True)
class CronFields:
    """A crontab's expanded values, Celery's numbering (Sunday is 0)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def of(cls, crontab: object) -> CronFields:
        """From a `celery.schedules.crontab` (or a subclass: django-celery-beat's, sqlalchemy-celery-beat's)."""
        return cls(*(frozenset(getattr(crontab, name)) for name in
                     ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")))


def compact(values: Iterable[int], bounds: tuple[int, int]) -> str:
    """The shortest plain text for a set of values: `*`, `*/n`, ranges `a-b` and single values."""
    low, high = bounds
    wanted = sorted(set(values))
    if wanted == list(range(low, high + 1)):
        return "*"
    if len(wanted) > 1 and wanted[0] == low:
        step = wanted[1] - wanted[0]
        if wanted == list(range(low, high + 1, step)):
            return f"*/{step}"
    return _ranges(wanted)


def _ranges(wanted: list[int]) -> str:
    parts: list[str] = []
    start = previous = wanted[0]
    for value in [*wanted[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        if previous - start >= 2:
            parts.append(f"{start}-{previous}")
        else:
            parts.extend(str(v) for v in range(start, previous + 1))
        if value is not None:
            start = previous = value
    return ",".join(parts)


def _starred(values: frozenset[int], bounds: tuple[int, int], first: int, star: str) -> str:
    """`values` (which hold `first`) written to start with `*`: not restricted for Vixie's day rule."""
    text = compact(values, bounds)
    if text.startswith("*"):
        return text
    rest = sorted(values - {first})
    return star + ("," + _ranges(rest) if rest else "")


def to_cron(fields: CronFields) -> str:
    """The gitbeat cron expression that fires exactly when the crontab does; raises NotExpressible."""
    minute, hour = compact(fields.minutes, MINUTE), compact(fields.hours, HOUR)
    month = compact(fields.months, MONTH)
    all_days = fields.days == frozenset(range(DAY[0], DAY[1] + 1))
    all_weekdays = fields.weekdays == frozenset(range(WEEKDAY[0], WEEKDAY[1] + 1))
    if all_days or all_weekdays:
        # One field is `*`: gitbeat then needs both, as Celery does.
        day = "*" if all_days else compact(fields.days, DAY)
        weekday = "*" if all_weekdays else compact(fields.weekdays, WEEKDAY)
    elif 1 in fields.days:
        day, weekday = _starred(fields.days, DAY, 1, "*/31"), compact(fields.weekdays, WEEKDAY)
    elif 0 in fields.weekdays:
        day, weekday = compact(fields.days, DAY), _starred(fields.weekdays, WEEKDAY, 0, "*/7")
    else:
        raise NotExpressible(
            f"Celery fires only on days matching day-of-month {compact(fields.days, DAY)} AND day-of-week "
            f"{compact(fields.weekdays, WEEKDAY)}; gitbeat's cron (Vixie) reads two restricted day fields as "
            "either, and writes both only when the days of the month include the 1st or the weekdays include "
            "Sunday (a field starting with *), so no cron, nor several, fires on the same days"
        )
    return f"{minute} {hour} {day} {month} {weekday}"
