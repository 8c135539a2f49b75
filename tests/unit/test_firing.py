"""Table tests of what beat fires: `to_fire` / `due_times` (gitbeat.timing), `Entry.advance()` and `task_id`.

Every expected value below was worked out by hand from the calendar, the DST rules and
the catchup rules of SPEC §2 and §6, not read off the code. Calendar facts used:

- 2026 is not a leap year (2026-01-01 + 365 days = 2027-01-01); 2024 is; 2027-02-28 is a
  Sunday (2027-03-01 is a Monday); January + February + March 2027 = 31 + 28 + 31 = 90 days.
- Europe/Berlin (CET +1, CEST +2): forward 2027-03-28 01:00 UTC (02:00 -> 03:00 local),
  back 2027-10-31 01:00 UTC (03:00 -> 02:00 local).
- America/New_York (EST -5, EDT -4): back 2027-11-07 06:00 UTC (02:00 EDT -> 01:00 EST).
- 1950-01-01 .. 2000-01-01 holds 12 leap days (1952 .. 1996), so 1950-01-01 + 18,250 days
  (50 years of 365 days) is 1999-12-20.

The rules under test: GRACE is 1 s; a due time at or after `now - GRACE - jitter` is on time
and always fires; an older one is missed and fires by `catchup`: `latest` the newest once,
`skip` none, `all` each, oldest first, at most the newest 100; `catchup_window` drops missed
ones older than `now - window`. Due times are in (after, now]. Nothing here reads the clock.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gitbeat import timing
from gitbeat.scheduler import Entry, task_id
from gitbeat.spec import ScheduleSpec
from gitbeat.timing import MAX_CATCHUP, due_times, to_fire

BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
US = timedelta(microseconds=1)


def U(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """An aware UTC instant."""
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def schedule(**fields) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"task": "t", "timezone": "UTC", **fields})


A = U(2027, 1, 1)  # the anchor of most `every` cases


def hourly(**fields) -> ScheduleSpec:
    return schedule(every="1h", **fields)


# ---------------------------------------------------------------------------------------------
# to_fire: on time (GRACE plus jitter) always fires, whatever the catchup mode
# ---------------------------------------------------------------------------------------------

# every: 1h anchored at 00:00; the cursor is 04:30, so 05:00 is the only due time in range.
ON_TIME = [
    # (extra fields, now, {mode: expected})
    pytest.param({}, U(2027, 1, 1, 5), [U(2027, 1, 1, 5)], [U(2027, 1, 1, 5)], id="due-exactly-now"),
    pytest.param({}, U(2027, 1, 1, 5, 0, 1), [U(2027, 1, 1, 5)], [U(2027, 1, 1, 5)], id="grace-boundary-1s"),
    pytest.param({}, U(2027, 1, 1, 5, 0, 1, 1), [U(2027, 1, 1, 5)], [], id="1us-past-grace-is-missed"),
    pytest.param({"jitter": "10m"}, U(2027, 1, 1, 5, 9, 59), [U(2027, 1, 1, 5)], [U(2027, 1, 1, 5)],
                 id="within-jitter"),
    pytest.param({"jitter": "10m"}, U(2027, 1, 1, 5, 10, 1), [U(2027, 1, 1, 5)], [U(2027, 1, 1, 5)],
                 id="jitter-plus-grace-boundary"),
    pytest.param({"jitter": "10m"}, U(2027, 1, 1, 5, 10, 1, 1), [U(2027, 1, 1, 5)], [], id="past-jitter-plus-grace"),
    # A window narrower than GRACE + jitter never drops an on-time due.
    pytest.param({"jitter": "10m", "catchup_window": "1m"}, U(2027, 1, 1, 5, 9, 59), [U(2027, 1, 1, 5)],
                 [U(2027, 1, 1, 5)], id="window-narrower-than-jitter"),
    pytest.param({"catchup_window": "100ms"}, U(2027, 1, 1, 5, 0, 0, 500000), [U(2027, 1, 1, 5)],
                 [U(2027, 1, 1, 5)], id="window-narrower-than-grace"),
    # 1 us past GRACE and outside a 100 ms window: missed and too old.
    pytest.param({"catchup_window": "100ms"}, U(2027, 1, 1, 5, 0, 1, 1), [], [], id="missed-outside-window"),
]


@pytest.mark.parametrize(("fields", "now", "latest_and_all", "skip"), ON_TIME)
def test_to_fire_on_time(fields, now, latest_and_all, skip):
    after = U(2027, 1, 1, 4, 30)
    for mode, expected in (("latest", latest_and_all), ("all", latest_and_all), ("skip", skip)):
        got = to_fire(hourly(catchup=mode, **fields), after, now, A)
        assert got == expected, f"catchup={mode}"


@pytest.mark.parametrize(
    ("fields", "after", "now", "expected"),
    [
        # cron: the 05:00 run of "0 * * * *", on time in every mode
        ({"cron": "0 * * * *"}, U(2027, 1, 1, 4, 30), U(2027, 1, 1, 5, 0, 0, 300000), [U(2027, 1, 1, 5)]),
        # Berlin cron at 09:00 local on a summer day is 07:00 UTC
        ({"cron": "0 9 * * *", "timezone": BERLIN}, U(2027, 7, 1), U(2027, 7, 1, 7, 0, 0, 900000), [U(2027, 7, 1, 7)]),
        # every: 10s, the due of 00:00:50 sent 0.4 s late
        ({"every": 10}, U(2027, 1, 1, 0, 0, 40, 2000), U(2027, 1, 1, 0, 0, 50, 400000), [U(2027, 1, 1, 0, 0, 50)]),
    ],
)
@pytest.mark.parametrize("mode", ["latest", "skip", "all"])
def test_to_fire_on_time_other_timings(fields, after, now, expected, mode):
    assert to_fire(schedule(catchup=mode, **fields), after, now, A) == expected


# ---------------------------------------------------------------------------------------------
# to_fire after downtime: latest / skip / all
# ---------------------------------------------------------------------------------------------

DOWNTIME = [
    # (fields, after, now, latest, all)
    pytest.param(
        {"every": "1h"}, A, U(2027, 1, 1, 5, 30),
        [U(2027, 1, 1, 5)],
        [U(2027, 1, 1, h) for h in range(1, 6)],
        id="every-1h-down-5h30",
    ),
    pytest.param(
        # Berlin is a whole hour off UTC, so the quarter hours are the same in UTC: 06:00 UTC = 08:00 CEST.
        {"cron": "*/15 * * * *", "timezone": BERLIN}, U(2027, 7, 1), U(2027, 7, 1, 6, 7),
        [U(2027, 7, 1, 6)],
        [U(2027, 7, 1) + k * 15 * M for k in range(1, 25)],
        id="cron-quarter-hours-berlin",
    ),
    pytest.param(
        {"cron": "0 3 * * *"}, U(2027, 1, 1), U(2027, 2, 10, 12),
        [U(2027, 2, 10, 3)],
        [U(2027, 1, 1, 3) + k * D for k in range(41)],  # Jan 1 .. Feb 10: 31 + 10 days
        id="cron-daily-40-days",
    ),
    pytest.param(
        {"cron": "@weekly"}, U(2027, 1, 1), U(2027, 3, 1, 12),  # Sundays Jan 3 .. Feb 28
        [U(2027, 2, 28)],
        [U(2027, 1, 3) + k * 7 * D for k in range(9)],
        id="cron-weekly-sundays",
    ),
    pytest.param(
        {"cron": "0 0 1 1 *"}, U(2020, 6, 1), U(2027, 6, 1),
        [U(2027, 1, 1)],
        [U(year, 1, 1) for year in range(2021, 2028)],
        id="cron-yearly-7-years",
    ),
    pytest.param(
        {"cron": "0 12 29 2 *"}, U(2020, 3, 1), U(2027, 6, 1),
        [U(2024, 2, 29, 12)],
        [U(2024, 2, 29, 12)],
        id="cron-feb-29-only-leap-years",
    ),
]


@pytest.mark.parametrize(("fields", "after", "now", "latest", "every_missed"), DOWNTIME)
def test_to_fire_after_downtime(fields, after, now, latest, every_missed):
    assert to_fire(schedule(catchup="latest", **fields), after, now, A) == latest
    assert to_fire(schedule(**fields), after, now, A) == latest, "latest is the default"
    assert to_fire(schedule(catchup="skip", **fields), after, now, A) == []
    assert to_fire(schedule(catchup="all", **fields), after, now, A) == every_missed


@pytest.mark.parametrize(("fields", "after", "now", "latest", "every_missed"), DOWNTIME)
def test_latest_fires_once(fields, after, now, latest, every_missed):
    """Once beat moved its cursor past what it sent, the same `now` fires nothing more."""
    spec = schedule(catchup="latest", **fields)
    (fired,) = to_fire(spec, after, now, A)
    assert to_fire(spec, fired, now, A) == []
    assert to_fire(spec, max(now, fired), now, A) == []  # the cursor beat keeps: max(now, last due)


def test_skip_fires_the_on_time_due_but_none_missed():
    # every: 1h from 00:00, down since 00:00; 01:00 .. 04:00 were missed, 05:00 is on time.
    assert to_fire(hourly(catchup="skip"), A, U(2027, 1, 1, 5, 0, 0, 400000), A) == [U(2027, 1, 1, 5)]
    assert to_fire(hourly(catchup="skip"), A, U(2027, 1, 1, 5, 30), A) == []
    # latest: the on-time 05:00 is the newest, fired once; all: every one.
    assert to_fire(hourly(catchup="latest"), A, U(2027, 1, 1, 5, 0, 0, 400000), A) == [U(2027, 1, 1, 5)]
    assert to_fire(hourly(catchup="all"), A, U(2027, 1, 1, 5, 0, 0, 400000), A) == [
        U(2027, 1, 1, h) for h in range(1, 6)
    ]


# catchup: all keeps the newest 100, oldest first.
ALL_CAPPED = [
    # (fields, after, now, first, step, count)
    pytest.param({"every": "1m"}, A, U(2027, 1, 1, 1, 40, 30), U(2027, 1, 1, 0, 1), M, 100, id="exactly-100"),
    # 101 missed (00:01 .. 01:41): 00:01 is dropped
    pytest.param({"every": "1m"}, A, U(2027, 1, 1, 1, 41, 30), U(2027, 1, 1, 0, 2), M, 100, id="101-drops-oldest"),
    # 360 missed (00:01 .. 06:00): the newest 100 are k = 261 .. 360, 261 min = 04:21
    pytest.param({"every": "1m"}, A, U(2027, 1, 1, 6, 0, 30), U(2027, 1, 1, 4, 21), M, 100, id="360-keeps-newest"),
    # 288 missed (00:05 .. next 00:00): the newest 100 end at 2027-01-02 00:00, 99 * 5 min = 8h15m earlier
    pytest.param({"cron": "*/5 * * * *"}, A, U(2027, 1, 2), U(2027, 1, 1, 15, 45), 5 * M, 100, id="cron-288"),
    # every: 7s for a day: the last k with 7k <= 86,400 is 12,342 (86,394 s = 23:59:54), the first kept
    # k = 12,243 (85,701 s = 23:48:21): anchor + k * 7 s exactly, no drift.
    pytest.param({"every": 7}, A, A + D, U(2027, 1, 1, 23, 48, 21), 7 * S, 100, id="every-7s-day"),
    pytest.param({"every": "1m"}, A, U(2027, 1, 1, 0, 5, 30), U(2027, 1, 1, 0, 1), M, 5, id="few"),
]


@pytest.mark.parametrize(("fields", "after", "now", "first", "step", "count"), ALL_CAPPED)
def test_all_fires_the_newest_100_oldest_first(fields, after, now, first, step, count):
    got = to_fire(schedule(catchup="all", **fields), after, now, A)
    assert MAX_CATCHUP == 100
    assert got == [first + k * step for k in range(count)]


# ---------------------------------------------------------------------------------------------
# catchup_window
# ---------------------------------------------------------------------------------------------

WINDOWS = [
    # every: 1h from 00:00, down until 05:30: missed 01:00 .. 05:00 (05:00 is 30 min old)
    ("latest", "1h", [U(2027, 1, 1, 5)]),
    ("latest", "30m", [U(2027, 1, 1, 5)]),  # window start 05:00: inclusive
    ("latest", "20m", []),  # the newest missed is too old: nothing, not an older one
    ("all", "2h", [U(2027, 1, 1, 4), U(2027, 1, 1, 5)]),
    ("all", "2h30m", [U(2027, 1, 1, 3), U(2027, 1, 1, 4), U(2027, 1, 1, 5)]),  # 03:00 on the edge
    ("all", "3h", [U(2027, 1, 1, 3), U(2027, 1, 1, 4), U(2027, 1, 1, 5)]),
    ("all", "10h", [U(2027, 1, 1, h) for h in range(1, 6)]),
    ("all", "20m", []),
    ("skip", "10h", []),  # a window fires nothing that skip would not
]


@pytest.mark.parametrize(("mode", "window", "expected"), WINDOWS)
def test_catchup_window(mode, window, expected):
    assert to_fire(hourly(catchup=mode, catchup_window=window), A, U(2027, 1, 1, 5, 30), A) == expected


def test_catchup_window_with_more_than_100_missed():
    # every: 1m, down 00:00 .. 06:00:30, window 30 min: dues from 05:30:30 on: 05:31 .. 06:00
    got = to_fire(schedule(every="1m", catchup="all", catchup_window="30m"), A, U(2027, 1, 1, 6, 0, 30), A)
    assert got == [U(2027, 1, 1, 5, 31) + k * M for k in range(30)]


# ---------------------------------------------------------------------------------------------
# every: anchored, never drifting
# ---------------------------------------------------------------------------------------------

EVERY_ANCHORED = [
    # (fields, anchor, after, now, expected under catchup: all)
    pytest.param(
        {"every": "1m"}, U(2027, 1, 1, 0, 0, 7), U(2027, 1, 1, 0, 2, 9, 300000), U(2027, 1, 1, 0, 5, 30),
        [U(2027, 1, 1, 0, 3, 7), U(2027, 1, 1, 0, 4, 7), U(2027, 1, 1, 0, 5, 7)],
        id="late-cursor-does-not-shift-the-phase",
    ),
    pytest.param(
        {"every": 1.5}, A, A, A + timedelta(seconds=6.2),
        [A + timedelta(seconds=s) for s in (1.5, 3.0, 4.5, 6.0)],
        id="fractional-period",
    ),
    pytest.param(
        # Anchored at 12:00 Berlin (CET) = 11:00 UTC on Mar 27: 24 h steps stay 11:00 UTC across the
        # Mar 28 spring change (13:00 CEST locally), not 12:00 wall time.
        {"every": "1d", "timezone": BERLIN}, datetime(2027, 3, 27, 12, tzinfo=ZoneInfo(BERLIN)),
        datetime(2027, 3, 27, 12, tzinfo=ZoneInfo(BERLIN)), U(2027, 3, 30, 12),
        [U(2027, 3, 28, 11), U(2027, 3, 29, 11), U(2027, 3, 30, 11)],
        id="24h-across-dst",
    ),
    pytest.param(
        # start_at is the anchor, not the first apply (the `anchor` argument)
        {"every": "1m", "start_at": "2027-01-01T00:00:05"}, U(2026, 12, 31, 13, 17, 42), A,
        U(2027, 1, 1, 0, 3, 30),
        [U(2027, 1, 1, 0, 0, 5), U(2027, 1, 1, 0, 1, 5), U(2027, 1, 1, 0, 2, 5), U(2027, 1, 1, 0, 3, 5)],
        id="start-at-anchors",
    ),
    pytest.param(
        # the anchor itself is not a due time of a schedule without start_at: the cursor starts there
        {"every": "10s"}, A, A, A + 35 * S,
        [A + 10 * S, A + 20 * S, A + 30 * S],
        id="anchor-not-fired",
    ),
    pytest.param(
        # 50 years of 365 days from 1950-01-01 is 1999-12-20 (12 leap days); the next is past 2027.
        # `all` looks back 101 periods = 5,050 years, before year 1: must not overflow.
        {"every": 50 * 365 * 86400}, U(1950, 1, 1), U(1950, 1, 1), U(2027, 1, 1),
        [U(1999, 12, 20)],
        id="50-year-period",
    ),
    pytest.param(
        {"every": 100 * 365 * 86400}, A, A, A + D, [], id="100-year-period-nothing-due",
    ),
]


@pytest.mark.parametrize(("fields", "anchor", "after", "now", "expected"), EVERY_ANCHORED)
def test_every_is_anchored(fields, anchor, after, now, expected):
    got = to_fire(schedule(catchup="all", **fields), after, now, anchor)
    assert got == expected
    assert to_fire(schedule(catchup="latest", **fields), after, now, anchor) == expected[-1:]


def test_every_missed_times_are_exact_multiples_of_the_period():
    anchor = U(2027, 1, 1, 0, 0, 3, 250000)
    got = to_fire(schedule(every=7, catchup="all"), anchor, anchor + 10 * D + timedelta(seconds=0.9), anchor)
    assert len(got) == 100
    # 10 days = 864,000 s = 7 * 123,428 + 4: the newest is k = 123,428
    assert got[-1] == anchor + 123428 * 7 * S
    assert all((due - anchor) % (7 * S) == timedelta(0) for due in got)
    assert all(b - a == 7 * S for a, b in itertools.pairwise(got))


# ---------------------------------------------------------------------------------------------
# cron across DST changes during downtime: each local time at most once
# ---------------------------------------------------------------------------------------------

DST_DOWNTIME = [
    # (cron, zone, after, now, expected under catchup: all)
    pytest.param(
        # Berlin 2027-03-28: 01:30 and 01:45 CET (00:30, 00:45 UTC); 02:00 .. 02:45 do not exist and fire
        # once at the end of the gap (01:00 UTC), which is also 03:00 CEST (fired once); then 03:15, 03:30.
        "*/15 * * * *", BERLIN, U(2027, 3, 28, 0, 20), U(2027, 3, 28, 1, 40),
        [U(2027, 3, 28, 0, 30), U(2027, 3, 28, 0, 45), U(2027, 3, 28, 1), U(2027, 3, 28, 1, 15),
         U(2027, 3, 28, 1, 30)],
        id="berlin-spring-gap-quarter-hours",
    ),
    pytest.param(
        # 02:30 daily: CET 01:30 UTC, the gap's end 01:00 UTC on the 28th, then CEST 00:30 UTC
        "30 2 * * *", BERLIN, U(2027, 3, 27), U(2027, 3, 29, 12),
        [U(2027, 3, 27, 1, 30), U(2027, 3, 28, 1), U(2027, 3, 29, 0, 30)],
        id="berlin-spring-gap-daily",
    ),
    pytest.param(
        # 02:30 daily, 2027-10-31 repeats 02:00 .. 02:59: its first (CEST) 02:30 only
        "30 2 * * *", BERLIN, U(2027, 10, 30), U(2027, 11, 1, 12),
        [U(2027, 10, 30, 0, 30), U(2027, 10, 31, 0, 30), U(2027, 11, 1, 1, 30)],
        id="berlin-autumn-fold-daily",
    ),
    pytest.param(
        # New York 2027-11-07: 01:00 and 01:30 EDT (05:00, 05:30 UTC); the repeated 01:00 and 01:30 EST
        # (06:00, 06:30 UTC) do not fire again; 02:00 and 02:30 EST are 07:00 and 07:30 UTC.
        "*/30 * * * *", NEW_YORK, U(2027, 11, 7, 4, 50), U(2027, 11, 7, 7, 40),
        [U(2027, 11, 7, 5), U(2027, 11, 7, 5, 30), U(2027, 11, 7, 7), U(2027, 11, 7, 7, 30)],
        id="new-york-fold-half-hours",
    ),
    pytest.param(
        # 01:30 daily: EDT 05:30 UTC on the 6th, the first 01:30 (EDT) on the 7th, EST 06:30 UTC on the 8th
        "30 1 * * *", NEW_YORK, U(2027, 11, 6), U(2027, 11, 8, 12),
        [U(2027, 11, 6, 5, 30), U(2027, 11, 7, 5, 30), U(2027, 11, 8, 6, 30)],
        id="new-york-fold-daily",
    ),
]


@pytest.mark.parametrize(("cron", "zone_name", "after", "now", "expected"), DST_DOWNTIME)
def test_cron_across_dst_during_downtime(cron, zone_name, after, now, expected):
    spec = schedule(cron=cron, timezone=zone_name, catchup="all")
    got = to_fire(spec, after, now, A)
    assert got == expected
    assert len(set(got)) == len(got) and got == sorted(got)
    assert to_fire(schedule(cron=cron, timezone=zone_name), after, now, A) == expected[-1:]
    assert to_fire(schedule(cron=cron, timezone=zone_name, catchup="skip"), after, now, A) == []


def test_cron_dst_gap_fires_once_across_successive_ticks():
    """Beat ticking through the Berlin gap one minute at a time sends the gap's end exactly once."""
    spec = schedule(cron="*/15 * * * *", timezone=BERLIN, catchup="all")
    after, sent = U(2027, 3, 28, 0, 20), []
    now = after
    while now < U(2027, 3, 28, 1, 40):
        now += M
        dues = to_fire(spec, after, now, A)
        sent += dues
        after = max([now, *dues])
    assert sent == DST_DOWNTIME[0].values[4]


# ---------------------------------------------------------------------------------------------
# at: one-off
# ---------------------------------------------------------------------------------------------

AT_BERLIN = {"at": "2027-06-01T12:00:00", "timezone": BERLIN}  # 12:00 CEST = 10:00 UTC
AT_DUE = U(2027, 6, 1, 10)

AT_CASES = [
    # (extra fields, mode, after, now, expected)
    ({}, "latest", U(2027, 5, 1), U(2027, 6, 2), [AT_DUE]),  # passed during downtime: once
    ({}, "skip", U(2027, 5, 1), U(2027, 6, 2), []),
    ({}, "all", U(2027, 5, 1), U(2027, 6, 2), [AT_DUE]),
    ({"catchup_window": "1h"}, "latest", U(2027, 5, 1), U(2027, 6, 2), []),
    ({"catchup_window": "2d"}, "latest", U(2027, 5, 1), U(2027, 6, 2), [AT_DUE]),
    ({}, "skip", U(2027, 5, 1), U(2027, 6, 1, 10, 0, 0, 500000), [AT_DUE]),  # on time
    ({}, "latest", AT_DUE, U(2027, 6, 2), []),  # already fired: never again
    ({}, "latest", U(2027, 6, 1, 10, 0, 0, 200000), U(2027, 12, 1), []),
    ({}, "latest", U(2027, 5, 1), U(2027, 6, 1, 9, 59), []),  # not yet
    ({}, "latest", U(2027, 5, 1), AT_DUE, [AT_DUE]),  # now inclusive
    ({"at": "2027-06-01T12:00:00+00:00"}, "latest", U(2027, 5, 1), U(2027, 6, 2), [U(2027, 6, 1, 12)]),
]


@pytest.mark.parametrize(("fields", "mode", "after", "now", "expected"), AT_CASES)
def test_at(fields, mode, after, now, expected):
    assert to_fire(schedule(**{**AT_BERLIN, **fields}, catchup=mode), after, now, A) == expected


# ---------------------------------------------------------------------------------------------
# start_at / end_at
# ---------------------------------------------------------------------------------------------

BOUNDED = {"every": "1h", "start_at": "2027-01-01T06:30:00", "end_at": "2027-01-01T09:45:00"}
BOUNDS = [
    # (fields, mode, after, now, expected); the anchor passed is 2026-12-01, start_at wins
    (BOUNDED, "all", A, U(2027, 1, 1, 12), [U(2027, 1, 1, 6, 30), U(2027, 1, 1, 7, 30), U(2027, 1, 1, 8, 30),
                                            U(2027, 1, 1, 9, 30)]),
    (BOUNDED, "latest", A, U(2027, 1, 1, 12), [U(2027, 1, 1, 9, 30)]),
    (BOUNDED, "latest", A, U(2027, 3, 1), [U(2027, 1, 1, 9, 30)]),  # long after the end: the last one, once
    (BOUNDED, "all", A, U(2027, 3, 1), [U(2027, 1, 1, 6, 30), U(2027, 1, 1, 7, 30), U(2027, 1, 1, 8, 30),
                                        U(2027, 1, 1, 9, 30)]),  # long after the end: none lost
    # every: 1m over 00:00 .. 06:00 (361 due times, start_at included), caught up months later: the newest
    # 100 end at end_at 06:00 and start 99 minutes earlier, 04:21
    ({"every": "1m", "start_at": "2027-01-01T00:00:00", "end_at": "2027-01-01T06:00:00"}, "all", A, U(2027, 3, 1),
     [U(2027, 1, 1, 4, 21) + k * M for k in range(100)]),
    (BOUNDED, "skip", A, U(2027, 1, 1, 12), []),
    (BOUNDED, "all", A, U(2027, 1, 1, 6, 29, 59), []),  # before start_at
    (BOUNDED, "skip", A, U(2027, 1, 1, 6, 30), [U(2027, 1, 1, 6, 30)]),  # start_at itself fires, on time
    (BOUNDED, "latest", U(2027, 1, 1, 9, 30), U(2027, 3, 1), []),  # ended
    # end_at on a due time: inclusive, like start_at
    ({**BOUNDED, "end_at": "2027-01-01T08:30:00"}, "all", A, U(2027, 1, 1, 12),
     [U(2027, 1, 1, 6, 30), U(2027, 1, 1, 7, 30), U(2027, 1, 1, 8, 30)]),
    # cron in Berlin, bounded by local 10:00 .. 12:30 on a summer day (08:00 .. 10:30 UTC)
    ({"cron": "0 * * * *", "timezone": BERLIN, "start_at": "2027-07-01T10:00:00", "end_at": "2027-07-01T12:30:00"},
     "all", U(2027, 7, 1), U(2027, 7, 2), [U(2027, 7, 1, 8), U(2027, 7, 1, 9), U(2027, 7, 1, 10)]),
    ({"cron": "0 * * * *", "timezone": BERLIN, "start_at": "2027-07-01T10:00:00", "end_at": "2027-07-01T12:30:00"},
     "latest", U(2027, 7, 1), U(2027, 7, 2), [U(2027, 7, 1, 10)]),
]


@pytest.mark.parametrize(("fields", "mode", "after", "now", "expected"), BOUNDS)
def test_start_and_end(fields, mode, after, now, expected):
    assert to_fire(schedule(catchup=mode, **fields), after, now, U(2026, 12, 1)) == expected


# ---------------------------------------------------------------------------------------------
# a year of downtime: bounded work, not a walk over 31 million due times
# ---------------------------------------------------------------------------------------------

YEAR_ANCHOR = U(2026, 1, 1)
YEAR_NOW = U(2027, 1, 1, 0, 0, 0, 500000)  # 2026-01-01 + 365 days + 0.5 s

LONG_DOWNTIME = [
    # (fields, after, now, expected, most next_fire calls allowed)
    pytest.param({"every": "1s", "catchup": "latest"}, YEAR_ANCHOR, YEAR_NOW, [U(2027, 1, 1)], 20, id="1s-latest"),
    pytest.param({"every": "1s", "catchup": "skip"}, YEAR_ANCHOR, YEAR_NOW, [U(2027, 1, 1)], 20, id="1s-skip-on-time"),
    pytest.param(
        # the newest 100: 2027-01-01 00:00:00 and the 99 seconds before it, from 23:58:21
        {"every": "1s", "catchup": "all"}, YEAR_ANCHOR, YEAR_NOW,
        [U(2026, 12, 31, 23, 58, 21) + k * S for k in range(100)], 250, id="1s-all",
    ),
    pytest.param(
        # window 30 s: from 23:59:30.5 on: 23:59:31 .. 00:00:00
        {"every": "1s", "catchup": "all", "catchup_window": "30s"}, YEAR_ANCHOR, YEAR_NOW,
        [U(2026, 12, 31, 23, 59, 31) + k * S for k in range(30)], 250, id="1s-all-window",
    ),
    pytest.param(
        # every minute: the newest 100 end at 00:00, 99 minutes earlier is 22:21
        {"cron": "* * * * *", "catchup": "all"}, YEAR_ANCHOR, YEAR_NOW,
        [U(2026, 12, 31, 22, 21) + k * M for k in range(100)], 250, id="cron-every-minute-all",
    ),
    pytest.param({"cron": "* * * * *", "catchup": "latest"}, YEAR_ANCHOR, YEAR_NOW, [U(2027, 1, 1)], 20,
                 id="cron-every-minute-latest"),
    pytest.param({"cron": "0 12 29 2 *", "catchup": "latest"}, U(2017, 6, 1), U(2027, 6, 1), [U(2024, 2, 29, 12)], 60,
                 id="cron-feb-29-decade"),
    pytest.param({"cron": "0 12 29 2 *", "catchup": "all"}, U(2017, 6, 1), U(2027, 6, 1),
                 [U(2020, 2, 29, 12), U(2024, 2, 29, 12)], 60, id="cron-feb-29-decade-all"),
]


@pytest.mark.parametrize(("fields", "after", "now", "expected", "most_calls"), LONG_DOWNTIME)
def test_long_downtime_is_bounded_work(monkeypatch, fields, after, now, expected, most_calls):
    calls = 0
    real_next_fire = timing.next_fire

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        assert calls <= most_calls, f"due_times walks the downtime: more than {most_calls} next_fire calls"
        return real_next_fire(*args, **kwargs)

    monkeypatch.setattr(timing, "next_fire", counting)
    assert to_fire(schedule(**fields), after, now, YEAR_ANCHOR) == expected
    assert calls <= most_calls


# ---------------------------------------------------------------------------------------------
# due_times: (after, now], oldest first, at most `limit`
# ---------------------------------------------------------------------------------------------

TEN = schedule(every="10s")
HOURLY_CRON = schedule(cron="0 * * * *")
DAILY_CRON = schedule(cron="0 0 * * *")

DUE_TIMES = [
    # (spec, after, now, limit, expected)
    pytest.param(TEN, A + 10 * S, A + 50 * S, 10, [A + s * S for s in (20, 30, 40, 50)],
                 id="every-after-excl-now-incl"),
    pytest.param(TEN, A + 10 * S - US, A + 50 * S, 10, [A + s * S for s in (10, 20, 30, 40, 50)],
                 id="every-after-1us-less"),
    pytest.param(TEN, A + 10 * S, A + 50 * S - US, 10, [A + s * S for s in (20, 30, 40)], id="every-now-1us-less"),
    pytest.param(TEN, A + 10 * S, A + 50 * S, 4, [A + s * S for s in (20, 30, 40, 50)], id="every-limit-exact"),
    pytest.param(TEN, A + 10 * S, A + 50 * S, 2, [A + 40 * S, A + 50 * S], id="every-limit-2-newest"),
    pytest.param(TEN, A + 10 * S, A + 50 * S, 1, [A + 50 * S], id="every-limit-1"),
    pytest.param(TEN, A + 50 * S, A + 50 * S, 10, [], id="every-empty-range"),
    pytest.param(TEN, A + 60 * S, A + 50 * S, 10, [], id="every-after-past-now"),
    pytest.param(TEN, A + 41 * S, A + 49 * S, 10, [], id="every-none-between"),
    pytest.param(HOURLY_CRON, U(2027, 1, 1, 1), U(2027, 1, 1, 4), 10,
                 [U(2027, 1, 1, h) for h in (2, 3, 4)], id="cron-after-excl-now-incl"),
    pytest.param(HOURLY_CRON, U(2027, 1, 1, 0, 59, 59), U(2027, 1, 1, 4), 10,
                 [U(2027, 1, 1, h) for h in (1, 2, 3, 4)], id="cron-after-1s-less"),
    pytest.param(HOURLY_CRON, U(2027, 1, 1, 1), U(2027, 1, 1, 3, 59, 59), 10,
                 [U(2027, 1, 1, h) for h in (2, 3)], id="cron-now-1s-less"),
    pytest.param(HOURLY_CRON, U(2027, 1, 1, 1), U(2027, 1, 1, 4), 2,
                 [U(2027, 1, 1, 3), U(2027, 1, 1, 4)], id="cron-limit-2"),
    # Jan 2 .. Apr 1 2027: 30 + 28 + 31 + 1 = 90 midnights
    pytest.param(DAILY_CRON, U(2027, 1, 1), U(2027, 4, 1), 100,
                 [U(2027, 1, 2) + k * D for k in range(90)], id="cron-daily-90-under-limit"),
    pytest.param(DAILY_CRON, U(2027, 1, 1), U(2027, 4, 1), 5,
                 [U(2027, 3, 28) + k * D for k in range(5)], id="cron-daily-limit-5"),
    pytest.param(schedule(**AT_BERLIN), U(2027, 1, 1), U(2027, 12, 1), 100, [AT_DUE], id="at-once"),
]


@pytest.mark.parametrize(("spec", "after", "now", "limit", "expected"), DUE_TIMES)
def test_due_times(spec, after, now, limit, expected):
    got = due_times(spec, after, now, A, limit)
    assert got == expected
    assert len(got) <= limit and got == sorted(got)


@pytest.mark.parametrize(
    ("limit", "expected_seconds"),
    [(1, [1000]), (3, [980, 990, 1000])],
)
def test_due_times_without_anchor_counts_from_after(limit, expected_seconds):
    """No anchor (and no start_at): `every` counts from `after`, as next_fire and fire_times do."""
    got = due_times(TEN, A, A + timedelta(seconds=1000.5), None, limit)
    assert got == [A + s * S for s in expected_seconds], "every without an anchor drifted off `after`'s phase"


# ---------------------------------------------------------------------------------------------
# on-time dues must not be lost when the on-time window holds more than one due time
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "after", "now", "expected"),
    [
        # every: 10s, jitter: 1h. Due A+10 is sent at its capped jitter A+19.999 s, beat wakes 2.5 ms late:
        # both A+10 (on time: within 1 s + 1 h) and A+20 (due 1.5 ms ago) must go; A+10 is lost otherwise.
        pytest.param({"every": "10s", "jitter": "1h"}, A, A + timedelta(seconds=20.0015),
                     [A + 10 * S, A + 20 * S], id="jitter-above-period"),
        # every: 500ms, no jitter, beat 0.6 s late: both 0.5 and 1.0 are within GRACE of 1.1.
        pytest.param({"every": "500ms"}, A + timedelta(seconds=0.2), A + timedelta(seconds=1.1),
                     [A + timedelta(seconds=0.5), A + timedelta(seconds=1.0)], id="sub-second-period"),
    ],
)
@pytest.mark.parametrize("mode", ["latest", "skip"])
def test_every_on_time_due_fires(fields, after, now, expected, mode):
    got = to_fire(schedule(catchup=mode, **fields), after, now, A)
    assert got == expected, f"catchup={mode} dropped an on-time due time: got {got}, expected {expected}"


# ---------------------------------------------------------------------------------------------
# Entry.advance(): the next due time and its jittered send time
# ---------------------------------------------------------------------------------------------


def entry(spec: ScheduleSpec, after: datetime, anchor: datetime = A, name: str = "job") -> Entry:
    return Entry(name=name, text=spec.model_dump_json(), digest="d", anchor=anchor, after=after, last_task_id=None)


ADVANCE = [
    # (spec, anchor, after, due)
    pytest.param(schedule(every="10s"), A, A + 25 * S, A + 30 * S, id="every-mid-period"),
    pytest.param(schedule(every="10s"), A, A + 30 * S, A + 40 * S, id="every-on-a-due-is-exclusive"),
    pytest.param(schedule(every="10s"), A, A, A + 10 * S, id="every-from-the-anchor"),
    pytest.param(schedule(every="10s"), A, A - H, A, id="every-before-the-anchor"),
    pytest.param(schedule(every="1m"), U(2027, 1, 1, 0, 0, 7), U(2027, 1, 1, 3, 0, 59, 999999),
                 U(2027, 1, 1, 3, 1, 7), id="every-late-cursor-keeps-phase"),
    pytest.param(schedule(cron="0 9 * * *", timezone=BERLIN), A, U(2027, 7, 1, 7), U(2027, 7, 2, 7),
                 id="cron-berlin-summer"),
    pytest.param(schedule(cron="0 9 * * *", timezone=BERLIN), A, U(2027, 1, 5, 7), U(2027, 1, 5, 8),
                 id="cron-berlin-winter"),
    pytest.param(schedule(cron="30 2 * * *", timezone=BERLIN), A, U(2027, 3, 27, 12), U(2027, 3, 28, 1),
                 id="cron-in-gap-fires-at-gap-end"),
    pytest.param(schedule(cron="30 1 * * *", timezone=NEW_YORK), A, U(2027, 11, 7, 5, 30), U(2027, 11, 8, 6, 30),
                 id="cron-fold-second-occurrence-skipped"),
    pytest.param(schedule(**AT_BERLIN), A, U(2027, 5, 1), AT_DUE, id="at-ahead"),
    pytest.param(schedule(**AT_BERLIN), A, AT_DUE, None, id="at-passed"),
    pytest.param(schedule(every="1h", start_at="2027-02-01T00:00:00"), A, A, U(2027, 2, 1), id="start-at-ahead"),
    pytest.param(schedule(every="1h", end_at="2027-01-01T05:00:00"), A, U(2027, 1, 1, 5), None, id="ended"),
]


@pytest.mark.parametrize(("spec", "anchor", "after", "due"), ADVANCE)
def test_advance_due_without_jitter(spec, anchor, after, due):
    e = entry(spec, after, anchor)
    e.advance(e.spec)
    assert e.due == due
    if due is not None:
        assert e.fire_at == due.timestamp()


JITTERED = [
    # (spec, after, due, the following due time or None)
    pytest.param(schedule(every="10s", jitter="1h"), A + 25 * S, A + 30 * S, A + 40 * S, id="every-10s-jitter-1h"),
    pytest.param(schedule(every="1h", jitter="10m"), A + 25 * S, U(2027, 1, 1, 1), U(2027, 1, 1, 2),
                 id="every-1h-jitter-10m"),
    pytest.param(schedule(every=0.0005, jitter="1s"), A, A + timedelta(microseconds=500),
                 A + timedelta(microseconds=1000), id="period-below-the-1ms-margin"),
    pytest.param(schedule(cron="* * * * *", jitter="5m"), U(2027, 1, 1, 0, 0, 30), U(2027, 1, 1, 0, 1),
                 U(2027, 1, 1, 0, 2), id="cron-minutely-jitter-5m"),
    # Berlin's spring gap: 02:00 local is 01:00 UTC, the next quarter hour 03:15 CEST is 01:15 UTC
    pytest.param(schedule(cron="*/15 * * * *", timezone=BERLIN, jitter="1h"), U(2027, 3, 28, 0, 50),
                 U(2027, 3, 28, 1), U(2027, 3, 28, 1, 15), id="cron-gap-end-jitter-1h"),
    pytest.param(schedule(**AT_BERLIN, jitter="30s"), U(2027, 5, 1), AT_DUE, None, id="at-no-following"),
]


@pytest.mark.parametrize(("spec", "after", "due", "following"), JITTERED)
def test_advance_jitter_stays_before_the_next_due(spec, after, due, following):
    e = entry(spec, after)
    e.advance(e.spec)
    assert e.due == due
    offset = e.fire_at - due.timestamp()
    assert 0 <= offset < spec.jitter, f"jitter offset {offset} outside [0, {spec.jitter})"
    if following is not None:
        assert e.fire_at < following.timestamp(), "a jittered send went past the next due time"
        assert offset < (following - due).total_seconds()


@pytest.mark.parametrize(("spec", "after", "due", "following"), JITTERED)
def test_advance_jitter_is_deterministic(spec, after, due, following):
    first, second = entry(spec, after), entry(spec, after)
    first.advance(first.spec)
    second.advance(second.spec)
    assert first.fire_at == second.fire_at
    # Another cursor before the same due time (a restart, another beat): the same send time.
    third = entry(spec, due - US)
    third.advance(third.spec)
    assert (third.due, third.fire_at) == (first.due, first.fire_at)


def test_advance_jitter_differs_across_due_times():
    spec = schedule(every="1d", jitter="1h")
    offsets = []
    for day in range(8):
        e = entry(spec, A + day * D)
        e.advance(e.spec)
        assert e.due == A + (day + 1) * D
        offsets.append(e.fire_at - e.due.timestamp())
    assert all(0 <= offset < 3600 for offset in offsets)
    assert len(set(offsets)) == len(offsets), f"the same jitter for different due times: {offsets}"


def test_advance_without_jitter_sends_at_the_due_time():
    e = entry(schedule(every="1d"), A + 3 * H)
    e.advance(e.spec)
    assert e.due == A + D
    assert e.fire_at == (A + D).timestamp() == 1798848000.0  # 2027-01-02T00:00:00Z


# ---------------------------------------------------------------------------------------------
# task_id: one id per (schedule, due instant)
# ---------------------------------------------------------------------------------------------

DUE = U(2027, 7, 1, 7)
SAME_INSTANT = [
    pytest.param(datetime(2027, 7, 1, 9, tzinfo=ZoneInfo(BERLIN)), id="berlin-cest"),
    pytest.param(datetime(2027, 7, 1, 3, tzinfo=ZoneInfo(NEW_YORK)), id="new-york-edt"),
    pytest.param(datetime(2027, 7, 1, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), id="fixed-plus-0530"),
    pytest.param(datetime(2027, 7, 1, 7, tzinfo=UTC), id="timezone-utc"),
]


@pytest.mark.parametrize("same", SAME_INSTANT)
def test_task_id_same_instant_in_any_zone(same):
    assert task_id("job", same) == task_id("job", DUE)


def test_task_id_is_a_deterministic_uuid5():
    value = task_id("job", DUE)
    assert value == task_id("job", DUE)
    assert uuid.UUID(value).version == 5


@pytest.mark.parametrize(
    ("name", "due"),
    [
        ("job2", DUE),
        ("Job", DUE),
        ("job", DUE + US),
        ("job", DUE + S),
        ("job", DUE + D),
        ("job", DUE - H),
    ],
)
def test_task_id_differs_by_name_and_due(name, due):
    assert task_id(name, due) != task_id("job", DUE)


def test_task_id_repeated_wall_time_is_two_instants():
    ny = ZoneInfo(NEW_YORK)
    first = datetime(2027, 11, 7, 1, 30, tzinfo=ny, fold=0)  # EDT: 05:30 UTC
    second = datetime(2027, 11, 7, 1, 30, tzinfo=ny, fold=1)  # EST: 06:30 UTC
    assert task_id("job", first) == task_id("job", U(2027, 11, 7, 5, 30))
    assert task_id("job", second) == task_id("job", U(2027, 11, 7, 6, 30))
    assert task_id("job", first) != task_id("job", second)
