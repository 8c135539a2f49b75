"""The run ledger against real workers: copies of a run execute once, every outcome is recorded, overlap reads it."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kombu
import pytest

from gitbeat.app import create_app
from gitbeat.runtime import files_config
from gitbeat.sending import Outgoing, Sender, task_id
from gitbeat.store import Store
from gitbeat.store.beat import BeatStore
from gitbeat.store.runs import NewRun, Run, RunLedger
from tests.integration.cluster import HANDLER, Cluster
from tests.integration.conftest import rabbitmq_available

pytestmark = pytest.mark.integration

HANDLERS = HANDLER + '''

_calls = {}


def flaky(name):
    """Fails once per run with ConnectionError (retried), then records itself."""
    from celery import current_task

    if current_task.request.retries == 0:
        raise ConnectionError("not yet: the first try always fails")
    return record(name)


def broken(name):
    raise ValueError(f"{name} is broken\\nsecond line")
'''

TASKS = """
queues:
  work: {}
  mail:
    dead_letter: true
tasks:
  exec.record:
    handler: counting:record
    queue: work
    acks_late: true
  exec.flaky:
    handler: counting:flaky
    queue: work
    acks_late: true
    retry: {on: [ConnectionError], max_retries: 3, delay: 0.2, jitter: false}
  exec.broken:
    handler: counting:broken
    queue: work
  exec.dead:
    handler: counting:broken
    queue: mail
    acks_late: true
  exec.quiet:
    handler: counting:record
    queue: work
    acks_late: true
    ignore_result: true
    expires: 3s
"""

SCHEDULES = """
schedules:
  copied: {task: exec.record, cron: "0 0 1 1 *", args: [copied]}
  ok: {task: exec.record, cron: "0 0 1 1 *", args: [ok]}
  flaky: {task: exec.flaky, cron: "0 0 1 1 *", args: [flaky]}
  broken: {task: exec.broken, cron: "0 0 1 1 *", args: [broken]}
  dead: {task: exec.dead, cron: "0 0 1 1 *", args: [dead]}
"""


def make_cluster(root: Path, database: str, broker: str, schedules: str = SCHEDULES) -> Cluster:
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "counting.py").write_text(HANDLERS)
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent(TASKS))
    (root / "schedules" / "s.yaml").write_text(textwrap.dedent(schedules))
    cluster = Cluster(root, database, broker)
    cluster.setup()
    return cluster


@pytest.fixture
def cluster(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    rabbitmq_available()
    made = make_cluster(tmp_path / "project", server_url, f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    yield made
    made.close()


def claim_and_send(cluster: Cluster, schedule: str, due: datetime, copies: int = 1) -> str:
    """Record one run of `schedule` as beat would, then send `copies` copies of its message."""
    store = Store(cluster.gitbeat_url())
    config = files_config(cluster.project)
    run_id = task_id(schedule, due)
    spec = _spec(cluster, schedule)
    try:
        _, recorded = BeatStore(store).claim([], [NewRun(run_id, schedule, due, spec.task, "manual")], 1, due)
        assert recorded == {run_id}
        sender = Sender(create_app(cluster.project, cluster.settings(), config, name=f"test-{schedule}"),
                        transactional=False)
        for _ in range(copies):
            sender.send([Outgoing(run_id, schedule, due, "manual", spec)], config, 1)
    finally:
        store.engine.dispose()
    return run_id


def _spec(cluster: Cluster, schedule: str) -> Any:
    from gitbeat.loader import load_config

    config, _ = load_config(cluster.project)
    return config.schedules[schedule]


def wait_for(condition: Callable[[], bool], cluster: Cluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.2)


def ledger_run(cluster: Cluster, run_id: str) -> Run:
    store = Store(cluster.gitbeat_url())
    try:
        found = RunLedger(store).get(run_id)
    finally:
        store.engine.dispose()
    assert found is not None
    return found


def test_copies_of_a_run_execute_once(cluster: Cluster) -> None:
    cluster.start("worker")
    due = datetime(2026, 1, 1, tzinfo=UTC)
    run_id = claim_and_send(cluster, "copied", due, copies=3)
    wait_for(lambda: ledger_run(cluster, run_id).state == "succeeded", cluster)
    time.sleep(1.5)  # the other copies arrive and are dropped
    assert cluster.query("SELECT count(*) FROM executions WHERE task_id = %s", run_id) == [(1,)]
    logs = cluster.logs(limit=100_000)
    assert logs.count(f"exec.record[{run_id}]: dropped a copy of its message") == 2, logs
    # A copy that comes after the outcome is dropped too.
    claim_again = Sender(create_app(cluster.project, cluster.settings(), files_config(cluster.project), name="late"),
                         transactional=False)
    claim_again.send([Outgoing(run_id, "copied", due, "manual", _spec(cluster, "copied"))],
                     files_config(cluster.project), 1)
    wait_for(lambda: cluster.logs(limit=100_000).count(f"[{run_id}]: dropped a copy") == 3, cluster)
    assert cluster.query("SELECT count(*) FROM executions WHERE task_id = %s", run_id) == [(1,)]


def test_the_ledger_records_every_outcome(cluster: Cluster) -> None:
    cluster.start("worker")
    due = datetime(2026, 1, 1, tzinfo=UTC)
    ids = {name: claim_and_send(cluster, name, due) for name in ("ok", "flaky", "broken", "dead")}
    wait_for(lambda: all(ledger_run(cluster, i).state not in ("queued", "started", "retrying") for i in ids.values()),
             cluster)
    runs = {name: ledger_run(cluster, run_id) for name, run_id in ids.items()}
    assert {name: (run.state, run.retries) for name, run in runs.items()} == {
        "ok": ("succeeded", 0), "flaky": ("succeeded", 1), "broken": ("failed", 0), "dead": ("dead-lettered", 0),
    }
    assert (runs["broken"].error_type, runs["broken"].error) == ("ValueError", "broken is broken")
    assert runs["dead"].error_type == "ValueError"
    for run in runs.values():
        assert run.started_at is not None and run.finished_at is not None and run.worker
        assert run.runtime is not None and 0 <= run.runtime < 10
    assert runs["flaky"].error_type == "ConnectionError"  # the last failure is kept beside the success
    listed = cluster.gitbeat("runs", "--format", "json")
    assert '"state": "dead-lettered"' in listed and '"retries": 1' in listed


OVERLAP = """
schedules:
  solo:
    task: exec.quiet
    every: 1s
    overlap: skip
    args: [solo]
"""


def test_overlap_skip_recovers_after_a_lost_message(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> None:
    """The first message is lost (purged); the schedule is busy for its `expires` (3 s), then runs again.

    The task ignores its result: the ledger, not the result backend, tells whether a run is busy.
    """
    rabbitmq_available()
    broker = f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}"
    cluster = make_cluster(tmp_path / "project", server_url, broker, OVERLAP)
    try:
        cluster.start("beat")
        wait_for(lambda: bool(cluster.query("SELECT 1 FROM gitbeat_runs WHERE sent_at IS NOT NULL")), cluster)
        with kombu.Connection(broker) as connection:
            purged = connection.default_channel.queue_purge("work")
        assert purged >= 1
        cluster.start("worker")
        wait_for(lambda: bool(cluster.query("SELECT 1 FROM executions")), cluster, timeout=20)
        # The lost run blocked the schedule for its `expires` (3 s from when it was sent), and no longer.
        ((lost_sent,),) = cluster.query("SELECT min(sent_at) FROM gitbeat_runs WHERE state <> 'skipped'")
        ((first_due,),) = cluster.query("SELECT min(due) FROM executions")
        assert lost_sent + timedelta(seconds=3) <= first_due + timedelta(seconds=1)  # a due time within the last second
        assert first_due - lost_sent < timedelta(seconds=3 + 2), "the schedule stayed blocked after the lost message"
        skipped = cluster.query("SELECT note FROM gitbeat_runs WHERE state = 'skipped'")
        assert skipped and all("is still queued" in note for (note,) in skipped)
        time.sleep(4)
        # Runs go on: about one a second (a run busy for its ~0 s is never skipped again).
        (count,) = cluster.query("SELECT count(*) FROM executions")[0]
        assert count >= 3, cluster.logs()
    finally:
        cluster.close()


def test_celerys_backend_cleanup_deletes_expired_results(cluster: Cluster) -> None:
    """What beat's `celery.backend_cleanup` entry runs: on a database backend, results past CELERY_RESULT_EXPIRES go."""
    cluster.start("worker")
    due = datetime(2026, 1, 1, tzinfo=UTC)
    old, recent = claim_and_send(cluster, "ok", due), claim_and_send(cluster, "copied", due)

    def succeeded() -> int:
        try:
            return len(cluster.query("SELECT 1 FROM celery_taskmeta WHERE task_id IN (%s, %s) AND status = 'SUCCESS'",
                                     old, recent))
        except Exception as error:
            if "celery_taskmeta" in str(error):
                return 0  # the worker makes the table when it stores its first result (the sender needs none)
            raise

    # Both final: a worker tracking `started` writes the row first, and its success would undo the aging below.
    wait_for(lambda: succeeded() == 2, cluster)
    two_days_ago = "now() - INTERVAL 2 DAY" if cluster.mysql else "now() - interval '2 days'"
    cluster.query(f"UPDATE celery_taskmeta SET date_done = {two_days_ago} WHERE task_id = %s", old)
    app = create_app(cluster.project, cluster.settings(), files_config(cluster.project), name="cleanup")
    cleanup = app.send_task("celery.backend_cleanup")
    wait_for(lambda: not cluster.query("SELECT 1 FROM celery_taskmeta WHERE task_id = %s", old), cluster)
    assert cluster.query("SELECT 1 FROM celery_taskmeta WHERE task_id = %s", recent) == [(1,)]
    assert cleanup.get(timeout=10) is None


def test_a_workers_ledger_writes_are_seen_by_everyone_on_every_store(database_url: str, tmp_path: Path) -> None:
    """The worker's ledger is autocommit, one statement each: each write is committed, on SQLite too (where an
    explicit BEGIN once opened a transaction that returning the connection rolled back: every run stayed queued)."""
    from gitbeat.runrecord import ledger_for
    from gitbeat.settings import normalise_database_url

    url = normalise_database_url(database_url, tmp_path)
    reader = Store(url)
    reader.upgrade()
    due = datetime(2026, 1, 1, tzinfo=UTC)
    run_id = task_id("nightly", due)
    try:
        BeatStore(reader).claim([], [NewRun(run_id, "nightly", due, "exec.record", "manual")], None, due)
        worker = ledger_for(url)
        assert worker.start(run_id, "send-1:0", 0, "w1", due) is None
        assert RunLedger(reader).get(run_id).state == "started"  # type: ignore[union-attr]
        assert worker.start(run_id, "send-2:0", 0, "w2", due) == "it is running on w1"
        worker.finish(run_id, "succeeded", due + timedelta(seconds=2))
        found = RunLedger(reader).get(run_id)
        assert found is not None and (found.state, found.runtime) == ("succeeded", pytest.approx(2.0, abs=0.01))
    finally:
        reader.engine.dispose()
