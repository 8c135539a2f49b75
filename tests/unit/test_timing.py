"""Table tests of the pure fire-time arithmetic (gitbeat.timing) and the DST warnings of `validate`.

Every expected value below was worked out by hand from the calendar and the DST rules, not
read off the code. The 2027 facts used throughout:

- 2027-01-01 is a Friday, so March 1 is a Monday, March 14 and 28, October 3 and 31,
  November 7 and April 4 are Sundays; 2028-01-01 is a Saturday and 2028-03-26 a Sunday.
- Europe/Berlin  (CET +1, CEST +2): forward 2027-03-28 01:00 UTC (02:00 -> 03:00),
  back 2027-10-31 01:00 UTC (03:00 -> 02:00); last Sundays of March and October.
- Europe/London  (GMT 0, BST +1): same instants; 01:00 -> 02:00 and 02:00 -> 01:00.
- America/New_York (EST -5, EDT -4): forward 2027-03-14 07:00 UTC (02:00 -> 03:00),
  back 2027-11-07 06:00 UTC (02:00 -> 01:00); second Sunday of March, first of November.
- Australia/Sydney (AEST +10, AEDT +11): back 2027-04-04 03:00 -> 02:00 (2027-04-03 16:00 UTC),
  forward 2027-10-03 02:00 -> 03:00 (2027-10-02 16:00 UTC); first Sundays of April and October.
- Australia/Lord_Howe (+10:30, DST +11, a 30-minute shift): forward 2027-10-03 02:00 -> 02:30
  (2027-10-02 15:30 UTC), back 2027-04-04 02:00 -> 01:30 (2027-04-03 15:00 UTC).

Nothing here reads the clock.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import islice

import pytest

from gitbeat import timing
from gitbeat.checks import dst_warnings
from gitbeat.spec import ScheduleSpec
from gitbeat.timing import (
    as_local,
    cron_next,
    dst_transitions,
    every_next,
    fire_times,
    in_gap,
    is_repeated,
    local_to_utc,
    next_fire,
    solar_next,
    zone,
)

BERLIN, LONDON, NEW_YORK, SYDNEY, LORD_HOWE = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",
)
H = timedelta(hours=1)


def U(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """An aware UTC instant."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def tz_of(name: str):
    return UTC if name == "UTC" else zone(name)


def sequence(expr: str, tz_name: str, after: datetime, count: int) -> list[datetime]:
    times, moment = [], after
    for _ in range(count):
        moment = cron_next(expr, tz_of(tz_name), moment)
        assert moment is not None
        times.append(moment)
    return times


def schedule(**fields) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"task": "t", **fields})


# ---------------------------------------------------------------------------------------------
# cron_next in UTC: field arithmetic, month and year rollovers, leap days, day-of-week rules
# ---------------------------------------------------------------------------------------------

CRON_UTC = [
    ("* * * * *", U(2027, 1, 1), U(2027, 1, 1, 0, 1)),
    ("* * * * *", U(2027, 1, 1, 0, 0, 30), U(2027, 1, 1, 0, 1)),
    ("* * * * *", U(2027, 1, 1, 0, 0, 59, 999999), U(2027, 1, 1, 0, 1)),
    ("* * * * *", U(2027, 12, 31, 23, 59), U(2028, 1, 1)),
    ("0 * * * *", U(2027, 1, 1), U(2027, 1, 1, 1)),
    ("0 * * * *", U(2027, 1, 1, 0, 59, 59), U(2027, 1, 1, 1)),
    ("*/15 * * * *", U(2027, 1, 1, 0, 14), U(2027, 1, 1, 0, 15)),
    ("*/15 * * * *", U(2027, 1, 1, 0, 15), U(2027, 1, 1, 0, 30)),
    ("*/15 * * * *", U(2027, 1, 1, 23, 50), U(2027, 1, 2)),
    ("5/20 * * * *", U(2027, 1, 1, 0, 45), U(2027, 1, 1, 1, 5)),
    ("0 9-17/4 * * *", U(2027, 1, 1, 13), U(2027, 1, 1, 17)),
    ("0 9-17/4 * * *", U(2027, 1, 1, 17), U(2027, 1, 2, 9)),
    ("0 0 * * *", U(2027, 12, 31, 12), U(2028, 1, 1)),  # year rollover
    ("@daily", U(2027, 1, 31, 0, 0, 1), U(2027, 2, 1)),
    ("0 0 1 * *", U(2027, 1, 31), U(2027, 2, 1)),  # month rollover
    ("@monthly", U(2027, 12, 15), U(2028, 1, 1)),
    ("0 0 31 * *", U(2027, 1, 31), U(2027, 3, 31)),  # February has no 31st
    ("0 0 31 * *", U(2027, 3, 31), U(2027, 5, 31)),  # nor April
    ("0 0 31 * *", U(2027, 7, 31), U(2027, 8, 31)),
    ("0 0 30 * *", U(2027, 1, 30), U(2027, 3, 30)),
    ("0 0 29 * *", U(2027, 1, 29), U(2027, 3, 29)),  # 2027 is not a leap year
    ("0 0 29 * *", U(2028, 1, 29), U(2028, 2, 29)),  # 2028 is
    ("0 0 29 2 *", U(2027, 1, 1), U(2028, 2, 29)),
    ("0 0 29 2 *", U(2028, 2, 29), U(2032, 2, 29)),
    ("0 0 29 2 *", U(2096, 3, 1), U(2104, 2, 29)),  # 2100 is not a leap year: 8 years
    ("0 0 * * *", U(2028, 2, 28), U(2028, 2, 29)),
    ("0 0 1 1 *", U(2027, 1, 1), U(2028, 1, 1)),
    ("@yearly", U(2027, 6, 1), U(2028, 1, 1)),
    ("59 23 31 12 *", U(2027, 12, 31, 23, 59), U(2028, 12, 31, 23, 59)),
    ("30 12 15 6 *", U(2027, 6, 15, 12, 30), U(2028, 6, 15, 12, 30)),
    ("0 12 * jan,jul *", U(2027, 1, 31, 12), U(2027, 7, 1, 12)),
    ("0 12 * jan,jul *", U(2027, 7, 31, 12), U(2028, 1, 1, 12)),
    # day of week
    ("@weekly", U(2027, 3, 1), U(2027, 3, 7)),  # Monday -> Sunday
    ("0 0 * * 7", U(2027, 3, 1), U(2027, 3, 7)),
    ("0 0 * * sun", U(2027, 3, 7), U(2027, 3, 14)),
    ("0 9 * * mon-fri", U(2027, 3, 5, 10), U(2027, 3, 8, 9)),  # Friday after 9 -> Monday
    ("0 9 * * 1-5", U(2027, 3, 6, 8), U(2027, 3, 8, 9)),  # Saturday -> Monday
    ("0 9 * * 1-5", U(2027, 3, 8, 8, 59), U(2027, 3, 8, 9)),
    ("0 0 * * 6,0", U(2027, 12, 31), U(2028, 1, 1)),  # 2028 starts on a Saturday
    # both day fields restricted: either matches (OR)
    ("0 0 13 * 5", U(2027, 8, 1), U(2027, 8, 6)),  # a Friday comes before the 13th
    ("0 0 13 * 5", U(2027, 9, 10), U(2027, 9, 13)),  # the 13th (a Monday) before the next Friday
    ("0 0 29 2 1", U(2027, 2, 1), U(2027, 2, 8)),  # Mondays of February in a common year
    ("0 0 1,15 * 1", U(2027, 3, 29), U(2027, 4, 1)),  # Thursday the 1st before Monday the 5th
    # a day field starting with "*" is no restriction: both must match (AND)
    ("0 0 */2 * *", U(2027, 1, 31), U(2027, 2, 1)),  # 31 -> 1: odd days of each month
    ("0 0 */2 * *", U(2027, 3, 1), U(2027, 3, 3)),
    ("0 0 * * */2", U(2027, 3, 1), U(2027, 3, 2)),  # Monday -> Tuesday
    ("0 0 * * */2", U(2027, 3, 2), U(2027, 3, 4)),  # Tuesday -> Thursday
    ("0 0 */2 * 1", U(2027, 3, 2), U(2027, 3, 15)),  # Monday the 8th is even: the 15th
    ("0 0 29 2 */7", U(2027, 1, 1), U(2032, 2, 29)),  # the first Feb 29 that is a Sunday
    ("0 0 29 2 */7", U(2032, 2, 29), U(2060, 2, 29)),  # 28 years later
    ("0 0 29 2 */7", U(2088, 2, 29), U(2128, 2, 29)),  # 40 years across 2100, not "never again"
]


@pytest.mark.parametrize("expr, after, expected", CRON_UTC, ids=[f"{r[0]} after {r[1]:%Y-%m-%d %H:%M:%S}" for r in CRON_UTC])
def test_cron_next_utc(expr, after, expected):
    assert cron_next(expr, UTC, after) == expected


def test_cron_next_accepts_after_in_any_zone_and_returns_utc():
    after = datetime(2027, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))  # 07:00 UTC
    result = cron_next("0 * * * *", UTC, after)
    assert result == U(2027, 6, 1, 8)
    assert result.utcoffset() == timedelta(0)


# ---------------------------------------------------------------------------------------------
# cron_next across DST changes
# ---------------------------------------------------------------------------------------------

CRON_DST = [
    # Berlin, spring forward: 02:00-02:59 does not exist on 2027-03-28; the gap ends 01:00 UTC (03:00 CEST)
    ("30 2 * * *", BERLIN, U(2027, 3, 27), U(2027, 3, 27, 1, 30)),  # 02:30 CET the day before
    ("30 2 * * *", BERLIN, U(2027, 3, 27, 12), U(2027, 3, 28, 1)),  # in the gap: at its end
    ("30 2 * * *", BERLIN, U(2027, 3, 28, 0, 59, 59), U(2027, 3, 28, 1)),
    ("30 2 * * *", BERLIN, U(2027, 3, 28, 1), U(2027, 3, 29, 0, 30)),  # once: then 02:30 CEST
    ("0 2 * * *", BERLIN, U(2027, 3, 28), U(2027, 3, 28, 1)),
    ("59 2 * * *", BERLIN, U(2027, 3, 28), U(2027, 3, 28, 1)),
    ("30 1 * * *", BERLIN, U(2027, 3, 28), U(2027, 3, 28, 0, 30)),  # 01:30 CET, before the gap
    ("0 3 * * *", BERLIN, U(2027, 3, 28), U(2027, 3, 28, 1)),  # 03:00 CEST is the gap's end
    ("0 3 * * *", BERLIN, U(2027, 3, 28, 1), U(2027, 3, 29, 1)),
    # Berlin, fall back: 02:00-02:59 happens twice on 2027-10-31 (00:00-00:59 and 01:00-01:59 UTC)
    ("30 2 * * *", BERLIN, U(2027, 10, 30, 12), U(2027, 10, 31, 0, 30)),  # the first 02:30 (CEST)
    ("30 2 * * *", BERLIN, U(2027, 10, 31, 0, 30), U(2027, 11, 1, 1, 30)),  # not again at 02:30 CET
    ("30 2 * * *", BERLIN, U(2027, 10, 31, 1, 10), U(2027, 11, 1, 1, 30)),  # after inside the second 02:xx
    ("30 2 * * *", BERLIN, U(2027, 10, 31, 1, 30), U(2027, 11, 1, 1, 30)),
    ("15 2 * * *", BERLIN, U(2027, 10, 31, 0, 20), U(2027, 11, 1, 1, 15)),  # 02:20 CEST: 02:15 has fired
    ("45 2 * * *", BERLIN, U(2027, 10, 31, 1, 10), U(2027, 11, 1, 1, 45)),  # 02:45 fired at 00:45 UTC
    ("*/30 * * * *", BERLIN, U(2027, 10, 31, 1, 10), U(2027, 10, 31, 2)),  # 03:00 CET
    ("0 3 * * *", BERLIN, U(2027, 10, 31, 1, 10), U(2027, 10, 31, 2)),
    ("30 1 * * *", BERLIN, U(2027, 10, 30, 12), U(2027, 10, 30, 23, 30)),  # 01:30 CEST, before the repeat
    # New York
    ("30 2 * * *", NEW_YORK, U(2027, 3, 13, 12), U(2027, 3, 14, 7)),  # gap 02:00-02:59 EST -> 03:00 EDT
    ("30 2 * * *", NEW_YORK, U(2027, 3, 14, 7), U(2027, 3, 15, 6, 30)),
    ("0 2 * * *", NEW_YORK, U(2027, 3, 14, 6), U(2027, 3, 14, 7)),
    ("30 1 * * *", NEW_YORK, U(2027, 11, 6, 12), U(2027, 11, 7, 5, 30)),  # first 01:30 (EDT)
    ("30 1 * * *", NEW_YORK, U(2027, 11, 7, 5, 30), U(2027, 11, 8, 6, 30)),
    ("30 1 * * *", NEW_YORK, U(2027, 11, 7, 6, 10), U(2027, 11, 8, 6, 30)),  # after at 01:10 EST
    ("0 0 * * *", NEW_YORK, U(2027, 11, 7, 4), U(2027, 11, 8, 5)),  # midnight EDT, then EST
    ("0 9 * * 1-5", NEW_YORK, U(2027, 3, 12, 14), U(2027, 3, 15, 13)),  # Fri 09:00 EST -> Mon 09:00 EDT
    # Sydney (southern hemisphere: forward in October, back in April)
    ("30 2 * * *", SYDNEY, U(2027, 10, 2), U(2027, 10, 2, 16)),  # 02:30 on Oct 3 is in the gap
    ("30 2 * * *", SYDNEY, U(2027, 10, 2, 16), U(2027, 10, 3, 15, 30)),  # 02:30 AEDT Oct 4
    ("30 2 * * *", SYDNEY, U(2027, 4, 3), U(2027, 4, 3, 15, 30)),  # the first 02:30 (AEDT)
    ("30 2 * * *", SYDNEY, U(2027, 4, 3, 15, 30), U(2027, 4, 4, 16, 30)),  # then 02:30 AEST Apr 5
    ("*/30 * * * *", SYDNEY, U(2027, 4, 3, 16, 45), U(2027, 4, 3, 17)),  # 02:45 AEST (second) -> 03:00
    # London
    ("30 1 * * *", LONDON, U(2027, 3, 27, 12), U(2027, 3, 28, 1)),  # gap 01:00-01:59 GMT -> 02:00 BST
    ("30 1 * * *", LONDON, U(2027, 3, 28, 1), U(2027, 3, 29, 0, 30)),
    ("30 1 * * *", LONDON, U(2027, 10, 30, 12), U(2027, 10, 31, 0, 30)),  # first 01:30 (BST)
    ("30 1 * * *", LONDON, U(2027, 10, 31, 0, 30), U(2027, 11, 1, 1, 30)),
    # Lord Howe: a 30-minute shift
    ("15 2 * * *", LORD_HOWE, U(2027, 10, 2), U(2027, 10, 2, 15, 30)),  # 02:15 skipped: fires at 02:30
    ("15 2 * * *", LORD_HOWE, U(2027, 10, 2, 15, 30), U(2027, 10, 3, 15, 15)),  # 02:15 +11
    ("45 1 * * *", LORD_HOWE, U(2027, 4, 3), U(2027, 4, 3, 14, 45)),  # first 01:45 (+11)
    ("45 1 * * *", LORD_HOWE, U(2027, 4, 3, 14, 45), U(2027, 4, 4, 15, 15)),  # 01:45 +10:30 next day
]


@pytest.mark.parametrize(
    "expr, tz_name, after, expected", CRON_DST, ids=[f"{r[1]} {r[0]} after {r[2]:%m-%d %H:%M:%S}" for r in CRON_DST]
)
def test_cron_next_across_dst(expr, tz_name, after, expected):
    assert cron_next(expr, zone(tz_name), after) == expected


# Consecutive fire times around each change: no duplicate, nothing fired twice, nothing lost beyond the rule.
CRON_SEQUENCES = [
    # Berlin spring: 01:00 CET, then 02:00 (skipped) and 03:00 are the same instant, then 04:00 CEST
    ("0 * * * *", BERLIN, U(2027, 3, 27, 23, 30), [U(2027, 3, 28, 0), U(2027, 3, 28, 1), U(2027, 3, 28, 2), U(2027, 3, 28, 3)]),
    # 01:30 CET; 02:00, 02:30 (skipped) and 03:00 at 01:00 UTC, once; 03:30 CEST
    ("*/30 * * * *", BERLIN, U(2027, 3, 28), [U(2027, 3, 28, 0, 30), U(2027, 3, 28, 1), U(2027, 3, 28, 1, 30), U(2027, 3, 28, 2)]),
    (
        "15,45 1-3 * * *",
        BERLIN,
        U(2027, 3, 28),
        [U(2027, 3, 28, 0, 15), U(2027, 3, 28, 0, 45), U(2027, 3, 28, 1), U(2027, 3, 28, 1, 15), U(2027, 3, 28, 1, 45), U(2027, 3, 28, 23, 15)],
    ),
    ("0 2 * * *", BERLIN, U(2027, 3, 26, 12), [U(2027, 3, 27, 1), U(2027, 3, 28, 1), U(2027, 3, 29, 0)]),
    ("30 2 * * *", BERLIN, U(2027, 3, 26), [U(2027, 3, 26, 1, 30), U(2027, 3, 27, 1, 30), U(2027, 3, 28, 1), U(2027, 3, 29, 0, 30)]),
    # Berlin fall: 02:00 CEST, (02:00 CET is the repeat: not again), 03:00 CET, 04:00 CET
    ("0 * * * *", BERLIN, U(2027, 10, 30, 23, 30), [U(2027, 10, 31, 0), U(2027, 10, 31, 2), U(2027, 10, 31, 3)]),
    ("*/30 * * * *", BERLIN, U(2027, 10, 31), [U(2027, 10, 31, 0, 30), U(2027, 10, 31, 2), U(2027, 10, 31, 2, 30)]),
    ("30 2 * * *", BERLIN, U(2027, 10, 29), [U(2027, 10, 29, 0, 30), U(2027, 10, 30, 0, 30), U(2027, 10, 31, 0, 30), U(2027, 11, 1, 1, 30)]),
    # New York
    ("0 * * * *", NEW_YORK, U(2027, 3, 14, 5, 30), [U(2027, 3, 14, 6), U(2027, 3, 14, 7), U(2027, 3, 14, 8)]),
    ("0 * * * *", NEW_YORK, U(2027, 11, 7, 3, 30), [U(2027, 11, 7, 4), U(2027, 11, 7, 5), U(2027, 11, 7, 7), U(2027, 11, 7, 8)]),
    ("0 9 * * mon-fri", NEW_YORK, U(2027, 3, 11), [U(2027, 3, 11, 14), U(2027, 3, 12, 14), U(2027, 3, 15, 13), U(2027, 3, 16, 13)]),
    # Sydney
    ("0 * * * *", SYDNEY, U(2027, 10, 2, 14, 30), [U(2027, 10, 2, 15), U(2027, 10, 2, 16), U(2027, 10, 2, 17)]),
    ("0 * * * *", SYDNEY, U(2027, 4, 3, 14, 30), [U(2027, 4, 3, 15), U(2027, 4, 3, 17), U(2027, 4, 3, 18)]),
    # London
    ("0 * * * *", LONDON, U(2027, 3, 27, 23, 30), [U(2027, 3, 28, 0), U(2027, 3, 28, 1), U(2027, 3, 28, 2)]),
    ("0 * * * *", LONDON, U(2027, 10, 30, 23, 30), [U(2027, 10, 31, 0), U(2027, 10, 31, 2), U(2027, 10, 31, 3)]),
    # UTC never shifts
    ("0 * * * *", "UTC", U(2027, 3, 28, 0, 30), [U(2027, 3, 28, 1), U(2027, 3, 28, 2), U(2027, 3, 28, 3)]),
]


@pytest.mark.parametrize(
    "expr, tz_name, after, expected",
    CRON_SEQUENCES,
    ids=[f"{r[1]} {r[0]} from {r[2]:%m-%d %H:%M}" for r in CRON_SEQUENCES],
)
def test_cron_sequences_around_dst(expr, tz_name, after, expected):
    times = sequence(expr, tz_name, after, len(expected))
    assert times == expected
    assert len(set(times)) == len(times)


# Brute force: every wall minute of a few days around each change, matched by a hand-written predicate,
# a wall time in a gap moved to the first wall time after the gap, a repeated one taken at fold=0.
PREDICATES = {
    "*/30 * * * *": lambda w: w.minute in (0, 30),
    "0 * * * *": lambda w: w.minute == 0,
    "0 2 * * *": lambda w: (w.hour, w.minute) == (2, 0),
    "30 2 * * *": lambda w: (w.hour, w.minute) == (2, 30),
    "15 1,2,3 * * *": lambda w: w.minute == 15 and w.hour in (1, 2, 3),
    "*/10 1-3 * * 0": lambda w: w.minute % 10 == 0 and 1 <= w.hour <= 3 and w.isoweekday() == 7,
}
CHANGE_DAYS = {
    BERLIN: [date(2027, 3, 28), date(2027, 10, 31)],
    LONDON: [date(2027, 3, 28), date(2027, 10, 31)],
    NEW_YORK: [date(2027, 3, 14), date(2027, 11, 7)],
    SYDNEY: [date(2027, 4, 4), date(2027, 10, 3)],
    LORD_HOWE: [date(2027, 4, 4), date(2027, 10, 3)],
    "UTC": [date(2027, 3, 28)],
}


def _real(wall: datetime, tz) -> bool:
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def oracle(expr: str, tz, first_wall: datetime, last_wall: datetime) -> list[datetime]:
    matches, wall = set(), first_wall
    while wall <= last_wall:
        if PREDICATES[expr](wall):
            real = wall
            while not _real(real, tz):
                real += timedelta(minutes=1)
            matches.add(real.replace(tzinfo=tz, fold=0).astimezone(UTC))
        wall += timedelta(minutes=1)
    return sorted(matches)


@pytest.mark.parametrize("tz_name", list(CHANGE_DAYS))
@pytest.mark.parametrize("expr", list(PREDICATES))
def test_cron_next_agrees_with_brute_force_around_each_change(expr, tz_name):
    tz = tz_of(tz_name)
    for day in CHANGE_DAYS[tz_name]:
        first_wall, last_wall = datetime.combine(day, datetime.min.time()) - timedelta(days=1), datetime.combine(
            day, datetime.min.time()
        ) + timedelta(days=2)
        expected = oracle(expr, tz, first_wall, last_wall)
        after = first_wall.replace(tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)
        times = []
        while True:
            after = cron_next(expr, tz, after)
            assert after is not None
            if after > expected[-1]:
                break
            times.append(after)
        assert times == expected


# ---------------------------------------------------------------------------------------------
# every_next: anchored, never drifts
# ---------------------------------------------------------------------------------------------

A = U(2027, 1, 1)
EVERY = [
    (60, A, A + timedelta(seconds=60)),  # strictly after
    (60, A - timedelta(seconds=1), A),  # before the anchor: the anchor
    (60, A - timedelta(days=10), A),
    (60, A + timedelta(seconds=59, microseconds=999999), A + timedelta(seconds=60)),
    (60, A + timedelta(seconds=60), A + timedelta(seconds=120)),
    (300, A + timedelta(seconds=10817.5), A + timedelta(hours=3, minutes=5)),  # 36 periods passed -> the 37th
    (7, A + timedelta(days=10, seconds=1), A + timedelta(days=10, seconds=3)),  # 864001 // 7 + 1 = 123429
    (3600, A + timedelta(hours=1) - timedelta(microseconds=1), A + timedelta(hours=1)),
    (86400, A + timedelta(days=100, microseconds=1), A + timedelta(days=101)),
    (1.5, A + timedelta(seconds=3), A + timedelta(seconds=4.5)),
    # sub-second periods
    (0.25, A + timedelta(seconds=1.1), A + timedelta(seconds=1.25)),
    (0.1, A + timedelta(seconds=0.35), A + timedelta(seconds=0.4)),
    (0.001, A + timedelta(microseconds=500), A + timedelta(milliseconds=1)),
    (0.5, A + timedelta(days=3, seconds=0.5), A + timedelta(days=3, seconds=1)),
    (0.000001, A + timedelta(microseconds=41), A + timedelta(microseconds=42)),
    # a late fire does not move the grid
    (60, A + timedelta(seconds=60 * 3.5), A + timedelta(seconds=240)),
]


@pytest.mark.parametrize("period, after, expected", EVERY, ids=[f"{r[0]}s after A{(r[1] - A).total_seconds():+}" for r in EVERY])
def test_every_next(period, after, expected):
    assert every_next(A, period, after) == expected


def test_every_next_keeps_the_anchor_microseconds_and_zone():
    anchor = datetime(2027, 3, 27, 12, 0, 0, 123456, tzinfo=zone(BERLIN))  # 11:00:00.123456 UTC
    assert every_next(anchor, 1, U(2027, 3, 27, 11, 0, 10)) == U(2027, 3, 27, 11, 0, 10, 123456)
    # every is elapsed time: one day after 12:00 CET is 13:00 CEST across the change
    assert every_next(anchor, 86400, anchor) == U(2027, 3, 28, 11, 0, 0, 123456)


@pytest.mark.parametrize("lateness", [0.0, 0.3, 0.999999, 0.5])
def test_every_never_drifts_with_late_fires(lateness):
    """A beat that fires each due time late, and asks for the next from when it fired, stays on the grid."""
    due = every_next(A, 1, A - timedelta(microseconds=1))
    assert due == A
    for k in range(1, 1001):
        fired_at = due + timedelta(seconds=lateness * ((k * 7) % 10) / 10)
        due = every_next(A, 1, fired_at)
        assert due == A + timedelta(seconds=k)
    assert due == A + timedelta(seconds=1000)


def test_every_sub_second_steps_accumulate_no_float_error():
    moment = A
    for _ in range(1000):
        moment = every_next(A, 0.1, moment)
    assert moment == A + timedelta(seconds=100)
    moment = A
    for _ in range(1000):
        moment = every_next(A, 0.001, moment)
    assert moment == A + timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# local_to_utc / in_gap / is_repeated / as_local
# ---------------------------------------------------------------------------------------------

WALLS = [
    # tz, naive wall time, UTC instant, in a gap, repeated
    (BERLIN, datetime(2027, 3, 28, 1, 59), U(2027, 3, 28, 0, 59), False, False),
    (BERLIN, datetime(2027, 3, 28, 2, 0), U(2027, 3, 28, 1), True, False),
    (BERLIN, datetime(2027, 3, 28, 2, 30), U(2027, 3, 28, 1), True, False),
    (BERLIN, datetime(2027, 3, 28, 2, 30, 45), U(2027, 3, 28, 1), True, False),
    (BERLIN, datetime(2027, 3, 28, 2, 59), U(2027, 3, 28, 1), True, False),
    (BERLIN, datetime(2027, 3, 28, 3, 0), U(2027, 3, 28, 1), False, False),
    (BERLIN, datetime(2027, 10, 31, 1, 59), U(2027, 10, 30, 23, 59), False, False),
    (BERLIN, datetime(2027, 10, 31, 2, 0), U(2027, 10, 31, 0), False, True),
    (BERLIN, datetime(2027, 10, 31, 2, 30), U(2027, 10, 31, 0, 30), False, True),
    (BERLIN, datetime(2027, 10, 31, 2, 59), U(2027, 10, 31, 0, 59), False, True),
    (BERLIN, datetime(2027, 10, 31, 3, 0), U(2027, 10, 31, 2), False, False),
    (BERLIN, datetime(2027, 1, 15, 12, 0), U(2027, 1, 15, 11), False, False),
    (BERLIN, datetime(2027, 7, 15, 12, 0), U(2027, 7, 15, 10), False, False),
    (NEW_YORK, datetime(2027, 3, 14, 2, 30), U(2027, 3, 14, 7), True, False),
    (NEW_YORK, datetime(2027, 3, 14, 1, 59), U(2027, 3, 14, 6, 59), False, False),
    (NEW_YORK, datetime(2027, 11, 7, 0, 59), U(2027, 11, 7, 4, 59), False, False),
    (NEW_YORK, datetime(2027, 11, 7, 1, 30), U(2027, 11, 7, 5, 30), False, True),
    (NEW_YORK, datetime(2027, 11, 7, 2, 0), U(2027, 11, 7, 7), False, False),
    (SYDNEY, datetime(2027, 10, 3, 2, 30), U(2027, 10, 2, 16), True, False),
    (SYDNEY, datetime(2027, 4, 4, 2, 30), U(2027, 4, 3, 15, 30), False, True),
    (LONDON, datetime(2027, 3, 28, 1, 30), U(2027, 3, 28, 1), True, False),
    (LONDON, datetime(2027, 10, 31, 1, 30), U(2027, 10, 31, 0, 30), False, True),
    (LORD_HOWE, datetime(2027, 10, 3, 2, 15), U(2027, 10, 2, 15, 30), True, False),
    (LORD_HOWE, datetime(2027, 10, 3, 2, 30), U(2027, 10, 2, 15, 30), False, False),
    (LORD_HOWE, datetime(2027, 4, 4, 1, 45), U(2027, 4, 3, 14, 45), False, True),
    (LORD_HOWE, datetime(2027, 4, 4, 1, 15), U(2027, 4, 3, 14, 15), False, False),
    ("UTC", datetime(2027, 3, 28, 2, 30), U(2027, 3, 28, 2, 30), False, False),
    ("UTC", datetime(2027, 10, 31, 2, 30), U(2027, 10, 31, 2, 30), False, False),
]


@pytest.mark.parametrize("tz_name, wall, instant, gap, repeated", WALLS, ids=[f"{r[0]} {r[1]:%m-%d %H:%M:%S}" for r in WALLS])
def test_local_to_utc_in_gap_is_repeated(tz_name, wall, instant, gap, repeated):
    tz = tz_of(tz_name)
    assert local_to_utc(wall, tz) == instant
    assert in_gap(wall, tz) is gap
    assert is_repeated(wall, tz) is repeated
    # compared in UTC: by PEP 495 a time in a fold never compares equal to another zone's
    assert as_local(wall, tz).astimezone(UTC) == instant
    assert as_local(wall, tz).tzinfo is tz
    assert as_local(wall, tz).fold == 0


def test_as_local_of_an_aware_moment_converts_it():
    moment = as_local(U(2027, 7, 1, 10), zone(BERLIN))
    assert (moment.hour, moment.utcoffset()) == (12, 2 * H)


# ---------------------------------------------------------------------------------------------
# dst_transitions
# ---------------------------------------------------------------------------------------------

TRANSITIONS = [
    (BERLIN, U(2027, 1, 1), 400, [(U(2027, 3, 28, 1), 1 * H, 2 * H), (U(2027, 10, 31, 1), 2 * H, 1 * H)]),
    (LONDON, U(2027, 1, 1), 400, [(U(2027, 3, 28, 1), 0 * H, 1 * H), (U(2027, 10, 31, 1), 1 * H, 0 * H)]),
    (NEW_YORK, U(2027, 1, 1), 400, [(U(2027, 3, 14, 7), -5 * H, -4 * H), (U(2027, 11, 7, 6), -4 * H, -5 * H)]),
    (SYDNEY, U(2027, 1, 1), 400, [(U(2027, 4, 3, 16), 11 * H, 10 * H), (U(2027, 10, 2, 16), 10 * H, 11 * H)]),
    (
        LORD_HOWE,
        U(2027, 1, 1),
        400,
        [(U(2027, 4, 3, 15), 11 * H, 10.5 * H), (U(2027, 10, 2, 15, 30), 10.5 * H, 11 * H)],
    ),
    (BERLIN, U(2027, 4, 1), 365, [(U(2027, 10, 31, 1), 2 * H, 1 * H), (U(2028, 3, 26, 1), 1 * H, 2 * H)]),
    (BERLIN, U(2027, 4, 1), 30, []),
    ("UTC", U(2027, 1, 1), 400, []),
    ("Asia/Tokyo", U(2027, 1, 1), 400, []),
]


@pytest.mark.parametrize("tz_name, start, days, expected", TRANSITIONS, ids=[f"{r[0]} {r[1]:%Y-%m-%d}+{r[2]}d" for r in TRANSITIONS])
def test_dst_transitions(tz_name, start, days, expected):
    assert list(dst_transitions(tz_of(tz_name), start, days)) == expected


def test_dst_transitions_default_window_is_400_days():
    assert [t[0] for t in dst_transitions(zone(NEW_YORK), U(2027, 1, 1))] == [U(2027, 3, 14, 7), U(2027, 11, 7, 6)]


# ---------------------------------------------------------------------------------------------
# checks.dst_warnings
# ---------------------------------------------------------------------------------------------


def skip(wall: str, day: str, tz_name: str, jump_from: str, jump_to: str) -> str:
    return (
        f"{wall} does not exist on {day} in {tz_name} (clocks jump from {jump_from} to {jump_to}); "
        f"that run fires once, at {jump_to}"
    )


def repeat(wall: str, day: str, tz_name: str, back_from: str, back_to: str) -> str:
    return f"{wall} happens twice on {day} in {tz_name} (clocks go back from {back_from} to {back_to}); it fires once, at the first"


DST_WARNINGS = [
    (
        "30 2 * * *",
        BERLIN,
        U(2027, 1, 1),
        (skip("02:30", "2027-03-28", BERLIN, "02:00", "03:00"), repeat("02:30", "2027-10-31", BERLIN, "03:00", "02:00")),
    ),
    (
        "*/15 * * * *",
        BERLIN,
        U(2027, 1, 1),
        (skip("02:00", "2027-03-28", BERLIN, "02:00", "03:00"), repeat("02:00", "2027-10-31", BERLIN, "03:00", "02:00")),
    ),
    (
        "30 2 * * 0",  # both changes fall on Sundays
        BERLIN,
        U(2027, 1, 1),
        (skip("02:30", "2027-03-28", BERLIN, "02:00", "03:00"), repeat("02:30", "2027-10-31", BERLIN, "03:00", "02:00")),
    ),
    ("30 2 * * 1", BERLIN, U(2027, 1, 1), ()),  # Mondays only: never affected
    ("30 2 */2 * *", BERLIN, U(2027, 1, 1), (repeat("02:30", "2027-10-31", BERLIN, "03:00", "02:00"),)),  # odd days
    ("30 2 28 3 *", BERLIN, U(2027, 1, 1), (skip("02:30", "2027-03-28", BERLIN, "02:00", "03:00"),)),
    ("0 12 * * *", BERLIN, U(2027, 1, 1), ()),
    ("30 3 * * *", BERLIN, U(2027, 1, 1), ()),
    ("30 1 * * *", BERLIN, U(2027, 1, 1), ()),
    ("30 2 * * *", "UTC", U(2027, 1, 1), ()),
    ("*/15 * * * *", "UTC", U(2027, 1, 1), ()),
    (
        "30 2 * * *",  # from April: the repeat comes first in time, the skip is next spring
        BERLIN,
        U(2027, 4, 1),
        (skip("02:30", "2028-03-26", BERLIN, "02:00", "03:00"), repeat("02:30", "2027-10-31", BERLIN, "03:00", "02:00")),
    ),
    ("30 2 * * *", NEW_YORK, U(2027, 1, 1), (skip("02:30", "2027-03-14", NEW_YORK, "02:00", "03:00"),)),
    ("30 1 * * *", NEW_YORK, U(2027, 1, 1), (repeat("01:30", "2027-11-07", NEW_YORK, "02:00", "01:00"),)),
    (
        "30 2 * * *",
        SYDNEY,
        U(2027, 1, 1),
        (skip("02:30", "2027-10-03", SYDNEY, "02:00", "03:00"), repeat("02:30", "2027-04-04", SYDNEY, "03:00", "02:00")),
    ),
    (
        "30 1 * * *",
        LONDON,
        U(2027, 1, 1),
        (skip("01:30", "2027-03-28", LONDON, "01:00", "02:00"), repeat("01:30", "2027-10-31", LONDON, "02:00", "01:00")),
    ),
    ("15 2 * * *", LORD_HOWE, U(2027, 1, 1), (skip("02:15", "2027-10-03", LORD_HOWE, "02:00", "02:30"),)),
    ("45 1 * * *", LORD_HOWE, U(2027, 1, 1), (repeat("01:45", "2027-04-04", LORD_HOWE, "02:00", "01:30"),)),
]


@pytest.mark.parametrize(
    "expr, tz_name, start, expected", DST_WARNINGS, ids=[f"{r[1]} {r[0]} from {r[2]:%Y-%m-%d}" for r in DST_WARNINGS]
)
def test_dst_warnings(expr, tz_name, start, expected):
    assert dst_warnings(expr, tz_name, start) == expected


# ---------------------------------------------------------------------------------------------
# next_fire: at, start_at / end_at, every anchors, solar
# ---------------------------------------------------------------------------------------------

NEXT_FIRE = [
    # `at`: naive means the schedule's timezone; aware is taken as written
    ({"at": "2027-06-01T12:00:00"}, BERLIN, U(2027, 1, 1), U(2027, 6, 1, 10)),
    ({"at": "2027-06-01T12:00:00"}, BERLIN, U(2027, 6, 1, 9, 59, 59), U(2027, 6, 1, 10)),
    ({"at": "2027-06-01T12:00:00"}, BERLIN, U(2027, 6, 1, 10), None),  # strictly after
    ({"at": "2027-06-01T12:00:00"}, BERLIN, U(2027, 7, 1), None),
    ({"at": "2027-06-01T12:00:00"}, "UTC", U(2027, 1, 1), U(2027, 6, 1, 12)),
    ({"at": "2027-06-01T12:00:00"}, NEW_YORK, U(2027, 1, 1), U(2027, 6, 1, 16)),
    ({"at": "2027-06-01T12:00:00+00:00"}, BERLIN, U(2027, 1, 1), U(2027, 6, 1, 12)),
    ({"at": "2027-06-01T12:00:00-04:00"}, BERLIN, U(2027, 1, 1), U(2027, 6, 1, 16)),
    ({"at": "2027-03-28T02:30:00"}, BERLIN, U(2027, 1, 1), U(2027, 3, 28, 1)),  # in the gap: at its end
    ({"at": "2027-10-31T02:30:00"}, BERLIN, U(2027, 1, 1), U(2027, 10, 31, 0, 30)),  # repeated: the first
    ({"at": "2027-03-14T02:30:00"}, NEW_YORK, U(2027, 1, 1), U(2027, 3, 14, 7)),
    ({"at": "2027-11-07T01:30:00"}, NEW_YORK, U(2027, 1, 1), U(2027, 11, 7, 5, 30)),
    ({"at": "2027-06-01T12:00:00", "end_at": "2027-05-01T00:00:00"}, BERLIN, U(2027, 1, 1), None),
    # cron with start_at / end_at (naive: in the schedule's timezone; both inclusive)
    ({"cron": "0 * * * *", "start_at": "2027-05-01T10:30:00"}, BERLIN, U(2027, 1, 1), U(2027, 5, 1, 9)),
    ({"cron": "0 * * * *", "start_at": "2027-05-01T10:00:00"}, BERLIN, U(2027, 1, 1), U(2027, 5, 1, 8)),
    ({"cron": "0 * * * *", "start_at": "2027-05-01T10:00:00"}, BERLIN, U(2027, 6, 1, 8, 30), U(2027, 6, 1, 9)),
    ({"cron": "0 * * * *", "start_at": "2027-05-01T10:00:00+00:00"}, BERLIN, U(2027, 1, 1), U(2027, 5, 1, 10)),
    ({"cron": "0 0 * * *", "end_at": "2027-05-03T00:00:00"}, BERLIN, U(2027, 5, 2), U(2027, 5, 2, 22)),
    ({"cron": "0 0 * * *", "end_at": "2027-05-03T00:00:00"}, BERLIN, U(2027, 5, 2, 22), None),
    ({"cron": "0 0 * * *", "end_at": "2027-05-02T23:59:00"}, BERLIN, U(2027, 5, 2), None),
    ({"cron": "30 2 * * *", "start_at": "2027-03-28T00:00:00"}, BERLIN, U(2027, 1, 1), U(2027, 3, 28, 1)),
    # every: anchored to start_at (naive in the zone), else to the anchor given, else to `after`
    ({"every": "1h", "start_at": "2027-05-01T10:30:00"}, BERLIN, U(2027, 1, 1), U(2027, 5, 1, 8, 30)),
    ({"every": "1h", "start_at": "2027-05-01T10:30:00"}, BERLIN, U(2027, 6, 1, 9), U(2027, 6, 1, 9, 30)),
    ({"every": "1h", "start_at": "2027-05-01T10:30:00"}, BERLIN, U(2027, 6, 1, 9, 30), U(2027, 6, 1, 10, 30)),
    ({"every": "1h", "start_at": "2027-03-28T02:30:00"}, BERLIN, U(2027, 1, 1), U(2027, 3, 28, 1)),  # start in a gap
    ({"every": "1h", "start_at": "2027-03-28T02:30:00"}, BERLIN, U(2027, 3, 28, 1), U(2027, 3, 28, 2)),
    ({"every": "90m", "start_at": "2027-01-01T00:00:00", "end_at": "2027-01-01T06:00:00"}, "UTC", U(2027, 1, 1, 4, 30), U(2027, 1, 1, 6)),
    ({"every": "90m", "start_at": "2027-01-01T00:00:00", "end_at": "2027-01-01T06:00:00"}, "UTC", U(2027, 1, 1, 6), None),
    ({"every": "5m"}, BERLIN, U(2027, 1, 1, 12), U(2027, 1, 1, 12, 5)),
]


@pytest.mark.parametrize("fields, tz_name, after, expected", NEXT_FIRE, ids=[f"{r[0]} {r[1]} after {r[2]:%m-%d %H:%M:%S}" for r in NEXT_FIRE])
def test_next_fire(fields, tz_name, after, expected):
    assert next_fire(schedule(**fields), tz_name, after) == expected


@pytest.mark.parametrize(
    "anchor, after, expected",
    [
        (U(2027, 1, 1, 0, 0, 7), U(2027, 1, 1, 0, 5), U(2027, 1, 1, 0, 5, 7)),
        (U(2027, 1, 1, 0, 0, 7), U(2026, 12, 31), U(2027, 1, 1, 0, 0, 7)),
        (U(2027, 1, 1, 0, 0, 7), U(2027, 1, 1, 0, 0, 7), U(2027, 1, 1, 0, 0, 17)),
    ],
)
def test_next_fire_every_counts_from_the_anchor(anchor, after, expected):
    assert next_fire(schedule(every="10s"), "UTC", after, anchor) == expected


def test_next_fire_every_start_at_wins_over_the_anchor():
    spec = schedule(every="10s", start_at="2027-01-01T00:00:03")
    assert next_fire(spec, "UTC", U(2027, 1, 1, 0, 5), anchor=U(2027, 1, 1, 0, 0, 7)) == U(2027, 1, 1, 0, 5, 3)


def test_schedules_that_share_a_timing_share_their_fire_times_and_only_theirs():
    """next_fire is computed once per timing and `after` (a beat starting with 100,000 schedules in a few dozen
    timings); what tells schedules apart still does: the anchor of `every`, the zone, start_at and end_at."""
    after = U(2027, 1, 1, 0, 5)
    nightly = schedule(cron="0 3 * * *", args=[1])
    timing._next_fire.cache_clear()
    hits = timing._next_fire.cache_info().hits
    first = next_fire(nightly, "Europe/Berlin", after, anchor=U(2026, 1, 1))
    again = next_fire(schedule(cron="0 3 * * *", args=[2]), "Europe/Berlin", after, anchor=U(2026, 6, 1))
    assert first == again == U(2027, 1, 1, 2)  # a cron ignores the anchor: one computation for both
    assert timing._next_fire.cache_info().hits == hits + 1
    assert next_fire(nightly, "UTC", after) == U(2027, 1, 1, 3)
    assert next_fire(schedule(cron="0 3 * * *", end_at="2027-01-01T02:00:00"), "UTC", after) is None
    assert next_fire(schedule(cron="0 3 * * *", start_at="2027-01-02T00:00:00"), "UTC", after) == U(2027, 1, 2, 3)
    every = schedule(every="10s")
    assert next_fire(every, "UTC", after, U(2027, 1, 1, 0, 0, 7)) == U(2027, 1, 1, 0, 5, 7)
    assert next_fire(every, "UTC", after, U(2027, 1, 1, 0, 0, 3)) == U(2027, 1, 1, 0, 5, 3)
    started = schedule(every="10s", start_at="2027-01-01T00:00:03")  # start_at wins: the anchor is not asked
    assert next_fire(started, "UTC", after, U(2027, 1, 1, 0, 0, 7)) == next_fire(started, "UTC", after) == U(
        2027, 1, 1, 0, 5, 3)


FIRE_TIMES = [
    (
        {"every": "90m", "start_at": "2027-01-01T00:00:00", "end_at": "2027-01-01T06:00:00"},
        "UTC",
        U(2026, 12, 31),
        [U(2027, 1, 1, 0), U(2027, 1, 1, 1, 30), U(2027, 1, 1, 3), U(2027, 1, 1, 4, 30), U(2027, 1, 1, 6)],
    ),
    ({"at": "2027-03-28T02:30:00"}, BERLIN, U(2027, 1, 1), [U(2027, 3, 28, 1)]),
    ({"at": "2027-03-28T02:30:00"}, BERLIN, U(2027, 3, 28, 1), []),
    (
        {"cron": "30 2 * * *", "start_at": "2027-10-30T00:00:00", "end_at": "2027-11-02T00:00:00"},
        BERLIN,
        U(2027, 1, 1),
        [U(2027, 10, 30, 0, 30), U(2027, 10, 31, 0, 30), U(2027, 11, 1, 1, 30)],
    ),
    (
        {"cron": "0 9 * * mon-fri", "end_at": "2027-03-16T12:00:00"},
        NEW_YORK,
        U(2027, 3, 11),
        [U(2027, 3, 11, 14), U(2027, 3, 12, 14), U(2027, 3, 15, 13), U(2027, 3, 16, 13)],
    ),
    (
        {"every": "1d", "start_at": "2027-03-26T12:00:00", "end_at": "2027-03-30T00:00:00"},
        BERLIN,  # elapsed days: 12:00 CET becomes 13:00 CEST
        U(2027, 1, 1),
        [U(2027, 3, 26, 11), U(2027, 3, 27, 11), U(2027, 3, 28, 11), U(2027, 3, 29, 11)],
    ),
]


@pytest.mark.parametrize("fields, tz_name, after, expected", FIRE_TIMES, ids=[f"{r[0]}" for r in FIRE_TIMES])
def test_fire_times(fields, tz_name, after, expected):
    assert list(islice(fire_times(schedule(**fields), tz_name, after), len(expected) + 5)) == expected


def test_fire_times_every_without_anchor_counts_from_after():
    times = list(islice(fire_times(schedule(every="45s"), "UTC", U(2027, 1, 1, 0, 0, 0, 500)), 3))
    assert times == [U(2027, 1, 1, 0, 0, 45, 500), U(2027, 1, 1, 0, 1, 30, 500), U(2027, 1, 1, 0, 2, 15, 500)]


# ---------------------------------------------------------------------------------------------
# solar: compared with an independent implementation of the NOAA sunrise equation, and with
# published times (timeanddate.com, Berlin: 2027-06-21 sunrise 04:43 CEST, sunset 21:33 CEST;
# 2027-12-21 sunrise 08:15 CET, sunset 15:54 CET)
# ---------------------------------------------------------------------------------------------

BERLIN_LAT, BERLIN_LON = 52.52, 13.405
LONGYEARBYEN_LAT, LONGYEARBYEN_LON = 78.2232, 15.6267


def noaa(event: str, latitude: float, longitude: float, day: date) -> datetime | None:
    """The sunrise equation as in Wikipedia's "Sunrise equation" (about a minute accurate); None when
    the sun does not cross the horizon that day."""
    n = (day - date(2000, 1, 1)).days  # ceil(J_date - 2451545.0 + 0.0008): a whole day number
    j_star = n - longitude / 360
    m = (357.5291 + 0.98560028 * j_star) % 360
    rad = math.radians
    c = 1.9148 * math.sin(rad(m)) + 0.02 * math.sin(rad(2 * m)) + 0.0003 * math.sin(rad(3 * m))
    ecliptic = (m + c + 180 + 102.9372) % 360
    transit = 2451545.0 + j_star + 0.0053 * math.sin(rad(m)) - 0.0069 * math.sin(rad(2 * ecliptic))
    declination = math.asin(math.sin(rad(ecliptic)) * math.sin(rad(23.4397)))
    cos_omega = (math.sin(rad(-0.833)) - math.sin(rad(latitude)) * math.sin(declination)) / (
        math.cos(rad(latitude)) * math.cos(declination)
    )
    if event == "solar_noon":
        julian = transit
    elif not -1 <= cos_omega <= 1:
        return None
    else:
        omega = math.degrees(math.acos(cos_omega))
        julian = transit - omega / 360 if event == "sunrise" else transit + omega / 360
    return U(2000, 1, 1, 12) + timedelta(days=julian - 2451545.0)


SOLAR_BERLIN = [
    ("sunrise", U(2027, 6, 20, 12), datetime(2027, 6, 21, 4, 43, tzinfo=zone(BERLIN))),
    ("sunset", U(2027, 6, 21), datetime(2027, 6, 21, 21, 33, tzinfo=zone(BERLIN))),
    ("sunrise", U(2027, 12, 20, 12), datetime(2027, 12, 21, 8, 15, tzinfo=zone(BERLIN))),
    ("sunset", U(2027, 12, 21), datetime(2027, 12, 21, 15, 54, tzinfo=zone(BERLIN))),
]


@pytest.mark.parametrize("event, after, published", SOLAR_BERLIN, ids=[f"{r[0]} {r[2]:%m-%d}" for r in SOLAR_BERLIN])
def test_solar_berlin_matches_published_and_independent_times(event, after, published):
    spec = schedule(solar={"event": event, "latitude": BERLIN_LAT, "longitude": BERLIN_LON})
    moment = next_fire(spec, BERLIN, after)
    assert moment is not None and moment.tzinfo is not None
    assert abs(moment - published) <= timedelta(minutes=3)
    independent = noaa(event, BERLIN_LAT, BERLIN_LON, published.date())
    assert independent is not None and abs(moment - independent) <= timedelta(minutes=3)
    assert moment.microsecond == 0


@pytest.mark.parametrize("event", ["sunrise", "sunset", "solar_noon"])
@pytest.mark.parametrize("day", [date(2027, 3, 20), date(2027, 6, 21), date(2027, 9, 23), date(2027, 12, 21)])
def test_solar_next_agrees_with_the_sunrise_equation(event, day):
    expected = noaa(event, BERLIN_LAT, BERLIN_LON, day)
    assert expected is not None
    moment = solar_next(event, BERLIN_LAT, BERLIN_LON, expected - timedelta(hours=1))
    assert moment is not None and abs(moment - expected) <= timedelta(minutes=3)


def _first_noaa_day(event: str, start: date) -> date:
    day = start
    while noaa(event, LONGYEARBYEN_LAT, LONGYEARBYEN_LON, day) is None:
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize(
    "event, after, earliest, latest",
    [
        ("sunrise", U(2027, 11, 15), date(2028, 2, 10), date(2028, 2, 25)),  # polar night ends mid-February
        ("sunset", U(2027, 11, 15), date(2028, 2, 10), date(2028, 2, 25)),
        ("sunrise", U(2027, 5, 1), date(2027, 8, 15), date(2027, 9, 1)),  # midnight sun ends late August
        ("sunset", U(2027, 5, 1), date(2027, 8, 15), date(2027, 9, 1)),
    ],
)
def test_solar_polar_night_and_midnight_sun_wait_months_not_forever(event, after, earliest, latest):
    spec = schedule(solar={"event": event, "latitude": LONGYEARBYEN_LAT, "longitude": LONGYEARBYEN_LON})
    moment = next_fire(spec, "Europe/Oslo", after)
    assert moment is not None
    assert earliest <= moment.date() <= latest
    independent = _first_noaa_day(event, after.date())
    assert abs((moment.date() - independent).days) <= 2


def test_solar_fire_times_are_one_a_day_and_increasing():
    """Regression: the second-rounded time used to be returned again for an `after` equal to it."""
    spec = schedule(solar={"event": "sunrise", "latitude": BERLIN_LAT, "longitude": BERLIN_LON})
    times = list(islice(fire_times(spec, BERLIN, U(2027, 6, 19, 12)), 4))
    assert [t.date() for t in times] == [date(2027, 6, 20), date(2027, 6, 21), date(2027, 6, 22), date(2027, 6, 23)]
    for moment in times:
        expected = noaa("sunrise", BERLIN_LAT, BERLIN_LON, moment.date())
        assert expected is not None and abs(moment - expected) <= timedelta(minutes=3)
    # and asking again from a returned time moves on to the next day
    assert solar_next("sunrise", BERLIN_LAT, BERLIN_LON, times[0]) == times[1]


def test_solar_respects_end_at():
    spec = schedule(
        solar={"event": "sunrise", "latitude": BERLIN_LAT, "longitude": BERLIN_LON}, end_at="2027-06-21T00:00:00"
    )
    assert len(list(islice(fire_times(spec, BERLIN, U(2027, 6, 19, 12)), 5))) == 1
