"""The import's translation and fire-time proof on Celery's own schedule objects (no services): what is written,
what is adapted, what differs around DST changes and is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import Celery
from celery.schedules import crontab, schedule, solar

from gitbeat.importers.entry import SourceEntry
from gitbeat.importers.proof import prove
from gitbeat.importers.sourcetimes import EntryRules
from gitbeat.importers.translate import Context, Refused, Skipped, translate
from gitbeat.importers.writer import parse, schedule_block

APP = Celery("test-import-proof", set_as_current=False, timezone="Europe/Berlin")
NOW = datetime(2026, 12, 2, 10, 0, 7, tzinfo=UTC)


def entry(sched: Any, **fields: Any) -> SourceEntry:
    return SourceEntry(**{"name": "s", "origin": "test", "task": "t.run", "schedule": sched,
                          "timezone": "Europe/Berlin", **fields})


def run(source: SourceEntry, *, with_run_state: bool = False, taken: set[str] | None = None) -> tuple[Any, Any]:
    candidate = translate(source, Context(NOW, with_run_state, taken or set(), {"celery"}))
    blocks = "".join(schedule_block(name, data, []) for name, data in candidate.specs.items())
    specs = parse(blocks, "UTC")
    return candidate, prove(candidate, specs)


def test_an_hourly_crontab_is_proven_across_the_next_dst_changes() -> None:
    candidate, proof = run(entry(crontab(minute=0, app=APP)))
    assert candidate.specs == {"s": {"task": "t.run", "cron": "0 * * * *", "timezone": "Europe/Berlin"}}
    assert proof.ok and proof.compared == 1000
    assert proof.transitions == 2  # 1,000 hours from December reach neither change: windows lead into both


def test_half_past_two_differs_on_the_spring_change_and_the_proof_lists_it() -> None:
    _, proof = run(entry(crontab(minute=30, hour=2, app=APP)))
    assert not proof.ok
    assert proof.mismatches[0] == ("the source fires 2027-03-28 03:30:00 CEST (01:30:00Z), gitbeat 2027-03-28 "
                                   "03:00:00 CEST (01:00:00Z)")


def test_an_interval_is_anchored_at_the_last_run_with_run_state() -> None:
    last = NOW - timedelta(seconds=100)
    candidate, proof = run(entry(schedule(timedelta(seconds=300), app=APP), last_run_at=last, run_count=3),
                           with_run_state=True)
    assert candidate.specs["s"]["every"] == "5m" and candidate.origin == last
    assert "gitbeat counts from an anchor: the last run, 2026-12-02 09:58:27 UTC" in candidate.notes[0]
    assert proof.ok and proof.first == last + timedelta(seconds=300)


def test_solar_matches_within_the_tolerance() -> None:
    candidate, proof = run(entry(solar("sunset", 52.52, 13.40, app=APP)))
    assert candidate.specs["s"]["solar"] == {"event": "sunset", "latitude": 52.52, "longitude": 13.4}
    assert proof.ok and proof.tolerance == 60 and 0 < proof.largest < 10


def test_a_one_off_crontab_becomes_at_its_next_fire_time() -> None:
    candidate, proof = run(entry(crontab(minute=15, hour=6, app=APP), rules=EntryRules(one_off=True)))
    assert candidate.specs["s"] == {"task": "t.run", "at": "2026-12-03T06:15:00+01:00"}
    assert proof.ok and proof.compared == 1
    with pytest.raises(Skipped, match="a one-off that already ran"):
        run(entry(crontab(minute=15, hour=6, app=APP), rules=EntryRules(one_off=True), run_count=1))


def test_a_start_time_off_the_schedule_gets_a_one_off_of_its_own_and_expires_ends_it() -> None:
    start = datetime(2026, 12, 12, 8, 0, tzinfo=UTC)  # 09:00 in Berlin: no fire time of a noon crontab
    stop = datetime(2027, 1, 10, 11, 0, tzinfo=UTC)  # 12:00 in Berlin: a fire time, which the source never fires
    candidate, proof = run(entry(crontab(minute=0, hour=12, app=APP), rules=EntryRules(start_time=start,
                                                                                          stop_at=stop)))
    assert candidate.specs["s"]["start_at"] == "2026-12-12T09:00:00+01:00"
    assert candidate.specs["s"]["end_at"] == "2027-01-10T11:59:59.999999+01:00"
    assert candidate.specs["s.start"] == {"task": "t.run", "at": "2026-12-12T09:00:00+01:00"}
    assert proof.ok and proof.compared == 30  # the start, then noon from Dec 12 to Jan 9
    with pytest.raises(Skipped, match="expired on"):
        run(entry(crontab(minute=0, app=APP), rules=EntryRules(stop_at=NOW - timedelta(days=1))))


def test_options_names_and_what_is_not_carried() -> None:
    candidate, _ = run(entry(crontab(minute=0, app=APP), name="nightly report",
                             options={"queue": "reports", "exchange": "x", "priority": 4, "expires": 90,
                                      "headers": {"a": 1}, "countdown": 5}),
                       taken={"nightly-report"})
    assert candidate.name == "nightly-report-2"
    assert candidate.specs["nightly-report-2"] | {} == {"task": "t.run", "cron": "0 * * * *",
                                                        "timezone": "Europe/Berlin", "queue": "reports",
                                                        "priority": 4, "expires": "1m30s"}
    assert candidate.queue == ("reports", {"exchange": "x"})
    assert candidate.notes == [
        "renamed from 'nightly report', which is not a valid gitbeat name",
        "headers ['a'] are not sent: gitbeat sets no per-schedule headers",
        "options ['countdown'] are not carried: gitbeat has no per-schedule place for them (time limits and "
        "retries belong to the task)",
    ]


def test_what_cannot_be_imported_is_refused_or_skipped() -> None:
    with pytest.raises(Refused, match="relative=True rounds each run of every 2h"):
        run(entry(schedule(timedelta(hours=2), relative=True, app=APP)))
    with pytest.raises(Skipped, match="gitbeat's beat runs it itself"):
        run(entry(crontab(minute=0, hour=4, app=APP), task="celery.backend_cleanup"))
    with pytest.raises(Refused, match="is not a valid gitbeat name"):
        run(entry(crontab(app=APP), task="bad task"))


def test_an_interval_with_a_later_start_time_counts_from_it_in_every_window() -> None:
    start = datetime(2026, 12, 20, 7, 30, 15, tzinfo=UTC)
    candidate, proof = run(entry(schedule(timedelta(hours=1), app=APP), rules=EntryRules(start_time=start)))
    assert candidate.specs["s"] == {"task": "t.run", "every": "1h", "start_at": "2026-12-20T08:30:15+01:00"}
    assert "s.start" not in candidate.specs  # an `every` with start_at fires at start_at itself
    assert proof.ok and proof.compared == 1000 and proof.transitions == 2 and proof.first == start
