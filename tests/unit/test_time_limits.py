"""The end of time: schedules that run into 9999-12-31, the last day a datetime holds, end with
"no more fire times" rather than an OverflowError or ValueError; and plan lines show seconds.

Facts used: 9999 is not a leap year; 9999-03-14, 03-28, 10-31 and 11-07 are Sundays (the second and
last of March, the last of October, the first of November). 9998-06-01 to 9999-12-31 is 578 days
(365 to 9999-06-01, then 30 + 31 + 31 + 30 + 31 + 30 + 30), so `every: 30d` from 9998-06-01 fires
20 times, the last at day 570: 9999-12-23. Asia/Tokyo is UTC+9, America/New_York UTC-5 in winter,
America/Los_Angeles UTC-8 in winter, all year in 9999 as today.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path

import pytest

from gitbeat import cli, planview
from gitbeat.cron import parse_cron
from gitbeat.planner import Current, Desired, DesiredSchedule, diff, digest
from gitbeat.spec import ScheduleSpec
from gitbeat.timing import (
    cron_next,
    dst_transitions,
    due_times,
    every_next,
    fire_times,
    next_fire,
    next_wall,
    period_seconds,
    solar_next,
    to_fire,
    zone,
)

END = datetime.max.replace(tzinfo=UTC)
H = timedelta(hours=1)
LIMIT = 1000  # more than any schedule below has left: a list this long means it did not end


def U(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def schedule(**fields: object) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"task": "t", "timezone": "UTC", **fields})


def every_30d() -> ScheduleSpec:
    return schedule(every="30d", start_at="9998-06-01T00:00:00")


EVERY_30D = [U(9998, 6, 1) + timedelta(days=30 * k) for k in range(20)]

# (fields, after, every fire time left; or, for long runs, (how many, the last))
TO_THE_END = [
    pytest.param({"cron": "0 0 1 1 *", "start_at": "9998-06-01T00:00:00"}, U(2027, 1, 1), [U(9999, 1, 1)], id="yearly"),
    pytest.param(
        {"cron": "0 0 1 1 *", "start_at": "9998-06-01T00:00:00", "timezone": "America/New_York"},
        U(2027, 1, 1), [U(9999, 1, 1, 5)], id="yearly in New York",
    ),
    # 9998-12-31 23:59 PST is 9999-01-01 07:59 UTC; a year later the wall time is past 9999 in UTC
    pytest.param(
        {"cron": "59 23 31 12 *", "start_at": "9998-06-01T00:00:00", "timezone": "America/Los_Angeles"},
        U(2027, 1, 1), [U(9999, 1, 1, 7, 59)], id="new year's eve in Los Angeles",
    ),
    pytest.param({"cron": "0 0 29 2 *", "start_at": "9998-06-01T00:00:00"}, U(2027, 1, 1), [], id="no leap day left"),
    pytest.param({"cron": "0 0 * * *", "start_at": "9998-12-01T00:00:00"}, U(2027, 1, 1), (396, U(9999, 12, 31)),
                 id="daily"),
    pytest.param({"every": "30d", "start_at": "9998-06-01T00:00:00"}, U(2027, 1, 1), EVERY_30D, id="every 30d"),
    pytest.param(
        {"every": "36500d", "start_at": "9998-12-31T23:59:59"}, U(2027, 1, 1), [U(9998, 12, 31, 23, 59, 59)],
        id="every 100 years anchored late in 9998",
    ),
    # 05:00 in Tokyo is 20:00 UTC the day before: 9999-12-31 20:00 UTC is already 10000 in Tokyo
    pytest.param(
        {"every": "1d", "start_at": "9998-12-31T05:00:00", "timezone": "Asia/Tokyo"}, U(2027, 1, 1),
        (366, U(9999, 12, 30, 20)), id="every 1d in Tokyo",
    ),
    pytest.param(
        {"at": "9998-12-31T23:59:59", "timezone": "America/Los_Angeles"}, U(2027, 1, 1), [U(9999, 1, 1, 7, 59, 59)],
        id="at the last second of 9998 in Los Angeles",
    ),
]


@pytest.mark.parametrize("fields, after, expected", TO_THE_END)
def test_fire_times_run_to_the_end_of_9999_and_stop(
    fields: dict[str, str], after: datetime, expected: list[datetime] | tuple[int, datetime]
) -> None:
    spec = schedule(**fields)
    assert spec.timezone is not None
    times = list(islice(fire_times(spec, spec.timezone, after), LIMIT))
    assert len(times) < LIMIT
    assert all(earlier < later for earlier, later in pairwise(times))
    if isinstance(expected, tuple):
        assert (len(times), times[-1]) == expected
    else:
        assert times == expected
    if times:
        assert times[-1].year in (9998, 9999)
        assert next_fire(spec, spec.timezone, times[-1]) is None


@pytest.mark.parametrize(
    "event, latitude, longitude, timezone, after, count, last_day",
    [
        # Honolulu's sunsets are near 04:00 UTC: that of local 9999-12-31 is in 10000 in UTC
        ("sunset", 21.3, -157.86, "Pacific/Honolulu", U(9999, 12, 1), 31, date(9999, 12, 31)),
        # Tokyo's sunrises are near 22:00 UTC the day before: that of local 10000-01-01 has no local time
        ("sunrise", 35.68, 139.77, "Asia/Tokyo", U(9999, 12, 1), 30, date(9999, 12, 30)),
        ("solar_noon", 52.52, 13.405, "Europe/Berlin", U(9999, 12, 1), 31, date(9999, 12, 31)),
    ],
)
def test_solar_fire_times_stop_at_the_end_of_9999(
    event: str, latitude: float, longitude: float, timezone: str, after: datetime, count: int, last_day: date
) -> None:
    spec = schedule(solar={"event": event, "latitude": latitude, "longitude": longitude}, timezone=timezone)
    times = list(islice(fire_times(spec, timezone, after), LIMIT))
    assert len(times) == count
    assert times[-1].date() == last_day
    assert all(later - earlier > timedelta(hours=23) for earlier, later in pairwise(times))


def test_solar_next_past_the_last_day_is_none() -> None:
    assert solar_next("sunset", 21.3, -157.86, U(9999, 12, 31, 5)) is None
    assert solar_next("solar_noon", 0.0, 179.5, U(9999, 12, 31, 12)) is None
    # 21:40 UTC, but already the morning of 10000-01-01 in Tokyo: a solar day that has no date
    assert solar_next("sunrise", 35.68, 139.77, U(9999, 12, 31)) is None
    moment = solar_next("sunset", 35.68, 139.77, U(9999, 12, 31))
    assert moment is not None and moment.date() == date(9999, 12, 31)


def test_the_pure_steps_return_none_instead_of_overflowing() -> None:
    assert next_wall(parse_cron("0 0 1 1 *"), datetime(9999, 1, 1, 0, 1)) is None  # next is year 10000
    assert next_wall(parse_cron("0 0 * * *"), datetime(9999, 12, 31, 0, 1)) is None  # a day past the last
    assert next_wall(parse_cron("0 * * * *"), datetime(9999, 12, 31, 23, 1)) is None  # an hour past it
    assert cron_next("* * * * *", UTC, U(9999, 12, 31, 23, 58)) == U(9999, 12, 31, 23, 59)
    assert cron_next("* * * * *", UTC, U(9999, 12, 31, 23, 59)) is None
    assert cron_next("* * * * *", UTC, END) is None
    assert cron_next("* * * * *", zone("Asia/Tokyo"), U(9999, 12, 31, 14, 58)) == U(9999, 12, 31, 14, 59)
    assert cron_next("* * * * *", zone("Asia/Tokyo"), U(9999, 12, 31, 14, 59)) is None  # 23:59 in Tokyo
    assert cron_next("* * * * *", zone("Asia/Tokyo"), U(9999, 12, 31, 20)) is None  # already 10000 there
    assert cron_next("0 23 31 12 *", zone("America/New_York"), U(9999, 1, 1, 4)) is None  # 04:00 in 10000 UTC
    assert every_next(U(9998, 12, 31), 36500 * 86400, U(9999, 1, 1)) is None
    assert every_next(U(9999, 12, 31), 1, U(9999, 12, 31, 23, 59, 58)) == U(9999, 12, 31, 23, 59, 59)
    assert every_next(U(9999, 12, 31), 1, U(9999, 12, 31, 23, 59, 59)) is None
    assert period_seconds(parse_cron("0 0 1 1 *"), UTC, U(9999, 6, 1)) == float("inf")


@pytest.mark.parametrize(
    "fields",
    [
        {"cron": "0 0 1 1 *", "start_at": "9998-06-01T00:00:00"},
        {"every": "30d", "start_at": "9998-06-01T00:00:00"},
        {"every": "1s", "start_at": "9998-06-01T00:00:00"},
        {"solar": {"event": "sunset", "latitude": 41.9, "longitude": -87.6}},
        {"at": "9998-12-31T23:59:59"},
    ],
    ids=["cron", "every 30d", "every 1s", "solar", "at"],
)
def test_next_fire_at_the_last_instant_is_none(fields: dict[str, object]) -> None:
    assert next_fire(schedule(**fields), "UTC", END) is None
    assert next_fire(schedule(**fields), "UTC", U(9999, 12, 31, 23, 59, 59), anchor=U(9998, 6, 1)) is None


def test_every_with_an_anchor_late_in_9998_and_a_huge_period() -> None:
    spec = schedule(every="36500d")
    anchor = U(9998, 12, 31, 12)
    assert next_fire(spec, "UTC", U(9998, 12, 1), anchor) == anchor
    assert next_fire(spec, "UTC", anchor, anchor) is None
    assert list(fire_times(spec, "UTC", U(9998, 12, 1), anchor)) == [anchor]


def test_due_times_and_to_fire_near_the_last_instant() -> None:
    spec = every_30d()
    assert due_times(spec, U(9999, 1, 1), END, None, 100) == [t for t in EVERY_30D if t > U(9999, 1, 1)]
    assert due_times(spec, U(9999, 1, 1), END, None, 2) == [U(9999, 11, 23), U(9999, 12, 23)]
    assert due_times(spec, U(9999, 12, 23), END, None, 100) == []
    # all missed: `latest` sends the newest once, `all` each, `skip` none
    assert to_fire(spec, U(9999, 11, 1), END, None) == [U(9999, 12, 23)]
    for catchup, expected in [("all", [U(9999, 11, 23), U(9999, 12, 23)]), ("skip", [])]:
        spec = schedule(every="30d", start_at="9998-06-01T00:00:00", catchup=catchup)
        assert to_fire(spec, U(9999, 11, 1), END, None) == expected
    yearly = schedule(cron="0 0 1 1 *", start_at="9998-06-01T00:00:00", catchup="all")
    assert to_fire(yearly, U(9998, 12, 31), END, None) == [U(9999, 1, 1)]
    # on time on the last day, with a jitter: there is no next due time to bound it
    daily = schedule(every="1d", start_at="9998-12-31T00:00:00", jitter="10s")
    assert to_fire(daily, U(9999, 12, 30, 12), U(9999, 12, 31, 0, 0, 5), None) == [U(9999, 12, 31)]
    assert to_fire(daily, U(9999, 12, 31), END, None) == []


def test_due_times_from_the_first_instant_does_not_underflow() -> None:
    """Its widening window once reached `now - span` before year 1 when nothing was due."""
    yearly = schedule(cron="0 0 1 1 *", start_at="9998-06-01T00:00:00")
    assert due_times(yearly, datetime.min.replace(tzinfo=UTC), U(2027, 1, 1), None, 100) == []


@pytest.mark.parametrize(
    "tz_name, start, expected",
    [
        ("Europe/Berlin", U(9999, 1, 1), [(U(9999, 3, 28, 1), 1 * H, 2 * H), (U(9999, 10, 31, 1), 2 * H, 1 * H)]),
        ("America/New_York", U(9999, 1, 1), [(U(9999, 3, 14, 7), -5 * H, -4 * H), (U(9999, 11, 7, 6), -4 * H, -5 * H)]),
        ("Europe/Berlin", U(9999, 11, 1), []),
        ("Asia/Tokyo", U(9999, 12, 31, 20), []),  # its local time would be in 10000
        ("Europe/Berlin", END, []),
    ],
    ids=["Berlin 9999", "New York 9999", "Berlin after the last change", "Tokyo", "the last instant"],
)
def test_dst_transitions_stop_at_the_end_of_9999(tz_name: str, start: datetime, expected: list[object]) -> None:
    assert list(dst_transitions(zone(tz_name), start)) == expected


# ---------------------------------------------------------------------------------------------
# `gitbeat next` in-process: the same schedules end without a traceback
# ---------------------------------------------------------------------------------------------

FILES = {
    "gitbeat.yaml": """
        timezone: UTC
        """,
    "tasks/jobs.yaml": """
        tasks:
          jobs.run:
            handler: tasks.jobs:run
        """,
    "schedules/late.yaml": """
        schedules:
          yearly:
            task: jobs.run
            cron: "0 0 1 1 *"
            start_at: 9998-06-01T00:00:00
          monthly:
            task: jobs.run
            every: 30d
            start_at: 9998-06-01T00:00:00
          tokyo:
            task: jobs.run
            every: 1d
            timezone: Asia/Tokyo
            start_at: 9998-12-31T05:00:00
          leap-day:
            task: jobs.run
            cron: "0 0 29 2 *"
            start_at: 9998-06-01T00:00:00
        """,
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    monkeypatch.delenv("GITBEAT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # where a bug's traceback would go
    return root


def run_next(project: Path, capsys: pytest.CaptureFixture[str], name: str, count: int) -> list[str]:
    code = cli.main(["next", name, "--config", str(project), "-n", str(count)])
    captured = capsys.readouterr()
    assert (code, captured.err) == (0, "")
    return captured.out.splitlines()[1:]  # after the header


def test_next_shows_the_last_fire_times_of_9999(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_next(project, capsys, "yearly", 5) == ["  9999-01-01 00:00:00 UTC (+0000)   9999-01-01 00:00:00 UTC"]
    monthly = run_next(project, capsys, "monthly", 50)
    assert len(monthly) == 20
    assert monthly[-1] == "  9999-12-23 00:00:00 UTC (+0000)   9999-12-23 00:00:00 UTC"
    tokyo = run_next(project, capsys, "tokyo", 500)
    assert len(tokyo) == 366
    assert tokyo[-1] == "  9999-12-31 05:00:00 JST (+0900)   9999-12-30 20:00:00 UTC"


def test_next_with_no_fire_time_left_before_10000(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_next(project, capsys, "leap-day", 5) == ["  no more fire times"]


# ---------------------------------------------------------------------------------------------
# plan: fire times less than a minute apart show their seconds
# ---------------------------------------------------------------------------------------------


def plan_with(spec: ScheduleSpec, now: datetime) -> str:
    desired = Desired({"ticker": DesiredSchedule("ticker", spec, digest(spec.model_dump_json()), "schedules/a.yaml:2")},
                      {}, {}, {})
    return planview.text(diff(desired, Current({}), now), None)


def test_plan_shows_seconds_of_sub_minute_fire_times() -> None:
    """`every: 10s` showed "01:30, 01:30, 01:30"."""
    shown = plan_with(schedule(every="10s"), U(2027, 1, 1, 1, 30))
    assert "    next: 2027-01-01 01:30:10 UTC, 2027-01-01 01:30:20 UTC, 2027-01-01 01:30:30 UTC\n" in shown
    berlin = plan_with(schedule(every="10s", timezone="Europe/Berlin"), U(2027, 1, 1, 1, 30))
    assert "2027-01-01 02:30:10 CET (01:30:10 UTC), 2027-01-01 02:30:20 CET (01:30:20 UTC)" in berlin


def test_plan_keeps_whole_minutes_short() -> None:
    shown = plan_with(schedule(cron="*/15 * * * *"), U(2027, 1, 1, 1, 30))
    assert "    next: 2027-01-01 01:45 UTC, 2027-01-01 02:00 UTC, 2027-01-01 02:15 UTC\n" in shown
