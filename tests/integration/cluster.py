"""A small gitbeat cluster for fault tests: real beat and worker processes made by a factory, and an executions table.

Every run's handler inserts its schedule, due time and task id into `executions` when
it completes, so a test counts executions per due time: none doubled, none lost. The
store is PostgreSQL or MariaDB (`mysql://`); each has its own way to kill a session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg2

from tests.integration.conftest import group_pids, process_state

HANDLER = '''
"""Counts completed executions in a table of the test's database."""
import os
import time
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

import psycopg2
from celery import current_task, signals


def insert_execution(url, name, due, task_id):
    if url.startswith("mysql"):  # MariaDB: DATETIME(6) in UTC
        import pymysql

        parts = urlsplit(url)
        due = datetime.fromisoformat(due).astimezone(timezone.utc).replace(tzinfo=None)
        connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=unquote(parts.username or ""),
                                     password=unquote(parts.password or ""), database=parts.path.lstrip("/"))
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO executions (schedule, due, task_id, pid) VALUES (%s, %s, %s, %s)",
                           (name, due, task_id, os.getpid()))
        connection.commit()
        connection.close()
        return
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO executions (schedule, due, task_id, pid) VALUES (%s, %s, %s, %s)",
            (name, due, task_id, os.getpid()),
        )
    connection.close()


def record(name, seconds=0.0):
    # While it sleeps, a file named after this process says until when: "mid-task" for a test that kills.
    directory = os.environ["MIDTASK_DIR"]
    marker = os.path.join(directory, str(os.getpid()))
    if seconds:
        with open(marker, "w") as out:
            out.write(str(time.time() + seconds))
        time.sleep(seconds)
        os.unlink(marker)
    # From its effect until the ledger has its outcome (task_postrun: after gitbeat's wrapper wrote it), a
    # kill would run it again; "effect-PID" says a process is there, and a test that kills waits it out.
    open(os.path.join(directory, f"effect-{os.getpid()}"), "w").close()
    request = current_task.request
    insert_execution(os.environ["EXECUTIONS_URL"], name, request.gitbeat_due, request.id)


@signals.task_postrun.connect
def _outcome_recorded(**_):
    try:
        os.unlink(os.path.join(os.environ["MIDTASK_DIR"], f"effect-{os.getpid()}"))
    except FileNotFoundError:
        pass
'''

EXECUTIONS = {
    "postgresql": "CREATE TABLE executions (schedule text, due timestamptz, task_id text, pid int, "
                  "at timestamptz DEFAULT clock_timestamp())",
    "mysql": "CREATE TABLE executions (schedule varchar(200), due datetime(6), task_id varchar(64), pid int, "
             "at datetime(6) DEFAULT CURRENT_TIMESTAMP(6))",
}


def dbapi_connect(url: str, *, autocommit: bool = True) -> Any:
    """A plain DBAPI connection to a test's database: psycopg2 for postgresql://, PyMySQL for mysql:// (MariaDB)."""
    if url.startswith("mysql"):
        import pymysql

        parts = urlsplit(url)
        connection = pymysql.connect(
            host=parts.hostname, port=parts.port or 3306, user=unquote(parts.username or ""),
            password=unquote(parts.password or ""), database=parts.path.lstrip("/"), autocommit=autocommit,
        )
        with connection.cursor() as cursor:
            cursor.execute("SET time_zone = '+00:00'")
        return connection
    connection = psycopg2.connect(url)
    connection.autocommit = autocommit
    return connection


def kill_session(admin: Any, url: str, session: int) -> None:
    """End a database session as an operator would: pg_terminate_backend, or KILL on MariaDB."""
    with admin.cursor() as cursor:
        if url.startswith("mysql"):
            cursor.execute(f"KILL {int(session)}")
        else:
            cursor.execute("SELECT pg_terminate_backend(%s)", (session,))


@contextmanager
def mariadb_user(url: str, privileges: str, prefix: str = "gitbeat_t") -> Iterator[tuple[str, str]]:
    """A MariaDB user of the test's own (`prefix`_…) with `privileges` on the test's database (its tables made
    later too): its name and URL. Dropped afterwards."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    user = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = dbapi_connect(url)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{user}'@'%'")
            cursor.execute(f"GRANT {privileges} ON `{database}`.* TO '{user}'@'%'")
        yield user, f"mysql://{user}@{parts.hostname}:{parts.port or 3306}/{database}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        admin.close()


def _utc(value: Any) -> Any:
    """MariaDB's DATETIME comes back without a zone: it holds UTC."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def _stopped(pid: int, timeout: float = 2.0) -> bool:
    """Wait until `pid` is stopped (SIGSTOP is delivered asynchronously) or has exited; False if neither in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_state(pid) in (None, "T", "t", "Z", "X"):
            return True
        time.sleep(0.001)
    return False


def _group_ports(pgid: int) -> set[int]:
    """The local TCP ports of the sockets that processes of group `pgid` hold (from /proc)."""
    inodes: set[str] = set()
    proc = Path("/proc")
    for pid in group_pids(pgid):
        try:
            for fd in (proc / str(pid) / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue  # gone meanwhile
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def write_project(root: Path, schedules: int, *, seconds: float = 0.0, every: str = "1s") -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "counting.py").write_text(HANDLER)
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent("""
        queues:
          work: {}
        tasks:
          exec.record:
            handler: counting:record
            queue: work
            acks_late: true
        """))
    entries = "".join(
        f"  s{i}:\n    task: exec.record\n    every: {every}\n    catchup: all\n    args: [s{i}, {seconds}]\n"
        for i in range(schedules)
    )
    (root / "schedules" / "s.yaml").write_text("schedules:\n" + entries)
    return root


@dataclass
class Cluster:
    """Beat and worker processes of one project; everything started is killed at the end."""

    project: Path
    database: str  # postgresql://… or mysql://… (MariaDB)
    broker: str  # amqp://…
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    counter: int = 0
    extra: dict[str, str] = field(default_factory=dict)  # more environment for the processes

    def environment(self) -> dict[str, str]:
        return {
            **os.environ, "PYTHONDONTWRITEBYTECODE": "1", "GITBEAT_DATABASE_URL": self.database,
            "CELERY_BROKER_URL": self.broker, "CELERY_RESULT_BACKEND": "db+" + self.database,
            "EXECUTIONS_URL": self.database, "MIDTASK_DIR": str(self.project / "midtask"), **self.extra,
        }

    @property
    def mysql(self) -> bool:
        return self.database.startswith("mysql")

    def gitbeat_url(self) -> str:
        """The store's URL as gitbeat opens it (psycopg2, PyMySQL)."""
        from gitbeat.settings import normalise_database_url

        return normalise_database_url(self.database, self.project)

    def settings(self) -> Any:
        """gitbeat's settings for this cluster, for a Celery app in the test process."""
        from gitbeat.settings import Settings

        return Settings(_env_file=None, database_url=self.database, broker_url_override=self.broker,  # type: ignore[call-arg]
                        result_backend="db+" + self.database)

    def setup(self) -> None:
        (self.project / "midtask").mkdir()
        self.query(EXECUTIONS["mysql" if self.mysql else "postgresql"])
        self.gitbeat("apply")

    def gitbeat(self, *args: str) -> str:
        """Run a gitbeat command that must succeed; its stdout."""
        result = self.run_gitbeat(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def run_gitbeat(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitbeat", *args, "--config", str(self.project)], cwd=self.project,
            env=self.environment(), capture_output=True, text=True, timeout=60,
        )

    def start(self, role: str, *extra: str) -> str:
        """Start `gitbeat beat` or `gitbeat worker` in a process group of its own; returns its name."""
        self.counter += 1
        name = f"{role}-{self.counter}"
        command = [sys.executable, "-m", "gitbeat", role, "--config", str(self.project)]
        if role == "worker":
            command += ["--", "--concurrency", "2", "--hostname", f"{name}@%h", "--without-mingle",
                        "--without-gossip", "--prefetch-multiplier", "1", *extra]
        log = (self.project / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            command, cwd=self.project, env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return name

    def kill(self, name: str) -> None:
        """kill -9 the process and its pool children."""
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def frozen_mid_task(self) -> str | None:
        """A worker stopped (SIGSTOP, all its processes) with a pool process inside a handler before its effect, and
        none between an effect and the ledger's record of it; None if there is no such worker now.

        The handler writes its marker, sleeps, removes it, then marks and records its effect; the
        mark goes once the ledger has the outcome. So a kill of the worker found strikes mid-task
        however late the test process gets to it, never in the instant after an effect (which no
        queue could tell from mid-task).
        """
        groups = {process.pid: name for name, process in self.processes.items() if name.startswith("worker")}
        markers = self.project / "midtask"
        for marker in sorted(markers.iterdir()):
            try:
                group = os.getpgid(int(marker.name))
            except (OSError, ValueError):
                continue  # it just finished, or an effect mark
            if group not in groups:
                continue
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGSTOP)
                members = group_pids(group)
                if all(_stopped(pid) for pid in members) and marker.exists() and not any(
                    (markers / f"effect-{pid}").exists() for pid in members
                ):
                    return groups[group]
                os.killpg(group, signal.SIGCONT)
        return None

    def running(self, role: str) -> list[str]:
        return [name for name, process in self.processes.items() if name.startswith(role) and process.poll() is None]

    def close(self) -> None:
        for name in list(self.processes):
            self.kill(name)

    def logs(self, limit: int = 4000) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-limit:]}"
                         for p in sorted(self.project.glob("*-*.log")))

    def query(self, sql: str, *params: object) -> list[tuple]:
        """Run one statement (committed) in the test's database; its rows, instants in UTC on either database."""
        connection = dbapi_connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                found = cursor.fetchall() if cursor.description else []
        finally:
            connection.close()
        return [tuple(_utc(value) for value in row) for row in found]

    def sessions(self, role: str) -> list[tuple[int, bool]]:
        """The database sessions of this cluster's `role` processes ("beat", "worker"): (id, idle in a transaction).

        PostgreSQL names them (application_name); on MariaDB a session is matched to a
        process by its client port.
        """
        database = self.database.rsplit("/", 1)[1]
        if not self.mysql:
            rows = self.query("SELECT pid, state FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
                              database, f"gitbeat {role}")
            return [(pid, state == "idle in transaction") for pid, state in rows]
        ports: set[int] = set()
        for name, process in list(self.processes.items()):
            if name.startswith(role):
                ports |= _group_ports(process.pid)
        rows = self.query(
            "SELECT p.ID, p.HOST, p.COMMAND = 'Sleep' AND t.trx_id IS NOT NULL FROM information_schema.PROCESSLIST p "
            "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.DB = %s", database
        )
        return [(session, bool(idle)) for session, host, idle in rows
                if host and host.rsplit(":", 1)[-1].isdigit() and int(host.rsplit(":", 1)[1]) in ports]

    def kill_session(self, session: int) -> None:
        connection = dbapi_connect(self.database)
        try:
            kill_session(connection, self.database, session)
        except Exception:  # it ended by itself meanwhile
            pass
        finally:
            connection.close()

    def leader_pid(self) -> int | None:
        found = self.query("SELECT pid FROM gitbeat_beats WHERE role = 'leader'")
        return found[0][0] if found else None


@dataclass
class Tally:
    """Executions per due time in a window: how many were expected, doubled, lost."""

    expected: int
    doubled: list[tuple[str, datetime, int]]
    lost: list[tuple[str, datetime]]


def tally(cluster: Cluster, start: datetime, end: datetime, period: timedelta = timedelta(seconds=1)) -> Tally:
    anchors = dict(cluster.query("SELECT name, anchor_at FROM gitbeat_schedules"))
    counts = Counter(cluster.query("SELECT schedule, due FROM executions"))
    doubled = sorted((name, due, count) for (name, due), count in counts.items() if count > 1)
    expected: set[tuple[str, datetime]] = set()
    for name, anchor in anchors.items():
        due = anchor + period * max(0, -(-(start - anchor) // period))
        while due <= end:
            expected.add((name, due))
            due += period
    lost = sorted(key for key in expected if key not in counts)
    return Tally(len(expected), doubled, lost)


def settle(cluster: Cluster, start: datetime, end: datetime, timeout: float = 90) -> Tally:
    """Wait until every due time of the window executed (catch-up takes a while after faults), then tally."""
    deadline = time.monotonic() + timeout
    found = tally(cluster, start, end)
    while found.lost and time.monotonic() < deadline:
        time.sleep(1)
        found = tally(cluster, start, end)
    time.sleep(3)  # a copy still on its way would show as doubled now
    return tally(cluster, start, end)


def during(seconds: float, action: Callable[[], None], pause: Callable[[], float]) -> int:
    """Repeat a fault for `seconds`; returns how many times it struck."""
    deadline = time.monotonic() + seconds
    struck = 0
    while time.monotonic() < deadline:
        time.sleep(pause())
        action()
        struck += 1
    return struck
