"""What beat claims, records and sends for a batch (firing.plan_batch) and when `overlap: skip` skips (firing.busy)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitbeat.applied import AppliedConfig
from gitbeat.beatentry import Entry
from gitbeat.firing import busy, plan_batch
from gitbeat.sending import task_id
from gitbeat.spec import ScheduleSpec
from gitbeat.store.runs import Run

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
CONFIG = AppliedConfig.model_validate({"tasks": {"t": {"time_limit": 120}, "quick": {}}})


def spec(**fields: Any) -> ScheduleSpec:
    return ScheduleSpec.model_validate({"task": "t", "every": 60, "timezone": "UTC", **fields})


def entry(name: str, schedule: ScheduleSpec) -> Entry:
    return Entry(name, schedule.model_dump_json(), "", NOW - timedelta(hours=1), NOW - timedelta(minutes=5), None)


def run(state: str, *, due: datetime = NOW - timedelta(minutes=1), sent: timedelta | None = None,
        started: timedelta | None = None, task: str = "t") -> Run:
    return Run(
        task_id="x", schedule="s", due_at=due, task=task, trigger="scheduled", revision_id=1, state=state,
        claimed_at=due, sent_at=NOW - sent if sent is not None else None,
        started_at=NOW - started if started is not None else None, finished_at=None, worker="w", retries=0,
        runtime=None, error_type=None, error=None, note=None,
    )


@pytest.mark.parametrize(
    ("last", "schedule", "blocked"),
    [
        (None, spec(), False),
        (run("succeeded"), spec(), False),
        (run("failed"), spec(), False),
        (run("dead-lettered"), spec(), False),
        (run("queued", sent=timedelta(seconds=30)), spec(), True),  # sent 30 s ago, no expires: an hour
        (run("queued", sent=timedelta(hours=2)), spec(), False),  # a lost message frees it after an hour
        (run("queued", sent=timedelta(seconds=30)), spec(expires=20), False),  # ... or after its expires
        (run("queued", sent=timedelta(seconds=10)), spec(expires=20), True),
        (run("retrying", sent=timedelta(seconds=10)), spec(), True),
        (run("started", started=timedelta(seconds=60)), spec(), True),  # within the task's time_limit 120 s
        (run("started", started=timedelta(seconds=130)), spec(), False),  # past it: the worker killed it
        (run("started", started=timedelta(minutes=30), task="quick"), spec(task="quick"), True),
        (run("started", started=timedelta(minutes=61), task="quick"), spec(task="quick"), False),
    ],
)
def test_busy(last: Run | None, schedule: ScheduleSpec, blocked: bool) -> None:
    assert (busy(last, schedule, CONFIG, NOW) is not None) is blocked


def test_a_batch_claims_records_and_sends_each_due_time() -> None:
    on_time = spec()
    catching_up = spec(catchup="all")
    dues_on_time = [NOW - timedelta(milliseconds=10)]
    dues_missed = [NOW - timedelta(minutes=3), NOW - timedelta(minutes=2), NOW - timedelta(milliseconds=10)]
    batch = plan_batch(
        [(entry("a", on_time), on_time, dues_on_time), (entry("b", catching_up), catching_up, dues_missed)],
        {}, CONFIG, NOW, set(),
    )
    assert [(r.schedule, r.trigger, r.state) for r in batch.runs] == [
        ("a", "scheduled", "queued"), ("b", "catchup", "queued"), ("b", "catchup", "queued"), ("b", "scheduled", "queued")
    ]
    assert list(batch.outgoing) == [task_id("a", dues_on_time[0])] + [task_id("b", d) for d in dues_missed]
    claim = {c.name: c for c in batch.claims}["b"]
    assert (claim.first_due, claim.last_due, claim.count) == (dues_missed[0], dues_missed[-1], 3)
    assert claim.task_id == task_id("b", dues_missed[-1]) and claim.cursor == NOW


def test_overlap_skip_records_the_skip_and_sends_nothing() -> None:
    schedule = spec(overlap="skip")
    due = [NOW]
    batch = plan_batch([(entry("s", schedule), schedule, due)], {"s": run("started", started=timedelta(seconds=5))},
                       CONFIG, NOW, set())
    assert batch.outgoing == {}
    assert [(r.state, r.note) for r in batch.runs] == [
        ("skipped", f"its run due {(NOW - timedelta(minutes=1)).isoformat()} is still started")
    ]
    claim = batch.claims[0]
    assert (claim.count, claim.task_id, claim.cursor) == (0, None, NOW)  # the due time is handled: never again


def test_internal_entries_have_no_claim_of_their_own() -> None:
    schedule = spec(task="celery.backend_cleanup", cron="0 4 * * *", every=None)
    batch = plan_batch([(entry("celery.backend_cleanup", schedule), schedule, [NOW])], {}, CONFIG, NOW,
                       {"celery.backend_cleanup"})
    assert batch.claims == [] and list(batch.outgoing) == [task_id("celery.backend_cleanup", NOW)]
