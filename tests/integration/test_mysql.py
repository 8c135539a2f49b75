"""MySQL and MariaDB: URLs and their errors, the read-only store, migrations run twice, beat's GET_LOCK leadership
under kill -9, and the guide's other result backend (db+mysql://) with a real worker.

The suites that run on PostgreSQL run on MariaDB too (the `database_url` and `server_url` fixtures); this file
holds what only MySQL has.
"""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from gitbeat import cli
from gitbeat.app import create_app
from gitbeat.errors import CHANGES, FAILED, OK
from gitbeat.runtime import files_config
from gitbeat.settings import normalise_database_url
from gitbeat.store import Store
from tests.integration.cluster import Cluster, dbapi_connect, write_project
from tests.integration.conftest import MARIADB_HOST, rabbitmq_available, wait_until
from tests.integration.test_error_path import tables

pytestmark = pytest.mark.integration

SUPPORTED = "use SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)"
SECRET = "s3cretPassw0rd"


def gitbeat(capsys: pytest.CaptureFixture[str], project: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main([*argv, "--config", str(project)])
    out, err = capsys.readouterr()
    return code, out, err


# --- URLs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (f"oracle://scott:{SECRET}@127.0.0.1/orcl", f"'oracle' is not a database gitbeat can use; {SUPPORTED}"),
        (f"mssql+pyodbc://sa:{SECRET}@127.0.0.1/db", f"'mssql' is not a database gitbeat can use; {SUPPORTED}"),
        ("mysql+mysqldb://root@127.0.0.1/test", "the driver for 'mysql+mysqldb' is not installed (MySQLdb)"),
    ],
)
def test_an_unsupported_url_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], url: str, line: str
) -> None:
    for command in ("plan", "apply", "beat"):
        assert gitbeat(capsys, project, command, "--database", url) == (FAILED, "", f"gitbeat: error: --database: {line}\n")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"mysql://root:{SECRET}@127.0.0.1:1/x", "Can't connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)"),
        (f"mysql://root:{SECRET}@{MARIADB_HOST}:3306/test", f"Access denied for user 'root'@'{MARIADB_HOST}' (using password: YES)"),
        (f"mariadb://root@{MARIADB_HOST}:3306/gitbeat_no_such_db", "Unknown database 'gitbeat_no_such_db'"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line_without_the_password(
    project: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str], url: str, reason: str
) -> None:
    shown = normalise_database_url(url, project).replace(f":{SECRET}@", ":***@")
    for command in ("plan", "apply", "status"):
        code, out, err = gitbeat(capsys, project, command, "--database", url)
        assert (code, out, err) == (FAILED, "", f"gitbeat: error: cannot use the database at {shown}: {reason}\n")


# --- the store ---------------------------------------------------------------------------------------------------


def test_plan_and_status_on_an_empty_database_create_nothing(
    project: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only store runs its sessions READ ONLY: plan and status read, and never create a table."""
    code, out, err = gitbeat(capsys, project, "plan", "--database", mariadb_url, "--detailed-exitcode")
    assert code == CHANGES and out.endswith("Plan: 12 to add, 0 to change, 0 to remove.\n")
    assert err.startswith("gitbeat: note: nothing is applied to mysql+pymysql://root@")
    assert gitbeat(capsys, project, "status", "--database", mariadb_url)[0] == OK
    assert tables(mariadb_url) == []


def test_a_read_only_store_refuses_to_write_in_the_server(mariadb_url: str, project: Path) -> None:
    url = normalise_database_url(mariadb_url, project)
    Store(url).upgrade()
    reader = Store(url, readonly=True)
    try:
        with reader.engine.connect() as connection:
            with pytest.raises(Exception, match="READ ONLY transaction"):
                connection.exec_driver_sql("DELETE FROM gitbeat_schedules")
    finally:
        reader.engine.dispose()


def test_the_schema_on_mysql(mariadb_url: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DATETIME(6) in UTC, the config as LONGTEXT (kept verbatim), names compared byte for byte."""
    assert gitbeat(capsys, project, "apply", "--database", mariadb_url)[0] == OK
    connection = dbapi_connect(mariadb_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name, column_name, column_type, collation_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND column_name IN ('applied_at', 'config', 'name', 'runtime')"
            )
            columns = {(table, column): (kind, collation) for table, column, kind, collation in cursor.fetchall()}
            cursor.execute("SELECT applied_at FROM gitbeat_revisions")
            ((applied_at,),) = cursor.fetchall()
    finally:
        connection.close()
    assert columns[("gitbeat_revisions", "applied_at")] == ("datetime(6)", None)
    assert columns[("gitbeat_revisions", "config")] == ("longtext", "utf8mb4_bin")
    assert columns[("gitbeat_schedules", "name")] == ("varchar(200)", "utf8mb4_bin")
    assert columns[("gitbeat_runs", "runtime")] == ("double", None)
    assert abs(applied_at.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)  # UTC, not local time


def test_a_migration_cut_off_midway_finishes_when_run_again(mariadb_url: str, project: Path) -> None:
    """MySQL's DDL commits as it goes: a migration that died after some of its steps is finished by the next run."""
    url = normalise_database_url(mariadb_url, project)
    store = Store(url)
    store.upgrade()
    connection = dbapi_connect(mariadb_url)
    try:
        with connection.cursor() as cursor:  # as if 0004 died after its first table, and 0005 never ran
            cursor.execute("DROP TABLE gitbeat_audit")
            cursor.execute("ALTER TABLE gitbeat_revisions DROP COLUMN environment")
            cursor.execute("UPDATE gitbeat_alembic_version SET version_num = '0003'")
    finally:
        connection.close()
    again = Store(url)
    try:
        assert again.upgrade() == "0003"
        assert again.schema_version() == "0005"
        assert {"gitbeat_audit", "gitbeat_overrides"} <= set(tables(mariadb_url))
    finally:
        again.engine.dispose()
        store.engine.dispose()


# --- beat: GET_LOCK leadership ---------------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, mariadb_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    rabbitmq_available()
    made = Cluster(write_project(tmp_path / "project", 3), mariadb_url,
                   f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    made.setup()
    yield made
    made.close()


def test_a_standby_takes_over_within_5s_of_the_leader_killed(cluster: Cluster) -> None:
    """Two beats: one holds GET_LOCK on a session of its own; kill -9 ends that session, and the other claims the
    next due times within 5 s, every due time of the window once."""
    for _ in range(2):
        cluster.start("beat")
    leader = wait_until(cluster.leader_pid, 20, cluster.logs)
    start = datetime.now(UTC)
    wait_until(lambda: cluster.query("SELECT 1 FROM gitbeat_runs WHERE claimed_at > %s", start), 10, cluster.logs)
    name = next(n for n in cluster.running("beat") if cluster.processes[n].pid == leader)
    os.killpg(leader, signal.SIGKILL)
    killed = datetime.now(UTC)
    cluster.processes.pop(name).wait()
    wait_until(lambda: cluster.query("SELECT 1 FROM gitbeat_runs WHERE claimed_at > %s", killed), 5,
               lambda: "no beat took over within 5 s\n" + cluster.logs())
    taken = datetime.now(UTC) - killed
    time.sleep(3)
    dues = cluster.query("SELECT schedule, due_at FROM gitbeat_runs WHERE due_at BETWEEN %s AND %s",
                         start.replace(tzinfo=None), (killed + timedelta(seconds=2)).replace(tzinfo=None))
    per_schedule = {name: sorted(due for schedule, due in dues if schedule == name) for name in ("s0", "s1", "s2")}
    for name, times in per_schedule.items():
        gaps = [later - earlier for earlier, later in pairwise(times)]
        assert gaps and all(gap == timedelta(seconds=1) for gap in gaps), (name, times)  # none lost across it
    print(f"takeover: {taken.total_seconds():.2f} s")


# --- the result backend ----------------------------------------------------------------------------------------

CALC = '''
def add(x, y):
    return x + y


def broken(why):
    raise ValueError(f"broken: {why}")
'''


@pytest.fixture
def results(tmp_path: Path, mariadb_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    """A worker whose CELERY_RESULT_BACKEND is db+mysql://… (this test's own MariaDB database)."""
    rabbitmq_available()
    root = tmp_path / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent("""
        queues:
          work: {}
        tasks:
          calc.add: {handler: calc:add, queue: work}
          calc.broken: {handler: calc:broken, queue: work}
        """))
    made = Cluster(root, mariadb_url, f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    made.setup()
    made.start("worker")
    yield made
    made.close()


def test_results_are_stored_in_mysql_and_read_back(results: Cluster) -> None:
    assert results.environment()["CELERY_RESULT_BACKEND"].startswith("db+mysql://")
    app = create_app(results.project, results.settings(), files_config(results.project), name="results")
    assert app.backend.url.startswith("mysql+pymysql://")
    sent = app.send_task("calc.add", args=[2, 3])
    assert sent.get(timeout=30) == 5
    assert results.query("SELECT status FROM celery_taskmeta WHERE task_id = %s", sent.id) == [("SUCCESS",)]


def test_a_failure_is_stored_with_its_traceback(results: Cluster) -> None:
    app = create_app(results.project, results.settings(), files_config(results.project), name="failures")
    sent = app.send_task("calc.broken", args=["on purpose"])
    with pytest.raises(ValueError, match="broken: on purpose"):
        sent.get(timeout=30)
    assert sent.status == "FAILURE"
    assert 'raise ValueError(f"broken: {why}")' in sent.traceback
    assert sent.traceback.rstrip().endswith("ValueError: broken: on purpose")
    ((stored,),) = results.query("SELECT traceback FROM celery_taskmeta WHERE task_id = %s", sent.id)
    assert "ValueError: broken: on purpose" in stored


def test_celerys_backend_cleanup_deletes_old_results(results: Cluster) -> None:
    """celery.backend_cleanup (beat's daily entry) deletes the results older than CELERY_RESULT_EXPIRES, only them."""
    app = create_app(results.project, results.settings(), files_config(results.project), name="cleanup")
    old, recent = app.send_task("calc.add", args=[1, 1]), app.send_task("calc.add", args=[2, 2])
    assert (old.get(timeout=30), recent.get(timeout=30)) == (2, 4)
    results.query("UPDATE celery_taskmeta SET date_done = now() - INTERVAL 2 DAY WHERE task_id = %s", old.id)
    assert app.send_task("celery.backend_cleanup").get(timeout=30) is None
    assert results.query("SELECT task_id FROM celery_taskmeta WHERE task_id IN (%s, %s)", old.id, recent.id) == [
        (recent.id,)
    ]
