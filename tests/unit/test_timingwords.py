"""A schedule's timing in words (gitbeat.timingwords): a table of specs, and the words read back against fire_times.

The reader below is this test's own understanding of the words, written from English, not from the module:
for generated cron expressions, the fire times the words describe must be exactly gitbeat's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitbeat.cron import CronError, parse_cron
from gitbeat.spec import ScheduleSpec
from gitbeat.timing import fire_times, zone
from gitbeat.timingwords import in_words, when

WORDS = [
    # every: the largest unit that holds it whole, a 1 left unsaid
    (dict(every=300), "every 5 minutes"),
    (dict(every="1s"), "every second"),
    (dict(every=90), "every 90 seconds"),
    (dict(every=3600), "every hour"),
    (dict(every="1h30m"), "every 90 minutes"),
    (dict(every=86400), "every day"),
    (dict(every="2d"), "every 2 days"),
    (dict(every="1w"), "every week"),
    (dict(every=1.5), "every 1.5 seconds"),
    (dict(every="250ms"), "every 0.25 seconds"),
    # cron: the day, then the time
    (dict(cron="30 2 * * *"), "every day at 02:30"),
    (dict(cron="0 9,17 * * *"), "every day at 09:00 and 17:00"),
    (dict(cron="0,30 9-10 * * *"), "every day at 09:00, 09:30, 10:00 and 10:30"),
    (dict(cron="0 8 * * 1"), "every Monday at 08:00"),
    (dict(cron="0 8 * * 7"), "every Sunday at 08:00"),
    (dict(cron="0 8 * * 1-5"), "Monday to Friday at 08:00"),
    (dict(cron="0 9 * * mon,wed,fri"), "Monday, Wednesday and Friday at 09:00"),
    (dict(cron="0 10 * * sat,sun"), "Saturday and Sunday at 10:00"),
    (dict(cron="0 10 * * 5-7"), "Friday to Sunday at 10:00"),
    (dict(cron="0 0 * * */2"), "Tuesday, Thursday, Saturday and Sunday at 00:00"),  # */2 is 0,2,4,6
    (dict(cron="0 8 * * 0-6"), "every day at 08:00"),
    (dict(cron="0 0 1 * *"), "on day 1 of every month at 00:00"),
    (dict(cron="0 0 1,15 * *"), "on days 1 and 15 of every month at 00:00"),
    (dict(cron="0 0 1-7 * *"), "on days 1 to 7 of every month at 00:00"),
    (dict(cron="0 0 */10 * *"), "on days 1, 11, 21 and 31 of every month at 00:00"),
    (dict(cron="0 6 1 1 *"), "on 1 January at 06:00"),
    (dict(cron="0 0 29 2 *"), "on 29 February at 00:00"),
    (dict(cron="0 0 1 jan,jul *"), "on day 1 of January and July at 00:00"),
    (dict(cron="0 0 1 3-10 *"), "on day 1 of March to October at 00:00"),
    (dict(cron="0 8 * 6-8 *"), "every day from June to August at 08:00"),
    (dict(cron="0 8 * 12 1-5"), "Monday to Friday in December at 08:00"),
    # cron: repeats within the day
    (dict(cron="* * * * *"), "every minute"),
    (dict(cron="*/15 * * * *"), "every 15 minutes"),
    (dict(cron="0 * * * *"), "every hour, on the hour"),
    (dict(cron="5 * * * *"), "every hour at :05"),
    (dict(cron="5/20 * * * *"), "every hour at :05, :25 and :45"),
    (dict(cron="5/10 * * * *"), "every 10 minutes from 00:05 to 23:55"),
    (dict(cron="0 */2 * * *"), "every 2 hours from 00:00 to 22:00"),
    (dict(cron="0 9-17 * * *"), "every hour from 09:00 to 17:00"),
    (dict(cron="* 9 * * *"), "every minute from 09:00 to 09:59"),
    (dict(cron="*/15 9-17 * * 1-5"), "Monday to Friday, every 15 minutes from 09:00 to 17:45"),
    (dict(cron="30 * * * 0"), "on Sundays, every hour at :30"),
    (dict(cron="*/5 * * 1 *"), "in January, every 5 minutes"),
    # the aliases
    (dict(cron="@hourly"), "every hour, on the hour"),
    (dict(cron="@daily"), "every day at 00:00"),
    (dict(cron="@midnight"), "every day at 00:00"),
    (dict(cron="@weekly"), "every Sunday at 00:00"),
    (dict(cron="@monthly"), "on day 1 of every month at 00:00"),
    (dict(cron="@yearly"), "on 1 January at 00:00"),
    # what words would not say exactly, or not briefly: the expression as written
    (dict(cron="0 2 1 * mon"), 'cron "0 2 1 * mon"'),  # both day fields restricted: either matches
    (dict(cron="0 0 1-31 * 1"), 'cron "0 0 1-31 * 1"'),
    (dict(cron="0 0 */2 * mon"), 'cron "0 0 */2 * mon"'),  # odd days that are Mondays
    (dict(cron="0 0 */2 * *"), 'cron "0 0 */2 * *"'),  # sixteen days
    (dict(cron="*/7 * * * *"), 'cron "*/7 * * * *"'),  # 56 -> 0 is 4 minutes: not "every 7 minutes"
    (dict(cron="0 9,17 * * * "), "every day at 09:00 and 17:00"),
    (dict(cron="0 1,2,4,8,16 * * *"), 'cron "0 1,2,4,8,16 * * *"'),
    (dict(cron="0 0 1-5,20 * *"), 'cron "0 0 1-5,20 * *"'),
    # at and solar
    (dict(at="2026-12-24T18:00:00"), "once at 2026-12-24 18:00"),
    (dict(at="2026-12-24T18:00:30"), "once at 2026-12-24 18:00:30"),
    (dict(at="2026-12-24T18:00:00+01:00", timezone="Europe/London"), "once at 2026-12-24 17:00"),
    (dict(at="2026-12-24T18:00:00+01:00"), "once at 2026-12-24 18:00 UTC+0100"),
    (dict(solar=dict(event="sunrise", latitude=52.52, longitude=13.4)), "at sunrise (52.52, 13.40)"),
    (dict(solar=dict(event="dusk_civil", latitude=-33.8688, longitude=151.2093)), "at civil dusk (-33.8688, 151.2093)"),
    (dict(solar=dict(event="solar_noon", latitude=0, longitude=-0.127758)), "at solar noon (0.00, -0.1278)"),
    # the window and the jitter
    (dict(every="5m", start_at="2026-01-01"), "every 5 minutes, from 2026-01-01 00:00"),
    (dict(cron="30 2 * * *", end_at="2026-06-30T12:00"), "every day at 02:30, until 2026-06-30 12:00"),
    (dict(every="5m", start_at="2026-01-01", end_at="2026-06-30T12:00", jitter="10s"),
     "every 5 minutes, from 2026-01-01 00:00 until 2026-06-30 12:00, with up to 10 seconds of random delay"),
    (dict(cron="0 * * * *", jitter="1s"), "every hour, on the hour, with up to 1 second of random delay"),
]


@pytest.mark.parametrize(("fields", "expected"), WORDS, ids=[words for _, words in WORDS])
def test_a_schedules_timing_in_words(fields: dict[str, Any], expected: str) -> None:
    assert in_words(ScheduleSpec(task="t", **fields)) == expected


@pytest.mark.parametrize("expression", ["0 0 L * *", "0 0 * * 5#3", "0 0 15W * *", "not a cron"])
def test_syntax_gitbeat_does_not_parse_is_shown_as_written(expression: str) -> None:
    """Such a spec never validates; built without validation, it still reads as written rather than failing."""
    assert in_words(ScheduleSpec.model_construct(task="t", cron=expression)) == f'cron "{expression}"'


@pytest.mark.parametrize(
    ("moment", "timezone", "expected"),
    [
        (datetime(2026, 12, 3, 1, 30, tzinfo=UTC), "Europe/Berlin", "2026-12-03 02:30 CET (01:30 UTC)"),
        (datetime(2026, 6, 3, 0, 30, 15, tzinfo=UTC), "Europe/Berlin", "2026-06-03 02:30:15 CEST (00:30:15 UTC)"),
        (datetime(2026, 12, 3, 1, 30, tzinfo=UTC), "UTC", "2026-12-03 01:30 UTC"),
        (datetime(2026, 12, 3, 1, 30, tzinfo=UTC), None, "2026-12-03 01:30 UTC"),
    ],
)
def test_a_fire_time_reads_as_in_the_plan(moment: datetime, timezone: str | None, expected: str) -> None:
    assert when(moment, timezone) == expected


# --- the words read back -----------------------------------------------------------------------------------------

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]  # date.weekday()
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December"]
CLOCK = r"\d\d:\d\d"


def items(text: str, value: Callable[[str], int]) -> set[int]:
    """'A', 'A and B', 'A, B and C' or 'A to B' (a run, inclusive) as the set of their values."""
    if " to " in text:
        first, last = (value(part) for part in text.split(" to "))
        return set(range(first, last + 1))
    return {value(part) for part in re.split(r", | and ", text)}


def minutes_of(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def read_times(words: str) -> set[int]:
    """Times of day, in minutes after midnight."""
    if words == "every minute":
        return set(range(1440))
    if match := re.fullmatch(r"every (\d+) minutes", words):
        return set(range(0, 1440, int(match[1])))
    if words == "every hour, on the hour":
        return set(range(0, 1440, 60))
    if match := re.fullmatch(r"every hour at (.+)", words):
        return {hour * 60 + minute for hour in range(24) for minute in items(match[1], lambda m: int(m[1:]))}
    if match := re.fullmatch(rf"every (?:(\d+) )?(minute|hour)s? from ({CLOCK}) to ({CLOCK})", words):
        step = int(match[1] or 1) * (60 if match[2] == "hour" else 1)
        return set(range(minutes_of(match[3]), minutes_of(match[4]) + 1, step))
    match = re.fullmatch(r"at (.+)", words)
    assert match, words
    return items(match[1], minutes_of)


def read_days(words: str) -> Callable[[date], bool]:
    """Which days; an empty phrase is every day."""
    months = set(range(1, 13))
    if match := re.fullmatch(r"(.*?) ?\b(?:in|from) ([A-Z][a-z]+(?:(?:, | and | to )[A-Z][a-z]+)*)", words):
        words, months = match[1], items(match[2], lambda name: MONTH_NAMES.index(name) + 1)
    if words in ("", "every day"):
        return lambda day: day.month in months
    if match := re.fullmatch(r"on (\d+) ([A-Z][a-z]+)", words):
        number, month = int(match[1]), MONTH_NAMES.index(match[2]) + 1
        return lambda day: (day.month, day.day) == (month, number)
    if match := re.fullmatch(r"on days? (.+) of (.+)", words):
        numbers = items(match[1], int)
        if match[2] != "every month":
            months = items(match[2], lambda name: MONTH_NAMES.index(name) + 1)
        return lambda day: day.month in months and day.day in numbers
    if match := re.fullmatch(r"(?:every|on) ([A-Z][a-z]+day)s?", words):
        weekdays = {DAY_NAMES.index(match[1])}
    else:
        weekdays = items(words, DAY_NAMES.index)
    return lambda day: day.month in months and day.weekday() in weekdays


def read_cron_words(words: str) -> tuple[Callable[[date], bool], set[int]]:
    repeat = re.search(rf"(?:^|, )(every (?:minute|\d+ minutes|hour, on the hour|hour at .+|(?:\d+ )?(?:minute|hour)s? "
                       rf"from {CLOCK} to {CLOCK}))$", words)
    if repeat:
        return read_days(words[: repeat.start()]), read_times(repeat[1])
    match = re.fullmatch(rf"(.+) (at {CLOCK}(?:(?:, | and ){CLOCK})*)", words)
    assert match, words
    return read_days(match[1]), read_times(match[2])


def described(days: Callable[[date], bool], times: set[int], timezone: str, after: datetime) -> Iterator[datetime]:
    """The moments the words describe after `after`, walking day by day (a timezone without DST: no gaps)."""
    tz = zone(timezone)
    day = after.astimezone(tz).date()
    for _ in range(366 * 40):
        if days(day):
            for minute in sorted(times):
                moment = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=minute)
                if moment > after:
                    yield moment
        day += timedelta(days=1)


def field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    value = st.integers(low, high).map(str)
    if names:
        value = value | st.sampled_from(names)
    pair = st.tuples(st.integers(low, high), st.integers(low, high)).map(sorted)
    return st.one_of(
        st.just("*"), st.just("*"), value,
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        st.integers(1, high).map(lambda step: f"*/{step}"),
        st.tuples(st.integers(low, high), st.integers(1, high)).map(lambda p: f"{p[0]}/{p[1]}"),
        st.lists(value, min_size=2, max_size=5).map(",".join),
    )


CRONS = st.tuples(
    field(0, 59), field(0, 23), field(1, 31), field(1, 12, ["jan", "mar", "jun", "dec"]),
    field(0, 7, ["mon", "wed", "fri", "sat", "sun"]),
).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=CRONS,
    timezone=st.sampled_from(["UTC", "Asia/Kolkata", "America/Phoenix"]),  # none has DST: no gaps or repeats
    after=st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1)).map(lambda moment: moment.replace(tzinfo=UTC)),
)
def test_the_words_of_a_cron_describe_exactly_its_fire_times(expression: str, timezone: str, after: datetime) -> None:
    try:
        parse_cron(expression)
    except CronError:
        return  # not a schedule gitbeat accepts
    spec = ScheduleSpec(task="t", cron=expression, timezone=timezone)
    words = in_words(spec)
    if words.startswith('cron "'):
        assert words == f'cron "{spec.cron}"'
        return
    days, times = read_cron_words(words)
    expected = list(islice(described(days, times, timezone, after), 8))
    assert list(islice(fire_times(spec, timezone, after), 8)) == expected, words


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(1, 10 * 604800), after=st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1)))
def test_the_words_of_every_are_its_period(seconds: int, after: datetime) -> None:
    spec = ScheduleSpec(task="t", every=seconds)
    match = re.fullmatch(r"every (?:(\d+) )?(week|day|hour|minute|second)s?", in_words(spec))
    assert match, in_words(spec)
    size = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}[match[2]]
    assert int(match[1] or 1) * size == seconds
    start = after.replace(tzinfo=UTC)
    fires = list(islice(fire_times(spec, "UTC", start, anchor=start), 3))
    assert [b - a for a, b in pairwise(fires)] == [timedelta(seconds=seconds)] * 2
