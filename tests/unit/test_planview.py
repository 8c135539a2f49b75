"""The plan as people read it: next fires before → after, runs the apply starts, and the pull-request comment."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gitbeat import planview
from gitbeat.planner import Change, FieldChange, Plan, diff
from gitbeat.spec import ScheduleSpec
from tests.unit.test_planner import current, desired, stored, wanted

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_timing_change_shows_the_next_fires_before_and_after() -> None:
    plan = diff(desired(wanted("a", every=30)), current(stored("a", every=3600)), NOW)
    (change,) = plan.changes
    assert change.before_fires == [NOW + timedelta(hours=h) for h in (1, 2, 3)]
    assert change.next_fires == [NOW + timedelta(seconds=s) for s in (30, 60, 90)]
    text = planview.text(plan, 4)
    assert "next before: 2026-06-01 13:00 UTC, 2026-06-01 14:00 UTC" in text
    assert "next after:  2026-06-01 12:00:30 UTC, 2026-06-01 12:01 UTC" in text


def test_fires_are_shown_in_the_schedules_timezone_and_utc_with_the_dst_change_marked() -> None:
    spring = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Europe/Paris moves to summer time on 2026-03-29
    plan = diff(desired(wanted("a", cron="0 9 * * *", every=None, timezone="Europe/Paris")), current(), spring)
    line = next(line for line in planview.text(plan, None).splitlines() if "next:" in line)
    fires = line.split("next: ")[1].split(", 2026")
    assert "09:00 CET (08:00 UTC)" in fires[0] and "[after a DST change]" not in fires[0]
    assert "09:00 CEST (07:00 UTC) [after a DST change]" in line
    assert line.count("[after a DST change]") == 1


@pytest.mark.parametrize(
    ("before", "after", "now", "expected"),
    [
        # disabled for a day, enabled again: catchup latest → one run at once, all → one per missed hour
        (dict(enabled=False, note="off"), dict(catchup="latest"), NOW, "enabled again: 1 run(s) at once"),
        (dict(enabled=False, note="off"), dict(catchup="all"), NOW, "enabled again: 24 run(s) at once"),
        (dict(enabled=False, note="off"), dict(catchup="skip"), NOW, None),
        (dict(), dict(args=[1]), NOW, None),  # an enabled schedule's change starts nothing
    ],
)
def test_a_schedule_enabled_again_says_how_many_runs_start_at_once(before: dict, after: dict, now: datetime,
                                                                   expected: str | None) -> None:
    row = replace(stored("a", every=3600, **before), last_due_at=NOW - timedelta(days=1), anchor_at=NOW - timedelta(days=7))
    plan = diff(desired(wanted("a", every=3600, **after)), current(row), now)
    (change,) = plan.changes
    if expected is None:
        assert change.starts is None
    else:
        assert change.starts is not None and change.starts.startswith(expected), change.starts
        assert f"on apply: {change.starts}" in planview.text(plan, 3)
        assert f"**On apply:** `a`: {change.starts}" in planview.markdown(plan, 3)


def test_an_at_in_the_past_says_it_never_runs() -> None:
    plan = diff(desired(wanted("a", every=None, at="2026-01-01T00:00:00Z")), current(), NOW)
    assert plan.changes[0].starts == "its `at` has passed: it never runs"


def many(count: int, width: int = 40) -> Plan:
    """A plan adding `count` schedules, each with an argument `width` characters long."""
    return diff(desired(*(wanted(f"s{i:05}", args=["x" * width]) for i in range(count))), current(), NOW)


def test_the_markdown_comment_starts_with_the_summary_and_folds_after_twenty_changes() -> None:
    comment = planview.markdown(many(25), "origin/main")
    lines = comment.splitlines()
    assert lines[0] == "### gitbeat plan against origin/main"
    assert lines[2] == "**25 to add, 0 to change, 0 to remove.**"
    shown, folded = comment.split("<details>")
    assert len(re.findall(r"^\+ schedule s", shown, re.M)) == 20
    assert "<summary>5 more change(s)</summary>" in folded
    assert len(re.findall(r"^\+ schedule s", folded, re.M)) == 5
    assert "not shown" not in comment


def test_a_short_plan_is_not_folded() -> None:
    comment = planview.markdown(many(20), 7)
    assert "<details>" not in comment and comment.count("+ schedule s") == 20
    assert comment.startswith("### gitbeat plan against revision 7\n\n**20 to add")


@pytest.mark.parametrize("limit", [5_000, 20_000, planview.COMMENT_LIMIT])
def test_a_huge_plan_fits_a_pull_request_comment_and_says_how_many_more(limit: int) -> None:
    plan = many(3000, width=60)
    comment = planview.markdown(plan, "origin/main", limit=limit)
    assert len(comment) <= limit
    listed = len(re.findall(r"^\+ schedule s", comment, re.M))
    match = re.search(r"… and (\d+) more change\(s\), not shown", comment)
    assert match is not None and listed + int(match.group(1)) == 3000
    assert comment.count("```") % 2 == 0  # every code block is closed


def test_the_json_document_reads_back_as_the_same_plan() -> None:
    plan = diff(desired(wanted("a", every=30), wanted("b", cron="0 9 * * *", every=None, timezone="Asia/Tokyo")),
                current(stored("a", every=3600), stored("c")), NOW)
    plan.paused = {"a": "paused by ops until 2026-06-02"}
    back, against = planview.from_document(json.loads(planview.as_json(plan, 12)))
    assert against == 12
    for render in (planview.text, planview.markdown, planview.as_json):
        assert render(back, against) == render(plan, 12)


def test_a_plan_against_a_git_ref_says_so() -> None:
    plan = Plan([], [], [])
    assert planview.text(plan, "origin/main").startswith("No changes: the config matches origin/main.\n")
    assert planview.from_document(planview.document(plan, "v1.2"))[1] == "v1.2"
    assert json.loads(planview.as_json(plan, "v1.2"))["revision"] is None


def test_a_change_without_a_timing_change_lists_the_fires_once() -> None:
    spec = ScheduleSpec.model_validate({"task": "t", "every": 60, "timezone": "UTC"})
    fires = [NOW + timedelta(minutes=1)]
    change = Change("schedule", "change", "a", fields=[FieldChange("args", [], [1])], next_fires=fires,
                    before_fires=fires, spec=spec)
    text = planview.text(Plan([change], [], []), 1)
    assert "next: 2026-06-01 12:01 UTC" in text and "before" not in text
