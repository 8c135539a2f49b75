"""Real `gitbeat beat` processes against the real PostgreSQL and RabbitMQ.

Each test gets its own database and queue; a consumer thread records every message
with the time it arrived, so tests check ids, due times, arrival delays and gaps.
Tests wait for what they need (messages, log lines, rows) rather than for fixed times,
and stop a beat once it has sent a run and marked it sent (`settle`): the next claim is
most of a period away then, so every run it claimed was sent and known to be, the
ledger's counts are exact, and no later leader sends a run again.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import amqp
import kombu
import psycopg2
import pytest
import sqlalchemy as sa

from gitbeat.scheduler import task_id
from tests.conftest import gitbeat
from tests.integration.cluster import dbapi_connect, kill_session, mariadb_user
from tests.integration.conftest import AMQP, rabbitmq_available, wait_until
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
        self.markers: set[str] = set()
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
        if "test_marker" in headers:
            self.markers.add(headers["test_marker"])
            message.ack()
            return
        args = body[0] if isinstance(body, list) else []
        self.messages.append(
            Message(headers["id"], headers["gitbeat_schedule"], datetime.fromisoformat(headers["gitbeat_due"]),
                    args, arrived)
        )
        message.ack()

    def wait_for(self, condition: Callable[[list[Message]], bool], timeout: float, logs: Callable[[], str],
                 what: str) -> list[Message]:
        """The messages so far, once `condition` holds for them."""

        def arrived() -> list[Message]:
            messages = list(self.messages)
            return messages if condition(messages) else []

        return wait_until(arrived, timeout,
                          lambda: f"{what}; got {[(m.due, m.args) for m in self.messages]}:\n{logs()}")

    def wait_for_count(self, count: int, timeout: float, logs: Callable[[], str]) -> list[Message]:
        return self.wait_for(lambda messages: len(messages) >= count, timeout, logs, f"{count} message(s)")

    def stop(self) -> list[Message]:
        """Every message of the queue, by due time. Call it when no beat runs: what a beat sent is in the queue
        then, and a marker published now arrives after all of it (a queue is FIFO)."""
        marker = uuid.uuid4().hex
        with kombu.Connection(AMQP) as connection:
            connection.Producer().publish({}, exchange=self.queue, routing_key=self.queue, serializer="json",
                                          headers={"test_marker": marker})
        wait_until(lambda: marker in self.markers, timeout=10, message="the consumer did not get its marker")
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
            except Exception:
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
        log = open(self.project / f"beat-{len(self.processes)}.log", "w")
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
def beats(tmp_path: Path, server_url: str, queue_name: str) -> Iterator[Beats]:
    """Beats of a project on this test's own database: PostgreSQL, then MariaDB."""
    project = beat_project(tmp_path / "project", queue_name)
    started = Beats(project, server_url)
    yield started
    started.close()


def apply(beats: Beats) -> float:
    result = gitbeat("apply", "--config", beats.project, "--database", beats.url, cwd=beats.project)
    assert result.returncode == 0, result.stderr
    return time.time()


def wait_for_leader(beats: Beats, timeout: float = 30) -> int:  # starting takes seconds on a busy machine
    def leader() -> list[tuple]:
        try:
            return rows(beats.url, beats.project, "SELECT pid FROM gitbeat_beats WHERE role = 'leader'")
        except sa.exc.ProgrammingError:  # a beat started on an empty database has not made its tables yet
            return []

    return wait_until(leader, timeout, lambda: "no beat took the lead:\n" + beats.logs(), step=0.1)[0][0]


def unsent(beats: Beats) -> int:
    """Runs claimed and not (yet) known to be sent."""
    return rows(beats.url, beats.project, "SELECT count(*) FROM gitbeat_runs WHERE sent_at IS NULL")[0][0]


def settle(beats: Beats) -> None:
    """Wait until every claimed run is marked sent: call it just after a message arrived, before stopping a beat."""
    wait_until(lambda: unsent(beats) == 0, timeout=2, message=beats.logs, step=0.02)


def roles(beats: Beats) -> list[str]:
    return [role for (role,) in rows(beats.url, beats.project, "SELECT role FROM gitbeat_beats ORDER BY role")]


def assert_unique_and_deterministic(messages: list[Message]) -> None:
    ids = [m.id for m in messages]
    assert len(ids) == len(set(ids)), "a due time was sent twice"
    for message in messages:
        assert message.id == task_id(message.schedule, message.due)


def seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def contiguous(messages: list[Message]) -> bool:
    """A message for every second from the first due time to the last (of an every-1s schedule)."""
    dues = sorted({m.due for m in messages})
    return bool(dues) and all(seconds(a, b) == 1.0 for a, b in itertools.pairwise(dues))


def anchor_of(beats: Beats) -> datetime:
    """The schedule's anchor as stored; MariaDB's DATETIME(6) holds it in UTC without an offset."""
    (anchor,) = rows(beats.url, beats.project, "SELECT anchor_at FROM gitbeat_schedules")[0]
    return anchor if anchor.tzinfo else anchor.replace(tzinfo=UTC)


def test_every_second_fires_on_time_with_deterministic_ids(beats: Beats, consumer: Consumer) -> None:
    apply(beats)
    beats.start()
    wait_for_leader(beats)
    consumer.wait_for_count(4, timeout=5, logs=beats.logs)  # every 1 s: at least 4 in 5 s
    settle(beats)
    beats.close()
    messages = consumer.stop()
    assert len(messages) >= 4, beats.logs()
    assert_unique_and_deterministic(messages)
    anchor = anchor_of(beats)
    for earlier, later in itertools.pairwise(messages):
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
    consumer.wait_for_count(4, timeout=5, logs=beats.logs)
    wait_until(lambda: roles(beats) == ["leader", "standby", "standby"], timeout=5, step=0.1,
               message=lambda: f"{roles(beats)}\n{beats.logs()}")
    status = gitbeat("status", "--config", beats.project, "--database", beats.url, cwd=beats.project)
    assert sum(" leader, up since " in line for line in status.stdout.splitlines()) == 1
    beats.close()
    messages = consumer.stop()
    assert len(messages) >= 4
    assert_unique_and_deterministic(messages)
    dues = [m.due for m in messages]
    assert all(seconds(a, b) == 1.0 for a, b in itertools.pairwise(dues))


def test_killing_the_leader_hands_over_within_5s_losing_nothing(
    tmp_path: Path, server_url: str, queue_name: str, consumer: Consumer
) -> None:
    project = beat_project(tmp_path / "project", queue_name, catchup="all")
    beats = Beats(project, server_url)
    try:
        apply(beats)
        first, second = beats.start(), beats.start()
        leader_pid = wait_for_leader(beats)
        leader = first if first.pid == leader_pid else second
        consumer.wait_for_count(3, timeout=5, logs=beats.logs)  # it leads and sends
        settle(beats)
        killed_at = time.time()
        beats.stop(leader, signal.SIGKILL)
        # A run the killed leader claimed but did not send is sent again by the new one 5 s after its claim.
        consumer.wait_for(
            lambda messages: contiguous(messages) and max(m.due.timestamp() for m in messages) > killed_at + 4,
            timeout=7, logs=beats.logs, what="every run up to one due 4 s after the kill")
    finally:
        beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    dues = [m.due for m in messages]
    assert all(seconds(a, b) == 1.0 for a, b in itertools.pairwise(dues)), "a due time was lost"
    after_kill = [m for m in messages if m.arrived > killed_at]
    assert after_kill, beats.logs()
    assert after_kill[0].arrived - killed_at <= 5.0, "the standby took over too late"
    assert dues[-1].timestamp() > killed_at + 4


def test_an_applied_change_is_used_within_half_a_second(beats: Beats, consumer: Consumer) -> None:
    apply(beats)
    beats.start()
    wait_for_leader(beats)
    consumer.wait_for(lambda messages: any(m.due.timestamp() < time.time() - 1.5 for m in messages), timeout=5,
                      logs=beats.logs, what="a run due 1.5 s before the change")  # apply takes about 1 s
    schedules = beats.project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text().replace("args: [1]", "args: [2]"))
    applied_at = apply(beats)
    consumer.wait_for(lambda messages: len([m for m in messages if m.due.timestamp() >= applied_at + 0.5]) >= 2,
                      timeout=3, logs=beats.logs, what="two runs due 0.5 s after the change")
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


PERIOD = 5  # s


class LeaderLock:
    """The beat leader's lock, held by the test: PostgreSQL's advisory lock or MariaDB's GET_LOCK, on a session of
    its own."""

    def __init__(self, url: str) -> None:
        from gitbeat.store.database import lock_name
        from gitbeat.store.leadership import BEAT_LOCK

        self.connection = dbapi_connect(url)
        self.mysql = url.startswith("mysql")
        self.key: object = lock_name(url.rsplit("/", 1)[1], "beat") if self.mysql else BEAT_LOCK

    def _run(self, pg: str, mysql: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(mysql if self.mysql else pg, (self.key,))

    def hold(self) -> None:
        self._run("SELECT pg_advisory_lock(%s)", "SELECT GET_LOCK(%s, 10)")

    def release(self) -> None:
        self._run("SELECT pg_advisory_unlock(%s)", "SELECT RELEASE_LOCK(%s)")

    def close(self) -> None:
        self.connection.close()


@pytest.mark.parametrize("catchup", ["latest", "skip"])
def test_a_restart_catches_up_by_mode(
    tmp_path: Path, server_url: str, queue_name: str, consumer: Consumer, catchup: str
) -> None:
    """every 5s: stopped after the first run, so none leads at the second; started again, leading 1.5 s after it
    (past its on-time second) and 3.5 s before the third.

    No step waits for a process to start, which takes seconds on a busy machine: the first beat leads before
    the schedule is applied, and the second starts at once and stands by while the test holds the leader lock,
    which it lets go at that moment.
    """
    project = beat_project(tmp_path / "project", queue_name, every=f"{PERIOD}s", catchup=catchup)
    beats = Beats(project, server_url)
    lock = LeaderLock(server_url)
    try:
        process = beats.start()
        wait_for_leader(beats)  # before the schedule exists: its first run does not wait for a process to start
        apply(beats)
        anchor = anchor_of(beats).timestamp()
        consumer.wait_for_count(1, timeout=anchor + PERIOD + 1 - time.time(), logs=beats.logs)
        settle(beats)
        beats.stop(process)
        lock.hold()
        beats.start()
        wait_until(lambda: "stands by" in beats.logs(), timeout=anchor + 3 * PERIOD - 1 - time.time(),
                   message=beats.logs)
        sleep_until(anchor + 2 * PERIOD + 1.5)
        lock.release()
        restarted_at = time.time()  # it leads at its next leader check, within a second
        consumer.wait_for(lambda messages: any(round(m.due.timestamp() - anchor) == 3 * PERIOD for m in messages),
                          timeout=anchor + 3 * PERIOD + 1 - time.time(), logs=beats.logs, what="the third run")
    finally:
        lock.close()
        beats.close()
    messages = consumer.stop()
    assert_unique_and_deterministic(messages)
    first, missed, last = PERIOD, 2 * PERIOD, 3 * PERIOD
    by_due = {round(m.due.timestamp() - anchor): m for m in messages}
    assert first in by_due and last in by_due, sorted(by_due)  # the runs before the stop and after the restart
    assert by_due[last].arrived - (anchor + last) < 0.5
    if catchup == "latest":
        assert sorted(by_due) == [first, missed, last]
        assert by_due[missed].arrived > restarted_at  # sent late, once, by the restarted beat
    else:
        assert sorted(by_due) == [first, last]


@contextmanager
def refusable(url: str) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A URL for this test's beats, and how to make the server refuse them and let them in again.

    PostgreSQL: the database stops taking connections and its sessions end. MariaDB: the beats
    log in as a user of this test's own, which is locked and whose sessions are killed (never root).
    """
    base, database = url.rsplit("/", 1)
    if not url.startswith("mysql"):
        admin = psycopg2.connect(f"{base}/postgres")
        admin.autocommit = True

        def refuse() -> None:
            with admin.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                               (database,))

        def allow() -> None:
            with admin.cursor() as cursor:
                cursor.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

        try:
            yield url, refuse, allow
        finally:
            admin.close()
        return
    admin = dbapi_connect(url)
    try:
        with mariadb_user(url, "ALL") as (user, user_url):

            def lock() -> None:
                with admin.cursor() as cursor:
                    cursor.execute(f"ALTER USER '{user}'@'%' ACCOUNT LOCK")
                    cursor.execute("SELECT id FROM information_schema.processlist WHERE user = %s", (user,))
                    for (session,) in cursor.fetchall():
                        kill_session(admin, url, session)

            def unlock() -> None:
                with admin.cursor() as cursor:
                    cursor.execute(f"ALTER USER '{user}'@'%' ACCOUNT UNLOCK")

            yield user_url, lock, unlock
    finally:
        admin.close()


def test_the_database_going_away_is_logged_and_survived(
    tmp_path: Path, server_url: str, queue_name: str, consumer: Consumer
) -> None:
    with refusable(server_url) as (url, refuse, allow):
        beats = Beats(beat_project(tmp_path / "project", queue_name), url)
        try:
            apply(beats)
            beats.start()
            wait_for_leader(beats)
            consumer.wait_for_count(2, timeout=5, logs=beats.logs)
            try:
                refuse()
                outage = time.time()
                # Down until beat has failed, waited 1 s, and failed again.
                wait_until(lambda: beats.logs().count("beat: database unavailable (") >= 2, timeout=4,
                           message=beats.logs)
            finally:
                allow()
                restored = time.time()
            consumer.wait_for(lambda messages: any(m.due.timestamp() > restored + 3 for m in messages), timeout=8,
                              logs=beats.logs, what="a run due 3 s after the database came back")
            settle(beats)
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
        finally:
            beats.close()


def test_a_broker_restart_is_survived_and_every_claimed_run_is_sent_once(
    tmp_path: Path, server_url: str, queue_name: str, rabbit_node: RabbitNode
) -> None:
    """On a RabbitMQ node of the test's own: runs claimed while it is down are sent when it is back, each once."""
    project = beat_project(tmp_path / "project", queue_name, catchup="all")
    beats = Beats(project, server_url, broker=rabbit_node.url)
    try:
        apply(beats)
        beats.start()
        wait_for_leader(beats)
        wait_until(lambda: beats.logs().count("beat: sent ") >= 2, timeout=5, message=beats.logs)
        rabbit_node.stop_app()
        try:  # down until a claimed run could not be sent
            wait_until(lambda: "could not send" in beats.logs(), timeout=5, message=beats.logs)
        finally:
            rabbit_node.start_app()
        started = time.time()
        wait_until(lambda: caught_up(beats, started + 3), timeout=8, step=0.1,
                   message=lambda: "beat did not resume after the broker came back:\n" + beats.logs())
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


def caught_up(beats: Beats, since: float) -> bool:
    """A run due after `since` was claimed, and every claimed run was sent (and beat just sent one)."""
    (last,) = rows(beats.url, beats.project, "SELECT last_run_at FROM gitbeat_schedules")[0]
    return last is not None and last.timestamp() > since and unsent(beats) == 0


def drain(url: str, queue: str) -> list[str]:
    """The task ids of every message in `queue`, taken off it."""
    found = []
    with kombu.Connection(url) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            found.append(message.headers["id"])
    return found


def take(queue: str) -> Any:
    """A message taken off `queue` of the shared broker, or None (also while beat has not declared it yet)."""
    with kombu.Connection(AMQP) as connection:
        try:
            return connection.channel().basic_get(queue, no_ack=True)
        except amqp.exceptions.NotFound:
            return None


def beats_queue(beats: Beats) -> str:
    text = (beats.project / "tasks" / "t.yaml").read_text()
    return text.split("queues:")[1].split(":")[0].strip()


def test_an_at_schedule_fires_once_then_shows_as_done(
    tmp_path: Path, server_url: str, queue_name: str, consumer: Consumer
) -> None:
    project = beat_project(tmp_path / "project", queue_name)
    # naive, so in the schedule's timezone: UTC here
    moment = datetime.fromtimestamp(time.time() + 4, UTC).replace(microsecond=0, tzinfo=None)
    schedules = project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text().replace("every: 1s", f"at: {moment.isoformat()}"))
    beats = Beats(project, server_url)
    try:
        apply(beats)
        beats.start()
        consumer.wait_for_count(1, timeout=8, logs=beats.logs)
        # beat keeps running while status runs (about 1 s, five ticks): a second run would show
        status = gitbeat("status", "--config", project, "--database", server_url, cwd=project)
    finally:
        beats.close()
    messages = consumer.stop()
    assert [m.due.replace(tzinfo=None) for m in messages] == [moment]
    assert "1 done (one-off, fired)" in status.stdout


def test_schedule_options_reach_the_message(
    tmp_path: Path, server_url: str, queue_name: str, consumer: Consumer
) -> None:
    """queue and priority from the schedule, expires from its task, routing to a queue with max_priority."""
    project = beat_project(tmp_path / "project", queue_name)
    other = f"{queue_name}-p"
    tasks = project / "tasks" / "t.yaml"
    tasks.write_text(tasks.read_text().replace("queues:\n", f"queues:\n  {other}:\n    max_priority: 10\n")
                     + "    expires: 90s\n")
    schedules = project / "schedules" / "s.yaml"
    schedules.write_text(schedules.read_text() + f"    queue: {other}\n    priority: 7\n")
    beats = Beats(project, server_url)
    try:
        apply(beats)
        beats.start()
        wait_for_leader(beats)
        message = wait_until(lambda: take(other), timeout=3, message=beats.logs, step=0.1)
    finally:
        beats.close()
    assert consumer.stop() == []  # nothing went to the task's own queue
    with kombu.Connection(AMQP) as connection:
        channel = connection.channel()
        channel.queue_delete(other)
        channel.exchange_delete(other)
    assert message is not None, beats.logs()
    assert message.properties["priority"] == 7
    headers = message.headers
    assert headers["task"] == "ping" and headers["gitbeat_schedule"] == "tick"
    sent = datetime.fromisoformat(headers["gitbeat_due"])
    expires = datetime.fromisoformat(headers["expires"])
    assert 89 <= (expires - sent).total_seconds() <= 92


def test_beat_sends_without_making_a_result_backend(database_url: str, tmp_path: Path) -> None:
    """Runs are published as built messages, nothing waits for their results: beat never makes the result backend
    (making Celery's database backend imports its ORM, 0.15 s, which `send_task` had put into the first batch)."""
    from gitbeat import cli
    from gitbeat.app import create_app
    from gitbeat.scheduler import Scheduler
    from gitbeat.settings import Settings, normalise_database_url
    from gitbeat.store import Store
    from gitbeat.store.beat import BeatStore
    from tests.integration.cluster import write_project

    project = write_project(tmp_path / "project", 1, every="1s")
    assert cli.main(["apply", "--config", str(project), "--database", database_url]) == 0
    url = normalise_database_url(database_url, project)
    settings = Settings(_env_file=None, database_url=url, broker_url_override="memory://",  # type: ignore[call-arg]
                        result_backend=f"db+sqlite:///{tmp_path / 'results.db'}")
    store = Store(url)
    _, config = BeatStore(store).revision_config()
    store.engine.dispose()
    app = create_app(project, settings, config, name="no-backend")
    scheduler = Scheduler(app=app)
    published: list[int] = []
    publish = scheduler.sender.publish

    def counted(prepared: list) -> int:
        published.append(publish(prepared))
        return published[-1]

    scheduler.sender.publish = counted  # type: ignore[method-assign]
    try:
        assert scheduler.state.leader
        wait_until(lambda: scheduler.tick() is not None and sum(published) >= 2, timeout=10)
        assert not hasattr(app._local, "backend")  # the app's per-thread cache of it: never made
    finally:
        scheduler.close()
