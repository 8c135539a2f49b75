"""Real `gitbeat beat` processes against the real PostgreSQL and RabbitMQ.

Each test gets its own database and queue; a consumer thread records every message
with the time it arrived, so tests check ids, due times, arrival delays and gaps.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import kombu
import pytest

from gitbeat.scheduler import task_id
from tests.conftest import gitbeat
from tests.integration.conftest import AMQP, rabbitmq_available
from tests.integration.rabbitnode import RabbitNode
from tests.integration.test_store import rows

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Message:
    id: str
    schedule: str
    due: datetime
    args: list
    arrived: float


class Consumer(threading.Thread):
    """Collects the messages of one queue as they arrive."""

    def __init__(self, queue: str) -> None:
        super().__init__(daemon=True)
        self.queue = queue
        self.messages: list[Message] = []
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        with kombu.Connection(AMQP) as connection:
            queue = kombu.Queue(self.queue, kombu.Exchange(self.queue, "direct"), self.queue)
            with connection.Consumer(queue, callbacks=[self._on_message], accept=["json"]):
                self.ready.set()
                while not self.stopping.is_set():
                    try:
                        connection.drain_events(timeout=0.1)
                    except TimeoutError:
                        pass

    def _on_message(self, body: object, message: kombu.Message) -> None:
        arrived = time.time()
        headers = message.headers
        args = body[0] if isinstance(body, list) else []
        self.messages.append(
            Message(headers["id"], headers["gitbeat_schedule"], datetime.fromisoformat(headers["gitbeat_due"]),
                    args, arrived)
        )
        message.ack()

    def stop(self) -> list[Message]:
        time.sleep(0.3)
        self.stopping.set()
        self.join(timeout=5)
        return sorted(self.messages, key=lambda m: m.due)


@pytest.fixture
def queue_name() -> Iterator[str]:
    name = f"gitbeat-test-{uuid.uuid4().hex[:10]}"
    rabbitmq_available()
    yield name
    with kombu.Connection(AMQP) as connection:
        channel = connection.channel()
        for queue in (name,):
            try:
                channel.queue_delete(queue)
            except Exception:  # noqa: BLE001
                pass


@pytest.fixture
def consumer(queue_name: str) -> Iterator[Consumer]:
    started = Consumer(queue_name)
    # Declare first so no message published before the consumer starts is dropped.
    with kombu.Connection(AMQP) as connection:
        kombu.Queue(queue_name, kombu.Exchange(queue_name, "direct"), queue_name)(connection.channel()).declare()
    started.start()
    started.ready.wait(10)
    yield started
    started.stopping.set()


def beat_project(root: Path, queue: str, *, every: str = "1s", catchup: str = "latest", args: str = "[1]") -> Path:
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    (root / "handlers.py").write_text("def ping(n=0):\n    return n\n")
    (root / "tasks" / "t.yaml").write_text(
        textwrap.dedent(
            f"""
            queues:
              {queue}: {{}}
            tasks:
              ping:
                handler: handlers:ping
                queue: {queue}
            """
        )
    )
    (root / "schedules" / "s.yaml").write_text(
        textwrap.dedent(
            f"""
            schedules:
              tick:
                task: ping
                every: {every}
                catchup: {catchup}
                args: {args}
            """
        )
    )
    return root


class Beats:
    """Starts `gitbeat beat` processes and makes sure none outlives the test."""

    def __init__(self, project: Path, url: str, broker: str | None = None) -> None:
        self.project, self.url, self.broker = project, url, broker
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        environment = {**os.environ, "CELERY_BROKER": "rabbitmq", "PYTHONDONTWRITEBYTECODE": "1"}
        if self.broker:
            environment["CELERY_BROKER_URL"] = self.broker
        log = open(self.project / f"beat-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "gitbeat", "beat", "--config", str(self.project), "--database", self.url],
            cwd=self.project, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.project.glob("beat-*.log")))

    def close(self) -> None:
        for process in self.processes:
            self.stop(process, signal.SIGKILL)


@pytest.fixture
def beats(tmp_path: Path, postgres_url: str, queue_name: str) -> Iterator[Beats]:
    project = beat_project(tmp_path / "project", queue_name)
    started = Beats(project, postgres_url)
    yield started
    started.close()


def apply(beats: Beats) -> float:
    result = gitbeat("apply", "--config", beats.project, "--database", beats.url, cwd=beats.project)
    assert result.returncode == 0, result.stderr
    return time.time()


def wait_for_leader(beats: Beats, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(beats.url, beats.project, "SELECT pid FROM gitbeat_beats WHERE role = 'leader'")
        if found:
            return found[0][0]
        time.sleep(0.1)
    raise AssertionError("no beat took the lead:\n" + beats.logs())


def assert_unique_and_deterministic(messages: list[Message]) -> None:
    ids = [m.id for m in messages]
    assert len(ids) == len(set(ids)), "a due time was sent twice"
    for message in messages:
        assert message.id == task_id(message.schedule, message.due)


def seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def test_every_second_fires_on_time_with_deterministic_ids(beats: Beats, consumer: Consumer) -> None:
    apply(beats)
    beats.start()
    wait_for_leader(beats)
    time.sleep(5)
    beats.close()
    messages = consumer.stop()
    assert len(messages) >= 4, beats.logs()
    assert_unique_and_deterministic(messages)
    (anchor,) = rows(beats.url, beats.project, "SELECT anchor_at FROM gitbeat_schedules")[0]
    for earlier, later in zip(messages, messages[1:]):
        assert seconds(earlier.due, later.due) == 1.0  # anchored: no drift, no gap
    for message in messages[1:]:
        assert seconds(anchor, message.due) % 1 == 0
        assert message.arrived - message.due.timestamp() < 0.2, "sent late"
    (count,) = rows(beats.url, beats.project, "SELECT run_count FROM gitbeat_schedules")[0]
    assert count == len(messages)


def test_three_beats_at_once_send_each_due_time_once(beats: Beats, consumer: Consumer) -> None:
    apply(beats)
    for _ in range(3):
        beats.start()
    wait_for_leader(beats)
    time.sleep(5)
    roles = rows(beats.url, beats.project, "SELECT role FROM gitbeat_beats ORDER BY role")
    assert [r[0] for r in roles] == ["leader", "standby", "standby"]
    status = gitbeat("status", "--config", beats.project, "--database", beats.url, cwd=beats.project)
    assert sum(" leader, up since " in line for line in status.stdout.splitlines()) == 1
    beats.close()
    messages = consumer.stop()
    assert len(messages) >= 4
    assert_unique_and_deterministic(messages)
    dues = [m.due for m in messages]
    assert all(seconds(a, b) == 1.0 for a, b in zip(dues, dues[1:]))


def test_killing_the_leader_hands_over_within_5s_losing_nothing(
    tmp_path: Path, postgres_url: str, queue_name: str, consumer: Consumer
) -> None:
    project = beat_project(tmp_path / "project", queue_name, catchup="all")
    beats = Beats(project, postgres_url)
    try:
        apply(beats)
        first, second = beats.start(), beats.start()
        leader_pid = wait_for_leader(beats)
        leader = first if first.pid == leader_pid else second
        time.sleep(3)
        killed_at = time.time()
        beats.stop(leader, signal.SIGKILL)
        time.sleep(7)
    finally:
        beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    dues = [m.due for m in messages]
    assert all(seconds(a, b) == 1.0 for a, b in zip(dues, dues[1:])), "a due time was lost"
    after_kill = [m for m in messages if m.arrived > killed_at]
    assert after_kill, beats.logs()
    assert after_kill[0].arrived - killed_at <= 5.0, "the standby took over too late"
    assert dues[-1].timestamp() > killed_at + 4


def test_an_applied_change_is_used_within_half_a_second(beats: Beats, consumer: Consumer) -> None:
    apply(beats)
    beats.start()
    wait_for_leader(beats)
    time.sleep(2)
    schedules = beats.project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text().replace("args: [1]", "args: [2]"))
    applied_at = apply(beats)
    time.sleep(3)
    beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    assert [m.args for m in messages if m.due.timestamp() < applied_at - 1.5] and all(
        m.args == [1] for m in messages if m.due.timestamp() < applied_at - 1.5
    )
    late = [m for m in messages if m.due.timestamp() >= applied_at + 0.5]
    assert late and all(m.args == [2] for m in late), [(m.due, m.args) for m in messages]


def sleep_until(moment: float) -> None:
    time.sleep(max(moment - time.time(), 0))


@pytest.mark.parametrize("catchup", ["latest", "skip"])
def test_a_restart_catches_up_by_mode(
    tmp_path: Path, postgres_url: str, queue_name: str, consumer: Consumer, catchup: str
) -> None:
    """every 6s: stopped after the first run, restarted so that it leads ~3 s after a missed due time."""
    project = beat_project(tmp_path / "project", queue_name, every="6s", catchup=catchup)
    beats = Beats(project, postgres_url)
    try:
        apply(beats)
        (anchor,) = rows(beats.url, beats.project, "SELECT anchor_at FROM gitbeat_schedules")[0]
        anchor = anchor.timestamp()
        process = beats.start()
        sleep_until(anchor + 7)
        beats.stop(process)
        sleep_until(anchor + 12 + 3 - 1.2)  # a beat takes about 1.2 s to lead
        restarted_at = time.time()
        beats.start()
        sleep_until(anchor + 19)
    finally:
        beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    by_due = {round(m.due.timestamp() - anchor): m for m in messages}
    assert 6 in by_due and 18 in by_due, sorted(by_due)  # the runs before the stop and after the restart
    assert by_due[18].arrived - (anchor + 18) < 0.5
    if catchup == "latest":
        assert sorted(by_due) == [6, 12, 18]
        assert by_due[12].arrived > restarted_at  # sent late, once, by the restarted beat
    else:
        assert sorted(by_due) == [6, 18]


def test_the_database_going_away_is_logged_and_survived(beats: Beats, consumer: Consumer) -> None:
    import psycopg2

    apply(beats)
    beats.start()
    wait_for_leader(beats)
    time.sleep(2)
    database = beats.url.rsplit("/", 1)[1]
    admin = psycopg2.connect(beats.url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    outage = time.time()
    time.sleep(4)
    with admin.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    restored = time.time()
    admin.close()
    time.sleep(8)
    beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    log = beats.logs()
    retries = [line for line in log.splitlines() if "beat: database unavailable (" in line]
    assert retries, log
    assert all("retrying in" in line and "Traceback" not in line for line in retries)
    assert "Traceback" not in log
    assert any(m.due.timestamp() > restored + 3 for m in messages), "beat did not resume"
    (count,) = rows(beats.url, beats.project, "SELECT run_count FROM gitbeat_schedules")[0]
    assert count == len(messages)  # every recorded run was sent, every sent run recorded
    assert outage < restored


def test_a_broker_restart_is_survived_and_every_claimed_run_is_sent_once(
    tmp_path: Path, postgres_url: str, queue_name: str, rabbit_node: RabbitNode
) -> None:
    """On a RabbitMQ node of the test's own: runs claimed while it is down are sent when it is back, each once."""
    project = beat_project(tmp_path / "project", queue_name, catchup="all")
    beats = Beats(project, postgres_url, broker=rabbit_node.url)
    try:
        apply(beats)
        beats.start()
        wait_for_leader(beats)
        time.sleep(2)
        rabbit_node.stop_app()
        try:
            time.sleep(3)
        finally:
            rabbit_node.start_app()
        started = time.time()
        time.sleep(8)
    finally:
        beats.close()
    log = beats.logs()
    assert re.search(r"could not send \d+ run\(s\) to the broker \(.*\); they stay claimed", log), log
    assert "Traceback" not in log.split("beat: Starting...")[-1]
    ids = drain(rabbit_node.url, queue_name)
    assert len(ids) == len(set(ids)), "a run was sent twice"
    claimed = rows(beats.url, beats.project, "SELECT task_id FROM gitbeat_runs WHERE sent_at IS NOT NULL")
    assert sorted(ids) == sorted(task_id for (task_id,) in claimed), "a sent run is missing, or one was not recorded"
    (count,) = rows(beats.url, beats.project, "SELECT run_count FROM gitbeat_schedules")[0]
    assert count == len(ids)
    (last,) = rows(beats.url, beats.project, "SELECT last_run_at FROM gitbeat_schedules")[0]
    assert last.timestamp() > started + 3, "beat did not resume after the broker came back"


def drain(url: str, queue: str) -> list[str]:
    """The task ids of every message in `queue`, taken off it."""
    found = []
    with kombu.Connection(url) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            found.append(message.headers["id"])
    return found


def beats_queue(beats: Beats) -> str:
    text = (beats.project / "tasks" / "t.yaml").read_text()
    return text.split("queues:")[1].split(":")[0].strip()


def test_an_at_schedule_fires_once_then_shows_as_done(
    tmp_path: Path, postgres_url: str, queue_name: str, consumer: Consumer
) -> None:
    project = beat_project(tmp_path / "project", queue_name)
    # naive, so in the schedule's timezone: UTC here
    moment = datetime.fromtimestamp(time.time() + 4, timezone.utc).replace(microsecond=0, tzinfo=None)
    schedules = project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text().replace("every: 1s", f"at: {moment.isoformat()}"))
    beats = Beats(project, postgres_url)
    try:
        apply(beats)
        beats.start()
        time.sleep(8)
        status = gitbeat("status", "--config", project, "--database", postgres_url, cwd=project)
    finally:
        beats.close()
    messages = consumer.stop()
    assert [m.due.replace(tzinfo=None) for m in messages] == [moment]
    assert "1 done (one-off, fired)" in status.stdout


def test_schedule_options_reach_the_message(
    tmp_path: Path, postgres_url: str, queue_name: str, consumer: Consumer
) -> None:
    """queue and priority from the schedule, expires from its task, routing to a queue with max_priority."""
    project = beat_project(tmp_path / "project", queue_name)
    other = f"{queue_name}-p"
    tasks = project / "tasks" / "t.yaml"
    tasks.write_text(tasks.read_text().replace("queues:\n", f"queues:\n  {other}:\n    max_priority: 10\n")
                     + "    expires: 90s\n")
    schedules = project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text() + f"    queue: {other}\n    priority: 7\n")
    beats = Beats(project, postgres_url)
    try:
        apply(beats)
        beats.start()
        wait_for_leader(beats)
        time.sleep(3)
    finally:
        beats.close()
    assert consumer.stop() == []  # nothing went to the task's own queue
    with kombu.Connection(AMQP) as connection:
        channel = connection.channel()
        message = channel.basic_get(other, no_ack=True)
        channel.queue_delete(other)
        channel.exchange_delete(other)
    assert message is not None, beats.logs()
    assert message.properties["priority"] == 7
    headers = message.headers
    assert headers["task"] == "ping" and headers["gitbeat_schedule"] == "tick"
    sent = datetime.fromisoformat(headers["gitbeat_due"])
    expires = datetime.fromisoformat(headers["expires"])
    assert 89 <= (expires - sent).total_seconds() <= 92
