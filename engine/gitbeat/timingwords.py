"""A schedule's timing in plain English: "every day at 02:30", "Monday to Friday at 08:00".

Only what is certain is said: a cron expression these words cannot state exactly and
briefly stays `cron "EXPR"`. Times are wall times in the schedule's timezone, which the
callers show beside the words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import pairwise

from .cron import Cron, CronError, parse_cron
from .durations import format_duration
from .spec import ScheduleSpec
from .timing import zone

UNITS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # cron's 0-6
MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
SOLAR = {
    "dawn_astronomical": "astronomical dawn", "dawn_nautical": "nautical dawn", "dawn_civil": "civil dawn",
    "sunrise": "sunrise", "solar_noon": "solar noon", "sunset": "sunset",
    "dusk_civil": "civil dusk", "dusk_nautical": "nautical dusk", "dusk_astronomical": "astronomical dusk",
}
LIST_MAX = 4  # more times or days of the month than this are not listed
EVERY_MINUTE, EVERY_HOUR = tuple(range(60)), tuple(range(24))
EVERY_DAY, EVERY_WEEKDAY, EVERY_MONTH = tuple(range(1, 32)), tuple(range(7)), tuple(range(1, 13))


def in_words(spec: ScheduleSpec) -> str:
    """When `spec` fires, for a person: 'every 5 minutes', 'every day at 02:30', 'once at 2026-12-24 18:00'."""
    if spec.cron is not None:
        words = cron_words(spec.cron) or f'cron "{spec.cron}"'
    elif spec.every is not None:
        words = "every " + span(spec.every, one="")
    elif spec.at is not None:
        words = f"once at {_moment(spec.at, spec.timezone)}"
    else:
        assert spec.solar is not None
        solar = spec.solar
        words = f"at {SOLAR[solar.event]} ({_degrees(solar.latitude)}, {_degrees(solar.longitude)})"
    if spec.start_at is not None:
        words += f", from {_moment(spec.start_at, spec.timezone)}"
    if spec.end_at is not None:
        words += f"{',' if spec.start_at is None else ''} until {_moment(spec.end_at, spec.timezone)}"
    if spec.jitter is not None:
        words += f", with up to {span(spec.jitter)} of random delay"
    return words


def when(moment: datetime, timezone: str | None) -> str:
    """A fire time as the plan shows it: '2026-12-03 02:30 CET (01:30 UTC)', seconds only when there are some."""
    utc = moment.astimezone(UTC)
    clock = "%H:%M:%S" if utc.second or utc.microsecond else "%H:%M"
    if timezone in (None, "UTC"):
        return f"{utc:%Y-%m-%d {clock}} UTC"
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d {clock} %Z} ({utc:{clock}} UTC)"


def span(seconds: float, one: str = "1 ") -> str:
    """A duration in the largest unit that holds it whole: '5 minutes', '90 seconds', '1 hour' (`one` for a 1)."""
    for unit, size in UNITS:
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{one}{unit}" if count == 1 else f"{count} {unit}s"
    return format_duration(seconds)[:-1] + " seconds"  # a fraction: "1.5 seconds"


def cron_words(text: str) -> str | None:
    """A cron expression in words, or None where words would not say exactly when it fires."""
    try:
        cron = parse_cron(text)
    except CronError:
        return None
    days, times = _days(cron), _times(cron)
    if days is None or times is None:
        return None
    (before_at, before_repeat), (clock, repeats) = days, times
    if not repeats:
        return f"{before_at} {clock}"
    return clock if before_repeat is None else f"{before_repeat}, {clock}"


def _times(cron: Cron) -> tuple[str, bool] | None:
    """The times of day: ('at 09:00 and 17:00', False) follows the days; ('every 15 minutes', True) repeats."""
    minutes = cron.minutes
    if cron.hours == EVERY_HOUR:
        if minutes == EVERY_MINUTE:
            return "every minute", True
        step = minutes[1] - minutes[0] if len(minutes) > 1 else 60
        if 60 % step == 0 and minutes == tuple(range(0, 60, step)):  # evenly spaced, also across the hour
            return ("every hour, on the hour" if step == 60 else f"every {step} minutes"), True
        if len(minutes) <= LIST_MAX:
            return "every hour at " + _and([f":{m:02}" for m in minutes]), True
    clock = sorted(hour * 60 + minute for hour in cron.hours for minute in minutes)
    if len(clock) <= LIST_MAX:
        return "at " + _and([_hhmm(m) for m in clock]), False
    step = clock[1] - clock[0]
    if all(b - a == step for a, b in pairwise(clock)):
        return f"every {span(step * 60, one='')} from {_hhmm(clock[0])} to {_hhmm(clock[-1])}", True
    return None


def _days(cron: Cron) -> tuple[str, str | None] | None:
    """The days: as they read before 'at 08:00', and before ', every 15 minutes' (None: every day)."""
    if cron.day_restricted and cron.weekday_restricted:
        return None  # a day that matches either field fires (the Vixie rule): not said in words
    months = None if cron.months == EVERY_MONTH else _series(cron.months, MONTHS.__getitem__, limit=12)
    in_months = "" if months is None else f" {'from' if ' to ' in months else 'in'} {months}"
    if cron.days == EVERY_DAY and cron.weekdays == EVERY_WEEKDAY:
        return "every day" + in_months, in_months.strip() or None
    if cron.days == EVERY_DAY:  # both fields must match, and every day of the month does
        # Monday first: Saturday and Sunday read as a weekend, Monday to Friday as the working week.
        order = sorted(cron.weekdays, key=lambda day: (day - 1) % 7)
        weekdays = _series(order, WEEKDAYS.__getitem__, limit=7, position=lambda day: (day - 1) % 7)
        assert weekdays is not None
        if len(order) == 1:
            return f"every {weekdays}{in_months}", f"on {weekdays}s{in_months}"
        return weekdays + in_months, weekdays + in_months
    if cron.weekdays != EVERY_WEEKDAY:
        return None  # "*/2" keeps its values: odd days that are also Mondays, say
    days = _series(cron.days, str, limit=LIST_MAX)
    if days is None:
        return None
    if len(cron.days) == 1 and len(cron.months) == 1:
        words = f"on {days} {months}"
    else:
        words = f"on day{'s' if len(cron.days) > 1 else ''} {days} of {months or 'every month'}"
    return words, words


def _series(values: Sequence[int], name: Callable[[int], str], limit: int,
            position: Callable[[int], int] = lambda value: value) -> str | None:
    """'Monday', 'Monday to Friday' (three or more in a row), 'Monday, Wednesday and Friday'; None past `limit`."""
    places = [position(value) for value in values]
    if len(values) >= 3 and places == list(range(places[0], places[0] + len(values))):
        return f"{name(values[0])} to {name(values[-1])}"
    if len(values) > limit:
        return None
    return _and([name(value) for value in values])


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02}:{minutes % 60:02}"


def _moment(moment: datetime, timezone: str | None) -> str:
    """A wall time of the schedule's timezone (one written with an offset, in that timezone where it is known)."""
    if moment.tzinfo is not None and timezone is not None:
        moment = moment.astimezone(zone(timezone))
    clock = "%H:%M:%S.%f" if moment.microsecond else "%H:%M:%S" if moment.second else "%H:%M"
    offset = " UTC%z" if moment.tzinfo is not None and timezone is None else ""
    return f"{moment:%Y-%m-%d {clock}{offset}}"


def _degrees(value: float) -> str:
    """At least two decimals, at most four: 13.4 -> '13.40', 52.516389 -> '52.5164'."""
    text = f"{value:.4f}".rstrip("0")
    return text + "0" * (2 - len(text.partition(".")[2]))
