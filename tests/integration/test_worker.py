"""Real `gitbeat worker` processes running YAML-declared tasks, end to end.

Each test writes its own project (tasks/t.yaml, handlers.py, gitbeat.yaml) with a unique
queue, applies it, starts workers as subprocesses (each in its own process group, so a
test can kill a worker together with its pool children and the cleanup never leaves one
behind) and sends tasks from the test process through `create_app`. Handlers append what
they do, with the time, to a file in the project: the tests read attempts, gaps and side
effects from there. Two setups:

- rabbitmq: CELERY_BROKER=rabbitmq, the store in a fresh PostgreSQL database (--database)
  and results in the same database (CELERY_RESULT_BACKEND=db+postgresql://…);
- mariadb: the same on RabbitMQ, with the store and results in a fresh MariaDB database
  (CELERY_RESULT_BACKEND=db+mysql://…);
- embedded: no settings at all, SQLite store, broker and results under the project's .gitbeat/.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kombu
import pytest
import redis
from celery import Celery

from gitbeat.app import create_app
from gitbeat.runtime import applied_config
from gitbeat.settings import Settings
from tests.conftest import CI
from tests.integration.conftest import AMQP, group_alive, rabbitmq_available, wait_until

pytestmark = pytest.mark.integration
REDIS_DB = 3  # queue names are unique per test; this database only keeps them off the seed's default
SETTINGS_PREFIXES = ("CELERY_", "GITBEAT_", "REDIS_", "FLOWER_")

HANDLERS = '''
import asyncio
import os
import time
from pathlib import Path

EVENTS = Path({events!r})
FIXED = Path({fixed!r})


def record(event, *values):
    with EVENTS.open("a") as file:
        file.write(" ".join([event, repr(time.time()), str(os.getpid()), *map(str, values)]) + "\\n")


def flaky(key, exception="ValueError", note=None):
    record("attempt", key)
    if FIXED.exists():
        record("ok", key)
        return key
    raise {{"ValueError": ValueError, "KeyError": KeyError}}[exception](f"no luck for {{key}}")


def sleepy(seconds):
    record("started")
    time.sleep(seconds)
    record("done")
    return "slept"


def tick(n):
    record("tick", n)
    return n


async def double(n):
    await asyncio.sleep(0.05)
    record("async", n)
    return n * 2
'''


def free_environment() -> dict[str, str]:
    """os.environ without any gitbeat or Celery setting: each test says what it runs on."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIXES)}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return environment


class Project:
    """A project on one broker setup, the workers started for it, and a client app that sends tasks."""

    def __init__(self, root: Path, queue: str, broker: str, database: str | None) -> None:
        self.root, self.queue, self.broker, self.database = root, queue, broker, database
        self.events = root / "events.log"
        self.fixed = root / "fixed"
        self.environment = free_environment()
        if broker in ("rabbitmq", "redis"):
            assert database is not None
            self.environment |= {"CELERY_BROKER": broker, "CELERY_RESULT_BACKEND": "db+" + database,
                                 "CELERY_BROKER_REDIS_DATABASE": str(REDIS_DB)}
        self.workers: list[subprocess.Popen[str]] = []
        self._app: Celery | None = None

    def write(self, queue_spec: str, tasks: str) -> Project:
        (self.root / "tasks").mkdir(parents=True, exist_ok=True)
        (self.root / "gitbeat.yaml").write_text(f"default_queue: {self.queue}\n")  # never consume `celery`
        (self.root / "handlers.py").write_text(HANDLERS.format(events=str(self.events), fixed=str(self.fixed)))
        yaml = f"queues:\n  {self.queue}: {queue_spec}\ntasks:\n" + textwrap.indent(textwrap.dedent(tasks), "  ")
        (self.root / "tasks" / "t.yaml").write_text(yaml.replace("QUEUE", self.queue))
        return self

    # -- the command line -------------------------------------------------------------------------------------

    def command(self, name: str, *args: str) -> list[str]:
        database = ["--database", self.database] if self.database else []
        return [sys.executable, "-m", "gitbeat", name, "--config", str(self.root), *database, *args]

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), cwd=self.root, env=self.environment, capture_output=True,
                              text=True, timeout=timeout)

    def apply(self) -> None:
        result = self.cli("apply")
        assert result.returncode == 0, result.stdout + result.stderr

    def dlq(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.cli("dlq", *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def letters(self) -> list[dict[str, Any]]:
        listing = json.loads(self.dlq("list", self.queue, "--format", "json", "--traceback").stdout)
        assert listing["version"] == 1 and listing["queue"] == f"{self.queue}.dlq"
        return listing["letters"]

    # -- workers ----------------------------------------------------------------------------------------------

    def start_worker(self, pool: str = "solo", concurrency: int = 1) -> subprocess.Popen[str]:
        """`gitbeat worker` in a new session (its own process group), returning once Celery says it is ready."""
        number = len(self.workers)
        log = self.root / f"worker-{number}.log"
        name = f"{self.queue}-{number}@%h"
        celery_args = ["--pool", pool, "--concurrency", str(concurrency), "--hostname", name,
                       "--without-mingle", "--without-gossip"]
        with log.open("w") as output:
            process = subprocess.Popen(self.command("worker", "--", *celery_args), cwd=self.root,
                                       env=self.environment, stdout=output, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        self.workers.append(process)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{log.read_text()}")
            return " ready." in log.read_text()

        wait_until(ready, timeout=30, message=lambda: f"worker did not start:\n{log.read_text()}")
        return process

    def kill(self, process: subprocess.Popen[str]) -> None:
        """kill -9 the worker and every process of its group (the pool's children), and wait until all are gone."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)
        wait_until(lambda: not group_alive(process.pid), timeout=10,
                   message=f"processes of worker {process.pid} outlived kill -9")

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.root.glob("worker-*.log")))

    # -- the client side --------------------------------------------------------------------------------------

    @property
    def app(self) -> Celery:
        """An app with the same settings as the workers, from the test process (the environment ignored)."""
        if self._app is None:
            fields: dict[str, Any] = {"broker": self.broker, "broker_url_override": None}
            if self.broker in ("rabbitmq", "redis"):
                fields |= {"database_url": self.database, "result_backend": "db+" + str(self.database),
                           "redis_database": REDIS_DB}
            settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
            _, config = applied_config(self.root, settings)
            self._app = create_app(self.root, settings, config, name=f"client-{self.queue}")
        return self._app

    def send(self, task: str, *args: Any, **kwargs: Any) -> Any:
        return self.app.send_task(task, args=list(args), kwargs=kwargs, queue=self.queue)

    def wait_for_state(self, task_id: str, state: str, timeout: float = 20) -> Any:
        """The task's result once the backend says `state` (a fresh AsyncResult each time: a ready one caches)."""

        def reached() -> Any:
            result = self.app.AsyncResult(task_id)
            return result if result.state == state else None

        return wait_until(reached, timeout, lambda: f"{task_id} is {self.app.AsyncResult(task_id).state}, "
                                                    f"not {state}:\n{self.logs()}")

    def read_events(self, kind: str | None = None) -> list[tuple[str, float, int, list[str]]]:
        if not self.events.exists():
            return []
        events = []
        for line in self.events.read_text().splitlines():
            event, moment, pid, *values = line.split(" ")
            if kind is None or event == kind:
                events.append((event, float(moment), int(pid), values))
        return events

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20) -> list[tuple[str, float, int, list[str]]]:
        def seen() -> list[tuple[str, float, int, list[str]]]:
            found = self.read_events(kind)
            return found if len(found) >= count else []

        return wait_until(seen, timeout, lambda: f"{count} × {kind!r} not seen: {self.read_events()}\n{self.logs()}")

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None or group_alive(process.pid):
                self.kill(process)
        if self._app is not None:
            self._app.close()


@pytest.fixture(params=["rabbitmq", "mariadb", "embedded"])
def broker(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tmp_project(request: pytest.FixtureRequest, tmp_path: Path, broker: str) -> Iterator[Project]:
    """A fresh project on `broker`: a unique queue, its workers killed and its RabbitMQ queues deleted afterwards."""
    queue = f"wk-{uuid.uuid4().hex[:8]}"
    database = None
    if broker == "mariadb":  # RabbitMQ, with the store and the results on MariaDB
        broker, database = "rabbitmq", request.getfixturevalue("mariadb_url")
    if broker == "rabbitmq":
        rabbitmq_available()
    if broker == "redis":
        redis_available()
    if broker in ("rabbitmq", "redis") and database is None:
        database = request.getfixturevalue("postgres_url")
    started = Project(tmp_path / "project", queue, broker, database)
    try:
        yield started
    finally:
        started.close()
        if broker == "redis":
            client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
            for key in client.scan_iter(f"*{queue}*"):  # the queues and kombu's bindings of them
                client.delete(key)
        if broker == "rabbitmq":
            with kombu.Connection(AMQP) as connection:
                channel = connection.channel()
                for name in (queue, f"{queue}.dlq"):
                    for delete in (channel.queue_delete, channel.exchange_delete):
                        try:
                            delete(name)
                        except Exception:  # never declared, or the channel closed: nothing left
                            channel = connection.channel()


def redis_available() -> None:
    try:
        redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=5).ping()
    except redis.RedisError as error:
        if CI:
            raise
        pytest.skip(f"no Redis on 127.0.0.1:6379: {error}")


def only(broker_name: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("broker", [broker_name], indirect=True)


# -- 1. a task runs with the options its YAML declares ----------------------------------------------------------------


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb", "embedded", "redis"], indirect=True)
def test_retries_are_counted_and_back_off_as_declared(tmp_project: Project) -> None:
    tmp_project.write("{}", """
        flaky:
          handler: handlers:flaky
          queue: QUEUE
          retry:
            on: [ValueError]
            max_retries: 3
            delay: 0.2
            backoff: exponential
            jitter: false
    """).apply()
    tmp_project.start_worker()
    failing = tmp_project.send("flaky", "retried")
    assert isinstance(failing.get(timeout=20, propagate=False), ValueError)
    other = tmp_project.send("flaky", "not-retried", "KeyError")
    assert isinstance(other.get(timeout=20, propagate=False), KeyError)

    attempts = [moment for _, moment, _, (key,) in tmp_project.read_events("attempt") if key == "retried"]
    assert len(attempts) == 1 + 3, attempts
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, declared in zip(gaps, [0.2, 0.4, 0.8]):
        assert declared - 0.05 <= gap <= declared + 0.6, (gaps, tmp_project.logs())
    assert gaps[0] < gaps[1] < gaps[2]
    assert failing.retries == 3  # the retry count of the final attempt, from the result backend
    assert [key for _, _, _, (key,) in tmp_project.read_events("attempt")].count("not-retried") == 1  # not in retry.on


@only("rabbitmq")
def test_a_time_limit_kills_the_task(tmp_project: Project) -> None:
    tmp_project.write("{}", """
        sleepy:
          handler: handlers:sleepy
          queue: QUEUE
          time_limit: 1s
    """).apply()
    tmp_project.start_worker(pool="prefork", concurrency=1)  # time limits need a pool that can kill its children
    sent = time.monotonic()
    result = tmp_project.send("sleepy", 10)
    error = result.get(timeout=15, propagate=False)
    took = time.monotonic() - sent
    assert result.state == "FAILURE"
    assert type(error).__name__ == "TimeLimitExceeded", (error, tmp_project.logs())
    assert 1 <= took < 5, took
    assert tmp_project.read_events("started") and not tmp_project.read_events("done")


@only("rabbitmq")
def test_a_rate_limit_spaces_the_runs(tmp_project: Project) -> None:
    tmp_project.write("{}", """
        tick:
          handler: handlers:tick
          queue: QUEUE
          rate_limit: 120/m
    """).apply()
    tmp_project.start_worker()
    results = [tmp_project.send("tick", n) for n in range(6)]
    assert [r.get(timeout=30) for r in results] == list(range(6))
    moments = sorted(moment for _, moment, _, _ in tmp_project.read_events("tick"))
    assert len(moments) == 6
    assert moments[-1] - moments[0] >= 2.5 - 0.1, moments  # 2/s: the first at once, then one every 0.5 s
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert min(gaps) >= 0.3, gaps


# -- 2. dead letters ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb", "embedded", "redis"], indirect=True)
def test_a_task_that_fails_for_good_is_dead_lettered_and_replayed(tmp_project: Project) -> None:
    tmp_project.write("{dead_letter: true}", """
        flaky:
          handler: handlers:flaky
          queue: QUEUE
          acks_late: true
          retry:
            on: [ValueError]
            max_retries: 2
            delay: 0.1
            jitter: false
    """).apply()
    tmp_project.start_worker()
    before = datetime.now(UTC)
    result = tmp_project.send("flaky", "k1", note="payload")
    assert isinstance(result.get(timeout=20, propagate=False), ValueError)
    assert len(tmp_project.read_events("attempt")) == 3

    # RabbitMQ routes the rejected message to the DLQ just after the result is stored
    letters = wait_until(tmp_project.letters, timeout=10, message="no dead letter", step=0.2)
    assert len(letters) == 1, letters
    (letter,) = letters
    assert letter["id"] == result.id and letter["task"] == "flaky"
    assert letter["args"] == ["k1"] and letter["kwargs"] == {"note": "payload"}
    assert letter["queue"] == tmp_project.queue
    assert letter["exception"] == "ValueError: no luck for k1"
    assert letter["traceback"].startswith("Traceback (most recent call last):")
    assert "handlers.py" in letter["traceback"] and "ValueError: no luck for k1" in letter["traceback"]
    assert letter["retries"] == 2
    failed_at = datetime.fromisoformat(letter["failed_at"])
    assert failed_at.tzinfo is not None and before.replace(microsecond=0) <= failed_at <= datetime.now(UTC)

    text = tmp_project.dlq("list", tmp_project.queue).stdout
    assert f"{tmp_project.queue}.dlq: 1 message(s)" in text and "2 retries: ValueError: no luck for k1" in text
    logs = tmp_project.logs()
    failures = [line for line in logs.splitlines() if "failed for good" in line]
    assert len(failures) == 1 and result.id in failures[0] and "after 2 retries" in failures[0], logs
    assert "raised unexpected" not in logs  # Celery's own failure line is replaced by gitbeat's, not added to

    tmp_project.fixed.touch()
    assert tmp_project.dlq("replay", tmp_project.queue).stdout.strip() == f"replayed 1 message(s) from {tmp_project.queue}.dlq"
    assert tmp_project.wait_for("ok") and len(tmp_project.read_events("attempt")) == 4
    assert tmp_project.wait_for_state(result.id, "SUCCESS").result == "k1"  # the same task id, now a success
    assert tmp_project.letters() == []


# -- 3. async handlers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("broker", "pool"), [("rabbitmq", "prefork"), ("rabbitmq", "solo"), ("embedded", "prefork")],
                         indirect=["broker"])
def test_an_async_handler_completes(tmp_project: Project, pool: str) -> None:
    tmp_project.write("{}", """
        double:
          handler: handlers:double
          queue: QUEUE
    """).apply()
    tmp_project.start_worker(pool=pool, concurrency=2)
    results = [tmp_project.send("double", n) for n in range(4)]
    assert [r.get(timeout=20) for r in results] == [0, 2, 4, 6]
    assert all(r.state == "SUCCESS" for r in results)
    pids = {pid for _, _, pid, _ in tmp_project.read_events("async")}
    worker = tmp_project.workers[0].pid
    assert (worker in pids) == (pool == "solo")  # solo runs in the worker itself, prefork in its children


# -- 4. nothing is lost when a worker dies mid-task -------------------------------------------------------------------

SLEEPY_ACKS_LATE = """
    sleepy:
      handler: handlers:sleepy
      queue: QUEUE
      acks_late: true
"""


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb"], indirect=True)
def test_a_worker_killed_mid_task_loses_nothing(tmp_project: Project) -> None:
    tmp_project.write("{}", SLEEPY_ACKS_LATE).apply()
    first = tmp_project.start_worker(pool="prefork", concurrency=1)
    result = tmp_project.send("sleepy", 3)
    tmp_project.wait_for("started")
    tmp_project.kill(first)  # kill -9 the main process and its pool children at once
    assert not tmp_project.read_events("done")
    assert result.state != "SUCCESS"

    tmp_project.start_worker(pool="prefork", concurrency=1)
    assert result.get(timeout=30) == "slept"
    assert len(tmp_project.read_events("started")) == 2 and len(tmp_project.read_events("done")) == 1


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb"], indirect=True)
def test_a_pool_child_killed_mid_task_loses_nothing(tmp_project: Project) -> None:
    tmp_project.write("{}", SLEEPY_ACKS_LATE).apply()
    worker = tmp_project.start_worker(pool="prefork", concurrency=1)
    result = tmp_project.send("sleepy", 3)
    ((_, _, child, _),) = tmp_project.wait_for("started")
    assert child != worker.pid
    os.kill(child, signal.SIGKILL)  # the OOM killer's way: the worker survives, its child does not
    assert result.get(timeout=30) == "slept"  # requeued and run again by the same worker
    assert len(tmp_project.read_events("started")) == 2 and len(tmp_project.read_events("done")) == 1
    assert worker.poll() is None


@only("embedded")
def test_a_wrong_celery_argument_is_one_clear_line(tmp_project: Project) -> None:
    tmp_project.write("{}", """
        tick:
          handler: handlers:tick
          queue: QUEUE
    """)
    result = tmp_project.cli("worker", "--", "--pool", "nope")
    assert result.returncode == 1
    assert result.stderr.startswith("gitbeat: error: celery worker: Invalid value for '-P' / '--pool': 'nope'")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# -- a running worker follows a new revision (SPEC §6) ----------------------------------------------------------------


@pytest.mark.parametrize("broker", ["rabbitmq", "mariadb"], indirect=True)
def test_a_running_worker_follows_a_new_revision(tmp_project: Project) -> None:
    """Retry policy and time limit change in a prefork worker, and it consumes a queue added to the config."""
    tasks = """
        flaky:
          handler: handlers:flaky
          queue: QUEUE
          retry: {on: [ValueError], max_retries: 1, delay: 0.1}
        sleepy:
          handler: handlers:sleepy
          queue: QUEUE
          time_limit: 1s
        tick:
          handler: handlers:tick
          queue: QUEUE
    """
    tmp_project.write("{}", tasks).apply()
    worker = tmp_project.start_worker(pool="prefork", concurrency=2)
    before = tmp_project.send("flaky", "a")
    tmp_project.wait_for_state(before.id, "FAILURE")
    assert len([e for e in tmp_project.read_events("attempt") if e[3] == ["a"]]) == 2
    slow = tmp_project.send("sleepy", 2)
    assert "TimeLimitExceeded" in repr(tmp_project.wait_for_state(slow.id, "FAILURE").result)
    last_task = time.monotonic()

    second = f"{tmp_project.queue}-b"
    yaml = tmp_project.root / "tasks" / "t.yaml"
    text = yaml.read_text().replace("max_retries: 1", "max_retries: 3").replace("time_limit: 1s", "time_limit: 5s")
    text = text.replace("  tick:\n    handler: handlers:tick\n    queue: " + tmp_project.queue,
                        "  tick:\n    handler: handlers:tick\n    queue: " + second)
    yaml.write_text(text.replace("queues:\n", f"queues:\n  {second}: {{}}\n"))
    tmp_project.apply()
    wait_until(lambda: "worker: now running revision 2" in tmp_project.logs(), timeout=10, message=tmp_project.logs,
               step=0.1)
    # Each pool process looks at most once a second, before a task: 1 s after its last look, which came before
    # its last task (before `slow` failed), or, for one forked since, was the main process's last look before
    # revision 2 (the main process looks every second). Applying took about that second already.
    time.sleep(max(last_task + 1.2 - time.monotonic(), 0))

    after = tmp_project.send("flaky", "b")
    tmp_project.wait_for_state(after.id, "FAILURE")
    assert len([e for e in tmp_project.read_events("attempt") if e[3] == ["b"]]) == 4
    assert tmp_project.wait_for_state(tmp_project.send("sleepy", 2).id, "SUCCESS").result == "slept"
    moved = tmp_project.app.send_task("tick", args=[5], queue=second)
    assert tmp_project.wait_for_state(moved.id, "SUCCESS").result == 5
    assert worker.poll() is None, "the worker restarted"
    assert f"Started consuming from {second}" in tmp_project.logs()
    with kombu.Connection(AMQP) as connection:
        channel = connection.channel()
        channel.queue_delete(second)
        channel.exchange_delete(second)
