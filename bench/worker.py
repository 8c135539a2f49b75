"""Benchmark: worker throughput, gitbeat tasks (plain messages and ledger runs) beside a plain `@app.task`.

The last row of SPEC §7, three sides measured in the same run:

- plain: the anchor, a plain Celery app module (`plain_app.py`, `app = Celery(broker=...)`,
  `@app.task`) run by `celery -A plain_app worker`;
- gitbeat: a task declared in gitbeat's YAML, run by a real `gitbeat worker` (its app
  factory, GitbeatTask base class, failure log filter), sent as a plain task message (no
  `gitbeat_schedule` header: no run ledger), with the default SQLite store;
- ledger: the same task sent as scheduled runs with the run ledger on: the worker's store is
  a PostgreSQL database this run creates (and drops), a config with one schedule of the
  task is applied to it (`gitbeat apply`), and each message is a real ledger run: its row
  is written as beat writes it (`BeatStore.claim`, state queued, one distinct due time per
  message) and it is published as beat publishes it (`Sender`, one AMQP transaction per
  1,000), so the worker moves each run to `started` before the handler and records
  `succeeded` after it.

All sides: the same handler body (a small fixed loop), the same RabbitMQ, the same pool and
concurrency (prefork, 2 by default), the same Celery worker arguments and log level (INFO,
gitbeat's default), `ignore_result: true`, and each its own queue.

One run of a side: N task messages are published to its (purged) queue, then its worker
starts; the run is timed from the first message the worker takes (the queue's ready count
first drops below N) to the queue being drained (ready count 0), polling
`queue_declare(passive=True)` every few milliseconds, and the worker is stopped (the ledger
side's once the ledger holds every run of the batch finished). The sides alternate
(gitbeat, plain, ledger, gitbeat, ...), 3 runs each; medians are printed. Beside tasks/s,
the CPU the worker and its pool's processes used over the same window, per task, which load
from other processes on the machine skews less than wall time; for the ledger side also the
CPU of the worker's PostgreSQL backends.
The messages carry no ignore_result of their own (as `send_task` by name and beat send
them), so the task's `ignore_result: true` holds; the run fails if any result was stored.
It also fails unless, after the ledger side's runs, every run in the ledger is `succeeded`
(with a start and an end) and, at log level INFO, the worker logged each run's success once.

Targets (SPEC §7): gitbeat tasks/s >= 0.95 x plain Celery tasks/s; >= 0.90 with the run ledger.

Needs RabbitMQ (default amqp://guest:guest@127.0.0.1:5672//) and PostgreSQL (default
postgresql://root@127.0.0.1:5432, a user who may create databases). The queues, exchanges
and the database the run creates are deleted and the workers stopped at the end, also on
failure. About 8 minutes with the defaults (the ledger side takes most of it); `--messages 5000
--runs 1` for a quick check.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ENGINE = Path(__file__).resolve().parents[1] / "engine"
BROKER = "amqp://guest:guest@127.0.0.1:5672//"
SERVER = "postgresql://root@127.0.0.1:5432"
MESSAGES = 20_000
RUNS = 3
CONCURRENCY = 2
LOOP = 200  # the handler's fixed work: a loop of this many additions (a few microseconds)
TARGET_RATIO = 0.95
TARGET_LEDGER_RATIO = 0.90
POLL_S = 0.005
START_TIMEOUT_S = 60.0
STALL_TIMEOUT_S = 60.0  # a worker that takes no message for this long has failed
SETTLE_TIMEOUT_S = 60.0  # after the drain, for the ledger to hold every run of the batch finished
SEND_BATCH = 1000  # runs per AMQP transaction, as beat sends 1,000 schedules due at one instant
TASK = "bench.work"
SCHEDULE = "bench-run"
FIRST_DUE = datetime(2001, 1, 1, tzinfo=UTC)  # the bench's i-th run is due FIRST_DUE + i seconds
SUCCEEDED_LINE = re.compile(rf"Task {re.escape(TASK)}\[([0-9a-f-]+)\] succeeded in ")

HANDLER = '''
def work(n):
    total = 0
    for i in range(n):
        total += i
    return total
'''

PLAIN_APP = '''"""The anchor: a plain Celery app, the way its docs show it."""

from celery import Celery

app = Celery("plain", broker={broker!r})


@app.task(name={task!r}, ignore_result=True)
{handler}'''


# --- the projects ---------------------------------------------------------------------------


def gitbeat_project(root: Path, queue: str, loop: int | None = None) -> Path:
    """A gitbeat config root: one queue, one task with its handler in the project's `jobs` module.

    With `loop`, also one schedule of the task (args: [loop]) that is never due by itself: the ledger side's.
    """
    root.mkdir(parents=True)
    (root / "gitbeat.yaml").write_text(f"timezone: UTC\ndefault_queue: {queue}\n")
    (root / "tasks").mkdir()
    (root / "tasks" / "bench.yaml").write_text(
        f"queues:\n  {queue}: {{}}\n"
        f"tasks:\n  {TASK}:\n    handler: jobs:work\n    queue: {queue}\n    ignore_result: true\n"
    )
    if loop is not None:
        (root / "schedules").mkdir()
        (root / "schedules" / "bench.yaml").write_text(
            f'schedules:\n  {SCHEDULE}: {{task: {TASK}, cron: "0 0 1 1 *", args: [{loop}]}}\n'
        )
    (root / "jobs.py").write_text('"""The benchmark\'s handler."""\n' + HANDLER)
    return root


def plain_project(root: Path, broker: str) -> Path:
    root.mkdir(parents=True)
    (root / "plain_app.py").write_text(PLAIN_APP.format(broker=broker, task=TASK, handler=HANDLER.lstrip("\n")))
    return root


# --- RabbitMQ -------------------------------------------------------------------------------


class Broker:
    """One connection for publishing and polling; the queues it declares are deleted at close."""

    def __init__(self, url: str) -> None:
        from celery import Celery
        from kombu import Connection

        self.connection = Connection(url)
        self.connection.ensure_connection(max_retries=3)
        self.channel = self.connection.channel()
        self.app = Celery("bench", broker=url, set_as_current=False)  # builds the task messages only
        self.queues: list[Any] = []

    def declare(self, name: str) -> None:
        """The queue as the workers declare it: a durable direct exchange of the same name."""
        from kombu import Exchange, Queue

        queue = Queue(name, Exchange(name, "direct"), name)
        queue(self.channel).declare()
        self.queues.append(queue)

    def fill(self, name: str, count: int, loop: int) -> None:
        """Purge the queue and publish `count` task messages (protocol 2, JSON), each its own task id."""
        from kombu import Producer
        from kombu.utils.json import dumps

        self.channel.queue_purge(name)
        producer = Producer(self.channel)
        # ignore_result=None, as app.send_task(name) and beat send it: the task's own setting decides
        # (as_task_v2's default False would override ignore_result: true and store every result).
        template = self.app.amqp.as_task_v2(secrets.token_hex(16), TASK, args=(loop,), kwargs={}, ignore_result=None)
        body = dumps(template.body)
        for _ in range(count):
            task_id = secrets.token_hex(16)
            producer.publish(
                body, exchange=name, routing_key=name, headers=dict(template.headers, id=task_id, root_id=task_id),
                content_type="application/json", content_encoding="utf-8", correlation_id=task_id,
                delivery_mode=2, retry=False,
            )
        self.wait_ready(name, count)

    def ready(self, name: str) -> int:
        return self.channel.queue_declare(queue=name, passive=True).message_count

    def wait_ready(self, name: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (ready := self.ready(name)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"queue {name}: {ready} of {count} messages ready after publishing")
            time.sleep(0.05)

    def close(self) -> None:
        for queue in self.queues:
            try:
                self.channel.queue_delete(queue.name)
                self.channel.exchange_delete(queue.exchange.name)
            except Exception as error:  # best effort: report and go on
                print(f"warning: could not delete queue {queue.name}: {error}", file=sys.stderr)
        self.connection.release()


# --- PostgreSQL: the ledger side's database -------------------------------------------------


class Ledger:
    """The ledger side's store: a database of its own (dropped at close) and the runs the bench claims in it.

    `fill` records a batch of runs as beat does (BeatStore.claim: queued) and sends them as
    beat does (Sender, one AMQP transaction per batch, then marked sent); a psycopg2
    connection of the bench's own watches the ledger, counts its outcomes and finds the
    database's backends (for their CPU).
    """

    def __init__(self, server: str, tag: str) -> None:
        import psycopg2

        self.server = server.rstrip("/")
        self.name = f"gitbeat_bench_worker_{tag}"
        self.admin = psycopg2.connect(f"{self.server}/postgres")
        self.admin.autocommit = True
        with self.admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{self.name}"')
        self.url = f"{self.server}/{self.name}"
        self.store: Any = None
        self.app: Any = None
        self.watch: Any = None
        self.claimed: list[str] = []  # every run id the bench claimed, in order

    def setup(self, root: Path, env: dict[str, str], broker: str) -> None:
        """Apply the config (one schedule) as a user does, then make beat's sender for it."""
        import psycopg2

        from gitbeat.app import create_app
        from gitbeat.loader import load_config
        from gitbeat.sending import Sender
        from gitbeat.settings import Settings, normalise_database_url
        from gitbeat.store import Store
        from gitbeat.store.beat import BeatStore
        from gitbeat.store.runs import RunLedger

        applied = subprocess.run(
            [sys.executable, "-m", "gitbeat", "apply", "--config", str(root), "--database", self.url, "-m", "bench"],
            cwd=root, env=env, capture_output=True, text=True,
        )
        if applied.returncode != 0:
            raise RuntimeError(f"gitbeat apply failed:\n{applied.stdout}{applied.stderr}")
        self.store = Store(normalise_database_url(self.url, root), application_name="gitbeat bench")
        self.beat, self.runs = BeatStore(self.store), RunLedger(self.store)
        revision, config = self.beat.revision_config()
        if revision is None or config is None:
            raise RuntimeError(f"gitbeat apply recorded no revision:\n{applied.stdout}")
        self.revision, self.config = revision, config
        self.spec = load_config(root)[0].schedules[SCHEDULE]
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, GITBEAT_DATABASE_URL=self.url, CELERY_BROKER="rabbitmq", CELERY_BROKER_URL=broker,
        )
        self.app = create_app(root, settings, self.config, name="bench-beat")
        # As beat on RabbitMQ: a batch is one AMQP transaction, no publisher confirm per message.
        self.app.conf.broker_transport_options = {**self.app.conf.broker_transport_options, "confirm_publish": False}
        self.sender = Sender(self.app, transactional=True)
        self.watch = psycopg2.connect(self.url, application_name="gitbeat bench watch")
        self.watch.autocommit = True

    def fill(self, broker: Broker, queue: str, count: int) -> None:
        """Claim `count` new runs (distinct due times) and send them, as beat does; wait until all are ready."""
        from gitbeat.sending import Outgoing, task_id
        from gitbeat.store.runs import NewRun

        broker.channel.queue_purge(queue)
        first = len(self.claimed)
        dues = [FIRST_DUE + timedelta(seconds=first + i) for i in range(count)]
        new = [NewRun(task_id(SCHEDULE, due), SCHEDULE, due, TASK, "scheduled") for due in dues]
        _, recorded = self.beat.claim([], new, self.revision, datetime.now(UTC))
        if len(recorded) != count:
            raise RuntimeError(f"claimed {len(recorded)} of {count} runs")
        self.claimed += [run.task_id for run in new]
        for start in range(0, count, SEND_BATCH):
            batch = [Outgoing(run.task_id, SCHEDULE, run.due_at, run.trigger, self.spec)
                     for run in new[start : start + SEND_BATCH]]
            self.sender.send(batch, self.config, self.revision)
            self.runs.mark_sent([run.task_id for run in batch], datetime.now(UTC))
        broker.wait_ready(queue, count)

    def states(self) -> Counter[str]:
        with self.watch.cursor() as cursor:
            cursor.execute("SELECT state, count(*) FROM gitbeat_runs GROUP BY state")
            return Counter(dict(cursor.fetchall()))

    def settle(self, side: Side) -> None:
        """Wait until no run is left queued or started: the worker has taken and finished every message."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            states = self.states()
            if not (states["queued"] or states["started"] or states["retrying"]):
                return
            if side.process is None or side.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ledger runs left unfinished: {dict(states)}\n{side.log_tail()}")
            time.sleep(0.05)

    def backend_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL backend of this database but the bench's own."""
        with self.watch.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name LIKE 'gitbeat worker%%'",
                (self.name,),
            )
            return {pid: process_cpu(pid) for (pid,) in cursor.fetchall()}

    def sessions(self) -> str:
        """The database's sessions, what each does and waits for (for a run that stalls)."""
        with self.watch.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 80) "
                "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,),
            )
            return "\n".join("  " + " | ".join(str(field) for field in row) for row in cursor.fetchall())

    def check(self, log: str | None) -> Counter[str]:
        """Every claimed run `succeeded`, once, with a start and an end; raises otherwise.

        With the worker's `log` (level INFO): each run's success logged exactly once, no copy dropped.
        """
        states = self.states()
        problems = []
        if states != Counter({"succeeded": len(self.claimed)}):
            problems.append(f"states {dict(states)}, expected {{'succeeded': {len(self.claimed)}}}")
        with self.watch.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM gitbeat_runs WHERE started_at IS NULL OR finished_at IS NULL OR retries <> 0"
            )
            (incomplete,) = cursor.fetchone()
        if incomplete:
            problems.append(f"{incomplete} runs without a start or an end, or retried")
        if log is not None:
            logged = Counter(SUCCEEDED_LINE.findall(log))
            twice = sum(1 for n in logged.values() if n > 1)
            missing = sum(1 for run_id in self.claimed if not logged[run_id])
            foreign = len(set(logged) - set(self.claimed))
            dropped = log.count("dropped a copy of its message")
            if twice or missing or foreign or dropped:
                problems.append(f"worker log: {twice} runs succeeded more than once, {missing} never, "
                                f"{foreign} unknown ids, {dropped} copies dropped")
        if problems:
            raise RuntimeError("run ledger check failed: " + "; ".join(problems))
        return states

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        if self.store is not None:
            self.store.engine.dispose()
        if self.watch is not None:
            self.watch.close()
        with self.admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


# --- workers --------------------------------------------------------------------------------


class Side:
    """One side of the comparison: how to start its worker, its queue, its runs."""

    def __init__(
        self, label: str, command: list[str], cwd: Path, env: dict[str, str], queue: str, log: Path,
        ledger: Ledger | None = None,
    ) -> None:
        self.label, self.command, self.cwd, self.env, self.queue, self.log = label, command, cwd, env, queue, log
        self.ledger = ledger  # the ledger side: its messages are ledger runs
        self.rates: list[float] = []
        self.times: list[float] = []
        self.cpu: list[float] = []  # worker CPU ms per task
        self.database_cpu: list[float] = []  # the ledger side: its PostgreSQL backends' CPU ms per task
        self.process: subprocess.Popen[bytes] | None = None

    def fill(self, broker: Broker, count: int, loop: int) -> None:
        if self.ledger is not None:
            self.ledger.fill(broker, self.queue, count)
        else:
            broker.fill(self.queue, count, loop)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool's children are stopped with it
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        group = process.pid  # the group this run started (start_new_session), never anything else
        try:
            os.killpg(group, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        try:  # a pool child that outlived its parent
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def diagnose(self) -> str:
        """Why a run failed, for its error: the worker's state, its log (kept), the ledger's sessions."""
        code = self.process.poll() if self.process is not None else None
        state = f"the worker exited with code {code}" if code is not None else "the worker is still running"
        kept = Path(tempfile.gettempdir()) / f"{self.log.parent.name}-{self.log.name}"
        try:
            kept.write_bytes(self.log.read_bytes())
            state += f"; its whole log: {kept}"
        except OSError:
            pass
        if self.ledger is not None:
            state += f"\nledger: {dict(self.ledger.states())}; sessions:\n{self.ledger.sessions()}"
        return f"{state}\n{self.log_tail()}"


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (from /proc; 0 for one gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a worker and its pool's processes so far (0 for one gone)."""
    total, pending, seen = 0.0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        total += process_cpu(current)
        try:
            for thread in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (thread / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def measure(broker: Broker, side: Side, count: int, loop: int) -> tuple[float, float, float, float | None]:
    """One run: fill the queue, start the worker, time first take -> drained.

    Returns (tasks/s, seconds, worker CPU ms per task, database CPU ms per task or None):
    the CPU of the worker and its pool over the same window, which contention from other
    processes on the machine skews less; for the ledger side also that of the worker's
    PostgreSQL backends (one that connected during the window counts from its start).
    """
    side.fill(broker, count, loop)
    side.start()
    assert side.process is not None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while (first := broker.ready(side.queue)) >= count:
            if side.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{side.label} worker did not start consuming: {side.diagnose()}")
            time.sleep(POLL_S)
        start, cpu_start = time.perf_counter(), cpu_seconds(side.process.pid)
        backends_start = side.ledger.backend_cpu() if side.ledger else {}
        left, deadline = first, time.monotonic() + STALL_TIMEOUT_S
        while (ready := broker.ready(side.queue)) > 0:
            if ready < left:  # progress: a slow side (the ledger on a loaded machine) may take minutes
                left, deadline = ready, time.monotonic() + STALL_TIMEOUT_S
            if side.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{side.label} worker stopped taking messages, {ready} left: {side.diagnose()}")
            time.sleep(POLL_S)
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(side.process.pid) - cpu_start
        database = None
        if side.ledger is not None:
            backends = side.ledger.backend_cpu()
            database = sum(used - backends_start.get(pid, 0.0) for pid, used in backends.items()) * 1000 / first
            side.ledger.settle(side)  # every run finished before the worker stops: no message goes back
    finally:
        side.stop()
    return first / elapsed, elapsed, cpu * 1000 / first, database


def stored_results(root: Path) -> int:
    """Rows in a gitbeat side's result backend (its default SQLite file): 0 when ignore_result held."""
    import sqlite3

    path = root / ".gitbeat" / "results.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables if t.startswith("celery_"))


def machine_load() -> str:
    """The load averages (other processes share the machine), for the report."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def runs_text(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=os.environ.get("BENCH_RABBITMQ_URL", BROKER))
    parser.add_argument("--server", default=os.environ.get("BENCH_POSTGRES_URL", SERVER),
                        help="PostgreSQL server URL, no database (default %(default)s)")
    parser.add_argument("--messages", type=int, default=MESSAGES, help="tasks per run (default %(default)s)")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per side, alternating (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--loop", type=int, default=LOOP, help="the handler's loop length (default %(default)s)")
    parser.add_argument("--loglevel", default="INFO", help="the workers' log level (default: gitbeat's, INFO)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped from outside: still clean up
    sys.path.insert(0, str(ENGINE))  # the ledger side claims and sends its runs with gitbeat's own code
    tag = secrets.token_hex(4)
    celery_args = ["--pool", args.pool, "--concurrency", str(args.concurrency), "--without-mingle"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ENGINE), env.get("PYTHONPATH", "")] if p)
    print(f"before: {machine_load()}", flush=True)
    broker = Broker(args.broker)
    ledger: Ledger | None = None
    sides: list[Side] = []
    try:
        with tempfile.TemporaryDirectory(prefix="gitbeat-bench-worker-") as directory:
            tmp = Path(directory)
            queues = {label: f"gbbench-{tag}-{label}" for label in ("gitbeat", "plain", "ledger")}
            root = gitbeat_project(tmp / "gitbeat", queues["gitbeat"])
            ledger_root = gitbeat_project(tmp / "ledger", queues["ledger"], loop=args.loop)
            plain = plain_project(tmp / "plain", args.broker)
            gitbeat_env = dict(env, CELERY_BROKER="rabbitmq", CELERY_BROKER_URL=args.broker)
            ledger = Ledger(args.server, tag)
            ledger_env = dict(gitbeat_env, GITBEAT_DATABASE_URL=ledger.url)
            ledger.setup(ledger_root, ledger_env, args.broker)

            def gitbeat_worker(label: str, config: Path) -> list[str]:
                return [sys.executable, "-m", "gitbeat", "worker", "--config", str(config), "--loglevel",
                        args.loglevel, "--", "--hostname", f"{label}-{tag}@%h", *celery_args]

            sides = [
                Side("gitbeat", gitbeat_worker("gitbeat", root), root, gitbeat_env, queues["gitbeat"],
                     tmp / "gitbeat.log"),
                Side(
                    "plain",
                    [sys.executable, "-m", "celery", "-A", "plain_app", "worker", "--loglevel", args.loglevel,
                     "--queues", queues["plain"], "--hostname", f"plain-{tag}@%h", *celery_args],
                    plain, env, queues["plain"], tmp / "plain.log",
                ),
                Side("ledger", gitbeat_worker("ledger", ledger_root), ledger_root, ledger_env, queues["ledger"],
                     tmp / "ledger.log", ledger=ledger),
            ]
            for side in sides:
                broker.declare(side.queue)
            for run in range(args.runs):
                for side in sides:
                    rate, elapsed, cpu, database = measure(broker, side, args.messages, args.loop)
                    side.rates.append(rate)
                    side.times.append(elapsed)
                    side.cpu.append(cpu)
                    backends = ""
                    if database is not None:
                        side.database_cpu.append(database)
                        backends = f", its PostgreSQL backends {database:.3f} ms/task"
                    print(f"  run {run + 1} {side.label:8} {rate:8,.0f} tasks/s ({elapsed:.2f} s), "
                          f"worker CPU {cpu:.3f} ms/task{backends}", flush=True)
            stored = stored_results(root) + stored_results(ledger_root)
            if stored:
                raise RuntimeError(f"the gitbeat workers stored {stored} results: ignore_result did not hold")
            logged = args.loglevel.upper() in ("INFO", "DEBUG")  # Celery logs each success at INFO
            states = ledger.check(sides[2].log.read_text(errors="replace") if logged else None)
    finally:
        for side in sides:
            side.stop()
        broker.close()
        if ledger is not None:
            ledger.close()

    gitbeat, plain_side, ledger_side = sides
    g, p, r = (statistics.median(side.rates) for side in sides)
    gc, pc, rc = (statistics.median(side.cpu) for side in sides)
    rdb = statistics.median(ledger_side.database_cpu)
    print(f"after: {machine_load()}")
    print(f"workload: {args.messages:,} tasks per run, handler a {args.loop}-step loop, ignore_result, RabbitMQ, "
          f"--pool {args.pool} --concurrency {args.concurrency}, log level {args.loglevel}, {args.runs} runs per side")
    print(f"(a) anchor, celery worker, plain @app.task:   median {p:7,.0f} tasks/s (runs {runs_text(plain_side.rates)})")
    print(f"(b) gitbeat worker, YAML task, plain message: median {g:7,.0f} tasks/s (runs {runs_text(gitbeat.rates)})")
    print(f"(c) gitbeat worker, scheduled runs, ledger:   median {r:7,.0f} tasks/s (runs {runs_text(ledger_side.rates)})")
    print(f"results stored: {stored}; ledger after (c): {dict(states)} of {sum(states.values()):,} runs"
          f"{', each logged succeeded once' if logged else ''}")
    print(f"worker CPU per task (worker + pool, same windows): plain {pc:.3f} ms, gitbeat {gc:.3f} ms, "
          f"ledger {rc:.3f} ms + its PostgreSQL backends {rdb:.3f} ms; plain/gitbeat {pc / gc:.3f}, "
          f"plain/ledger {pc / rc:.3f} (worker only), {pc / (rc + rdb):.3f} (with the backends)")
    for label, ratio, target in (("(b)/(a) gitbeat/plain", g / p, TARGET_RATIO),
                                 ("(c)/(a) ledger/plain", r / p, TARGET_LEDGER_RATIO)):
        print(f"target {label} >= {target:.2f}: {'met' if ratio >= target else 'MISSED'} ({ratio:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
