"""Operating without a pull request, on real beat and worker processes: pause, resume, trigger, backfill, health."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import kombu
import pytest

from tests.integration.cluster import HANDLER, Cluster
from tests.integration.conftest import rabbitmq_available
from tests.unit.test_error_path import free_port

pytestmark = pytest.mark.integration

TASKS = """
queues:
  work: {}
  parked:
    max_priority: 10
tasks:
  exec.record:
    handler: counting:record
    queue: work
    acks_late: true
  exec.parked:
    handler: counting:record
    queue: parked
    expires: 1h
  exec.broken:
    handler: counting:broken
    queue: work
"""
SCHEDULES = """
schedules:
  tick:
    task: exec.record
    every: 1s
    catchup: all
    args: [tick]
  yearly:
    task: exec.record
    cron: "0 0 1 1 *"
    args: [yearly]
  parked:
    task: exec.parked
    cron: "0 0 1 1 *"
    priority: 7
    routing_key: parked
    args: [parked]
  broken:
    task: exec.broken
    every: 2s
    args: [broken]
  watched:
    task: exec.record
    cron: "0 0 1 1 *"
    alert_after: 1s
    args: [watched]
"""


@pytest.fixture
def cluster(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    rabbitmq_available()
    root = tmp_path / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "counting.py").write_text(HANDLER + "\n\ndef broken(name):\n    raise ValueError('broken for good')\n")
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent(TASKS))
    (root / "schedules" / "s.yaml").write_text(textwrap.dedent(SCHEDULES))
    made = Cluster(root, server_url, f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    made.setup()
    yield made
    made.close()


def wait_for(condition: Callable[[], object], cluster: Cluster, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, cluster.logs()
        time.sleep(0.05)


def dues(cluster: Cluster, schedule: str) -> list[datetime]:
    return [due for (due,) in cluster.query(
        "SELECT due_at FROM gitbeat_runs WHERE schedule = %s AND gitbeat_runs.trigger IN ('scheduled', 'catchup') "
        "ORDER BY due_at",  # qualified: TRIGGER is a reserved word in MySQL
        schedule)]


def test_a_pause_is_honoured_at_once_kept_by_apply_and_resumed_without_catching_up(cluster: Cluster) -> None:
    cluster.start("beat")
    cluster.start("worker")
    wait_for(lambda: len(dues(cluster, "tick")) >= 2, cluster)
    cluster.gitbeat("pause", "tick", "--note", "db maintenance")
    paused_at = datetime.now(UTC)
    time.sleep(3)
    claimed = dues(cluster, "tick")
    assert claimed[-1] <= paused_at + timedelta(seconds=0.5), "beat went on firing a paused schedule"
    status = json.loads(cluster.gitbeat("status", "--format", "json"))
    tick = next(s for s in status["schedules"] if s["name"] == "tick")
    assert (tick["health"], tick["override"]["note"]) == ("paused", "db maintenance")
    # An edit of the paused schedule's YAML: plan shows the pause, apply keeps it.
    schedules = cluster.project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text().replace("args: [tick]", "args: [tick-edited]"))
    assert "Paused (apply keeps it): tick: paused by " in cluster.gitbeat("plan")
    cluster.gitbeat("apply")
    time.sleep(1.5)
    assert dues(cluster, "tick") == claimed, "apply dropped the pause"
    cluster.gitbeat("resume", "tick", "--note", "done")
    # When the resume was recorded, by the audit's own clock: not when the command's process exited.
    ((resumed_at,),) = cluster.query("SELECT max(at) FROM gitbeat_audit WHERE action = 'resume'")
    wait_for(lambda: len(dues(cluster, "tick")) > len(claimed), cluster)
    time.sleep(1.5)
    after = dues(cluster, "tick")[len(claimed):]
    assert after[0] >= resumed_at - timedelta(seconds=1), "due times of the pause were caught up"
    history = cluster.gitbeat("history")
    assert "resume tick  by " in history and "pause tick  by " in history and "— db maintenance" in history


def test_a_pause_for_a_while_ends_by_itself(cluster: Cluster) -> None:
    cluster.start("beat")
    wait_for(lambda: dues(cluster, "tick"), cluster)
    cluster.gitbeat("pause", "tick", "--for", "2s", "--note", "a short break")
    paused_at = datetime.now(UTC)
    wait_for(lambda: dues(cluster, "tick")[-1] > paused_at + timedelta(seconds=1.5), cluster, timeout=10)
    assert "resume tick  by gitbeat  — the pause expired" in cluster.gitbeat("history")


def test_trigger_routes_the_run_as_beat_would(cluster: Cluster) -> None:
    out = cluster.gitbeat("trigger", "parked", "--note", "now please")
    run_id = out.split(": run ")[1].split()[0]
    with kombu.Connection(cluster.broker) as connection:
        message = connection.default_channel.basic_get("parked", no_ack=True)
    assert message is not None
    assert message.headers["id"] == run_id and message.headers["gitbeat_schedule"] == "parked"
    assert message.headers["gitbeat_trigger"] == "manual" and message.headers["expires"]
    assert message.properties["priority"] == 7
    assert message.delivery_info["routing_key"] == "parked"
    (state, trigger, note), = cluster.query("SELECT state, gitbeat_runs.trigger, note FROM gitbeat_runs WHERE task_id = %s",
                                              run_id)
    assert (trigger, note) == ("manual", "now please") and state == "queued"


def test_a_trigger_while_the_broker_is_away_is_recorded_and_runs_once_when_beat_sends_it(cluster: Cluster) -> None:
    """Not an error that invites a retry (a retry would be a second run): recorded, then sent from the outbox."""
    away = free_port()
    cluster.extra["CELERY_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{away}//"
    out = cluster.gitbeat("trigger", "yearly", "--note", "broker down")
    del cluster.extra["CELERY_BROKER_URL"]
    run_id = out.split(": run ")[1].split()[0]
    assert f"run {run_id} recorded, not sent yet: cannot reach the broker at amqp://guest:***@127.0.0.1:{away}//" \
        in out and "the leading beat sends it when the broker is back" in out
    assert cluster.query("SELECT state, sent_at FROM gitbeat_runs WHERE task_id = %s", run_id) == [("queued", None)]
    cluster.start("worker")
    cluster.start("beat")
    wait_for(lambda: cluster.query("SELECT state FROM gitbeat_runs WHERE task_id = %s", run_id) == [("succeeded",)],
             cluster, timeout=40)
    assert cluster.query("SELECT count(*) FROM executions WHERE schedule = 'yearly'") == [(1,)]


def test_backfill_runs_each_due_time_once_however_often_repeated(cluster: Cluster) -> None:
    cluster.start("worker")
    dry = cluster.gitbeat("backfill", "yearly", "--from", "2020-01-01T00:00", "--to", "2023-01-01T00:00",
                          "--dry-run")
    assert dry.splitlines()[-1] == "4 due time(s) of yearly in the range; nothing sent (--dry-run)"
    assert cluster.query("SELECT count(*) FROM gitbeat_runs WHERE schedule = 'yearly'") == [(0,)]
    first = cluster.gitbeat("backfill", "yearly", "--from", "2020-01-01T00:00", "--to", "2023-01-01T00:00")
    assert first.splitlines()[-1] == "backfilled yearly: 4 run(s) sent, 0 already ran or were sent"
    again = cluster.gitbeat("backfill", "yearly", "--from", "2019-01-01T00:00", "--to", "2023-01-01T00:00")
    assert again.splitlines()[-1] == "backfilled yearly: 1 run(s) sent, 4 already ran or were sent"
    wait_for(lambda: cluster.query("SELECT count(*) FROM executions WHERE schedule = 'yearly'") == [(5,)], cluster)
    time.sleep(1)
    assert cluster.query("SELECT count(DISTINCT due), count(*) FROM executions WHERE schedule = 'yearly'") == [(5, 5)]
    too_many = cluster.run_gitbeat("backfill", "yearly", "--from", "2010-01-01T00:00", "--to", "2023-01-01T00:00",
                                   "--limit", "10")
    assert (too_many.returncode, too_many.stdout) == (1, "")
    assert too_many.stderr == (
        "gitbeat: error: more than 10 due times of yearly between 2010-01-01T00:00:00+00:00 and "
        "2023-01-01T00:00:00+00:00; backfill a shorter range, or raise --limit\n"
    )


def test_health_words(cluster: Cluster) -> None:
    cluster.start("beat")
    cluster.start("worker")

    def health() -> dict[str, str]:
        document = json.loads(cluster.gitbeat("status", "--format", "json"))
        return {s["name"]: s["health"] for s in document["schedules"]}

    wait_for(lambda: health()["broken"] == "failing", cluster)
    wait_for(lambda: health()["watched"] == "stale", cluster)  # alert_after 1s, and it never succeeds
    words = health()
    assert words["tick"] == "ok" and words["yearly"] == "ok"  # `late` needs a minute: tests/unit/test_health.py


def scrape(port: int) -> dict[str, float]:
    """The samples of a /metrics page: `name{labels}` -> value."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def test_a_running_beat_serves_metrics_that_follow_the_runs(cluster: Cluster) -> None:
    from tests.unit.test_error_path import free_port

    port = free_port()
    cluster.extra["GITBEAT_METRICS_PORT"] = str(port)
    cluster.start("beat")
    cluster.start("worker")
    wait_for(lambda: _up(port) and any(k.startswith("gitbeat_beat_leader{") for k in scrape(port)), cluster)
    first = scrape(port)
    assert [value for key, value in first.items() if key.startswith("gitbeat_beat_leader{")] == [1.0]

    def succeeded(samples: dict[str, float]) -> float:
        return samples.get('gitbeat_schedule_runs_total{name="tick",state="succeeded"}', 0.0)

    wait_for(lambda: succeeded(scrape(port)) >= 2, cluster)
    before = succeeded(scrape(port))
    time.sleep(2.5)
    later = scrape(port)
    assert succeeded(later) >= before + 2
    assert later['gitbeat_schedule_health{health="ok",name="tick"}'] == 1.0
    wait_for(lambda: scrape(port).get('gitbeat_schedule_health{health="failing",name="broken"}') == 1.0, cluster)
    assert later['gitbeat_schedule_lag_seconds_count{name="tick"}'] >= 2
    assert later['gitbeat_schedule_last_success_timestamp_seconds{name="tick"}'] > time.time() - 10
    assert any(key.startswith('gitbeat_beat_fires_total{name="tick",queue="work"}') for key in later)
    assert any(key.startswith("gitbeat_revision_info{") for key in later)


def _up(port: int) -> bool:
    try:
        scrape(port)
    except OSError:
        return False
    return True
