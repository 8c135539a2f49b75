"""Pure parsing of five-field cron expressions (and the @ aliases) into sets of values."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTH_NAMES = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
WEEKDAY_NAMES = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, MONTH_NAMES),
    _Field("day-of-week", 0, 7, WEEKDAY_NAMES),
)


class CronError(ValueError):
    """Raised when a cron expression cannot be parsed or can never fire."""


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression: the allowed values of each field, sorted."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday
    day_restricted: bool
    weekday_restricted: bool

    def matches(self, wall: datetime) -> bool:
        """True when the naive wall time `wall` (whole minutes) is a fire time."""
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and wall.month in self.months
            and self.day_matches(wall.year, wall.month, wall.day)
        )

    def day_matches(self, year: int, month: int, day: int) -> bool:
        """Standard cron day rule: when both day fields are restricted, either may match.

        Otherwise both must (Vixie cron): a field that starts with "*" still keeps its
        values ("*/2" is every other day), it only does not count as restricted.
        """
        in_days = day in self.days
        weekday = (calendar.weekday(year, month, day) + 1) % 7
        in_weekdays = weekday in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays


def _value(field: _Field, text: str) -> int:
    number = field.names.get(text.lower()) if field.names else None
    if number is None:
        if not (text.isascii() and text.isdigit()):
            raise CronError(f"{field.name} value {text!r} is not a number")
        number = int(text)
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name} {number} is out of range {field.low}-{field.high}")
    return number


def _parse_field(field: _Field, text: str) -> tuple[set[int], bool]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field.name} field {text!r} has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise CronError(f"{field.name} step {step_text!r} in {part!r} must be a whole number of at least 1")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(field, first), _value(field, last)
            if low > high:
                raise CronError(f"{field.name} range {base!r} runs backwards")
        else:
            low = _value(field, base)
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    # As in Vixie cron, a field that starts with "*" (also "*/2") does not restrict days.
    return values, not text.startswith("*")


def parse_cron(text: str) -> Cron:
    """Parse `text` (five fields or an @ alias); raise CronError with a reason a person can act on."""
    if not isinstance(text, str):  # checked before the cache, which cannot hash a list
        raise CronError("a cron expression is a string, e.g. \"0 0 * * *\"")
    return _parse_cron(text)


@lru_cache(maxsize=4096)
def _parse_cron(text: str) -> Cron:
    stripped = " ".join(text.split()).lower()
    if stripped.startswith("@"):
        if stripped not in ALIASES:
            raise CronError(f"unknown cron alias {stripped!r}; use one of {', '.join(ALIASES)}")
        stripped = ALIASES[stripped]
    parts = stripped.split()
    if len(parts) != 5:
        raise CronError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    parsed = [_parse_field(field, part) for field, part in zip(FIELDS, parts, strict=True)]
    weekdays = {0 if day == 7 else day for day in parsed[4][0]}
    cron = Cron(
        text=stripped,
        minutes=tuple(sorted(parsed[0][0])),
        hours=tuple(sorted(parsed[1][0])),
        days=tuple(sorted(parsed[2][0])),
        months=tuple(sorted(parsed[3][0])),
        weekdays=tuple(sorted(weekdays)),
        day_restricted=parsed[2][1],
        weekday_restricted=parsed[4][1],
    )
    # 2000 is a leap year, so February 29 counts as reachable.
    if (
        cron.day_restricted
        and not cron.weekday_restricted
        and not any(day <= calendar.monthrange(2000, month)[1] for month in cron.months for day in cron.days)
    ):
        months = ", ".join(calendar.month_name[m] for m in cron.months)
        raise CronError(f"never fires: day-of-month {parts[2]} does not occur in {months}")
    return cron
