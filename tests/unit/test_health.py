"""health.judge as a table: a schedule's spec, its runs and its override → ok, late, failing, stale or paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitbeat.health import judge
from gitbeat.spec import ScheduleSpec
from gitbeat.store.operate import Override
from gitbeat.store.runs import Run, RunStats

NOW = datetime(2026, 6, 1, 12, 0, 30, tzinfo=UTC)
APPLIED = NOW - timedelta(days=3)
MINUTE = timedelta(minutes=1)


def spec(**fields: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"task": "t", "cron": "* * * * *", "timezone": "UTC", **fields})


def run(state: str, due: datetime) -> Run:
    return Run("id", "s", due, "t", "scheduled", 1, state, due, due, None if state == "queued" else due, None, "w", 0,
               0.1, "ValueError" if state == "failed" else None, "boom" if state == "failed" else None, None)


def stats(state: str, due: datetime, *, success: datetime | None = None, failures: int = 0,
          before: tuple[str, datetime] | None = None) -> RunStats:
    """The newest run in `state` due at `due`; `before`: the run a worker took before it, when that one is queued."""
    newest = run(state, due)
    taken = newest if state != "queued" else run(*before) if before else None
    return RunStats(newest, success, failures, taken)


PAUSE = Override("s", "pause", "Ada", NOW - MINUTE, None, "db maintenance")
# Every minute: the newest due time past the one-minute grace is 11:59:00.
DUE = datetime(2026, 6, 1, 11, 59, tzinfo=UTC)

CASES: dict[str, tuple[ScheduleSpec, RunStats | None, Override | None, str, str]] = {
    "ok: the newest due time ran": (spec(), stats("succeeded", DUE, success=DUE), None, "ok", ""),
    "ok: a later run too": (spec(), stats("succeeded", DUE + MINUTE, success=DUE), None, "ok", ""),
    "ok: one runs now (an overlap skip is no lateness)": (spec(), stats("started", DUE - MINUTE), None, "ok", ""),
    "late: never ran": (spec(), None, None, "late", "its run due 2026-06-01 11:59:00Z has not started"),
    "late: the last run is older": (
        spec(), stats("succeeded", DUE - MINUTE, success=DUE - MINUTE), None, "late",
        "its run due 2026-06-01 11:59:00Z has not started",
    ),
    "late: sent but not started": (
        spec(), stats("queued", DUE), None, "late", "its run due 2026-06-01 11:59:00Z has not started"
    ),
    "late: sent, and the one before too old": (
        spec(), stats("queued", DUE, before=("succeeded", DUE - MINUTE)), None, "late",
        "its run due 2026-06-01 11:59:00Z has not started",
    ),
    "ok: the newest just claimed, the due one ran": (
        spec(), stats("queued", NOW, before=("succeeded", DUE)), None, "ok", ""
    ),
    "failing: the newest just claimed, the one before failed": (
        spec(), stats("queued", NOW, before=("failed", DUE), failures=1), None, "failing",
        "its run due 2026-06-01 11:59:00Z failed: ValueError: boom",
    ),
    "not late within the jitter": (spec(jitter=120), stats("succeeded", DUE - 2 * MINUTE), None, "ok", ""),
    "failing": (
        spec(), stats("failed", DUE, failures=3), None, "failing", "its run due 2026-06-01 11:59:00Z failed: ValueError: boom"
    ),
    "dead-lettered is failing": (spec(), stats("dead-lettered", DUE), None, "failing",
                                 "its run due 2026-06-01 11:59:00Z dead-lettered"),
    "stale: no success for alert_after": (
        spec(alert_after=600), stats("succeeded", DUE, success=NOW - timedelta(hours=1)), None, "stale",
        "no success since 2026-06-01 11:00:30Z (alert_after)",
    ),
    "stale: never succeeded since applied": (
        spec(cron=None, at="2026-07-01T00:00:00", alert_after=3600), None, None, "stale",
        "no successful run since 2026-05-29 12:00:30Z (alert_after)",
    ),
    "not stale within alert_after": (
        spec(alert_after=7200), stats("succeeded", DUE, success=NOW - timedelta(hours=1)), None, "ok", ""
    ),
    "paused by an operator": (spec(), None, PAUSE, "paused", PAUSE.describe()),
    "disabled in the YAML": (spec(enabled=False, note="migrating"), None, None, "paused",
                             "disabled in the YAML: migrating"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_judge(case: str) -> None:
    schedule, runs, override, word, reason = CASES[case]
    health = judge(schedule, APPLIED, APPLIED, runs, override, NOW)
    assert (health.word, health.reason) == (word, reason)


def test_next_and_last_due() -> None:
    health = judge(spec(cron="*/5 * * * *"), APPLIED, APPLIED, None, None, NOW)
    assert health.next_due == datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert health.last_due == datetime(2026, 6, 1, 11, 55, tzinfo=UTC)
    assert judge(spec(), APPLIED, APPLIED, None, PAUSE, NOW).next_due is None
