"""Celery crontab fields as one gitbeat cron that fires on the same days: tables of crontab → cron or refusal,
and each cron checked against Celery's own fire times for two years."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from celery import Celery
from celery.schedules import crontab

from gitbeat.cron import parse_cron
from gitbeat.importers.cronmap import CronFields, NotExpressible, compact, to_cron
from gitbeat.importers.proof import gitbeat_times
from gitbeat.importers.sourcetimes import EntryRules, source_times
from gitbeat.spec import ScheduleSpec

APP = Celery("test-import-cronmap", set_as_current=False, timezone="Europe/Berlin")


@pytest.mark.parametrize(
    ("values", "bounds", "text"),
    [
        (range(60), (0, 59), "*"),
        ([0, 15, 30, 45], (0, 59), "*/15"),
        ([0, 7, 14, 21, 28, 35, 42, 49, 56], (0, 59), "*/7"),
        ([1, 2, 3, 5], (1, 31), "1-3,5"),
        ([1, 4, 7, 10], (1, 12), "*/3"),
        ([8, 9], (0, 23), "8,9"),
        ([0], (0, 6), "0"),
    ],
)
def test_compact(values: list[int], bounds: tuple[int, int], text: str) -> None:
    assert compact(values, bounds) == text


@pytest.mark.parametrize(
    ("fields", "cron"),
    [
        ({"minute": 0, "hour": 0}, "0 0 * * *"),  # the guide's cleanup-expired-sessions
        ({"minute": 0}, "0 * * * *"),  # sync-user-stats
        ({"minute": "*/7"}, "*/7 * * * *"),
        ({"minute": 0, "hour": 9, "day_of_week": "mon-fri"}, "0 9 * * 1-5"),
        ({"minute": 30, "hour": 2, "day_of_month": 15, "month_of_year": "1,4,7,10"}, "30 2 15 */3 *"),
        # Both day fields: Celery needs both. A field starting with * restricts nothing in Vixie's rule.
        ({"minute": 0, "hour": 9, "day_of_week": 1, "day_of_month": "1-7"}, "0 9 */31,2-7 * 1"),
        ({"minute": 0, "hour": 0, "day_of_week": "mon-fri", "day_of_month": "1,15"}, "0 0 */31,15 * 1-5"),
        ({"minute": 0, "hour": 9, "day_of_week": "sun,wed", "day_of_month": "8-14"}, "0 9 8-14 * */7,3"),
        ({"minute": 0, "hour": 9, "day_of_week": 0, "day_of_month": "10-20"}, "0 9 10-20 * */7"),
        ({"minute": 0, "hour": 9, "day_of_week": "1-5", "day_of_month": "*/2"}, "0 9 */2 * 1-5"),
    ],
)
def test_crontab_to_cron_fires_on_the_same_instants(fields: dict[str, object], cron: str) -> None:
    source = crontab(app=APP, **fields)  # type: ignore[arg-type]
    text = to_cron(CronFields.of(source))
    assert text == cron
    parse_cron(text)  # gitbeat reads it
    spec = ScheduleSpec.model_validate({"task": "t", "cron": text, "timezone": "Europe/Berlin"})
    start = datetime(2027, 1, 1, tzinfo=UTC)
    count = 300
    assert gitbeat_times({"s": spec}, start, start, count) == source_times(source, EntryRules(), start, count)


@pytest.mark.parametrize(
    ("fields", "days"),
    [
        ({"day_of_week": 2, "day_of_month": "8-14"}, "day-of-month 8-14 AND day-of-week 2"),  # the second Tuesday
        ({"day_of_week": 5, "day_of_month": 13}, "day-of-month 13 AND day-of-week 5"),  # Friday the 13th
    ],
)
def test_neither_the_first_nor_sunday_is_refused_with_the_reason(fields: dict[str, object], days: str) -> None:
    with pytest.raises(NotExpressible) as raised:
        to_cron(CronFields.of(crontab(minute=0, hour=9, app=APP, **fields)))  # type: ignore[arg-type]
    assert str(raised.value).startswith(
        f"Celery fires only on days matching {days}; gitbeat's cron (Vixie) reads two restricted day fields as either"
    )
