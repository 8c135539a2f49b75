"""apply under contention and failure: serialised, atomic, and clear about what happened."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitbeat.store import APPLY_LOCK
from gitbeat.store.database import lock_name
from tests.integration.cluster import dbapi_connect, kill_session
from tests.integration.test_store import edit, engine, rows, run

pytestmark = pytest.mark.integration


def start(project: Path, url: str, *args: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gitbeat", *args, "--config", str(project), "--database", url],
        cwd=project,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def twin(project: Path) -> Path:
    other = project.parent / "twin"
    shutil.copytree(project, other)
    return other


def test_two_applies_at_once_both_end_correctly(project: Path, database_url: str) -> None:
    assert run(project, database_url, "db", "upgrade").returncode == 0
    other = twin(project)
    edit(other / "schedules" / "maintenance.yaml", "every: 300s", "every: 60s")
    first, second = start(project, database_url, "apply"), start(other, database_url, "apply")
    outcomes = [process.communicate(timeout=60) + (process.returncode,) for process in (first, second)]
    for stdout, stderr, code in outcomes:
        assert "Traceback" not in stderr
        assert (code == 0 and stdout.startswith("Applied revision ")) or (
            code == 1 and "another gitbeat apply is running" in stderr
        ), (stdout, stderr)
    applied = sorted(stdout.split()[2].rstrip(":") for stdout, _, code in outcomes if code == 0)
    recorded = rows(database_url, project, "SELECT id FROM gitbeat_revisions ORDER BY id")
    assert [str(r[0]) for r in recorded] == applied  # one revision for each successful apply
    # Whichever ran last, the table holds exactly one config's version of health-check.
    text = "CHAR" if database_url.startswith("mysql") else "TEXT"
    every = rows(database_url, project, f"SELECT CAST(spec AS {text}) FROM gitbeat_schedules WHERE name = 'health-check'")
    assert len(every) == 1 and ('"every":300' in every[0][0] or '"every":60' in every[0][0])


def test_the_same_apply_twice_at_once_records_one_revision(project: Path, database_url: str) -> None:
    assert run(project, database_url, "db", "upgrade").returncode == 0
    processes = [start(project, database_url, "apply") for _ in range(2)]
    outputs = sorted(process.communicate(timeout=60)[0] for process in processes)
    assert outputs == [
        "Applied revision 1: 12 to add, 0 to change, 0 to remove.\n",
        "No changes: the database matches the config; no revision recorded.\n",
    ]
    assert rows(database_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]


def test_a_held_lock_gives_up_with_a_clear_message(project: Path, database_url: str) -> None:
    assert run(project, database_url, "db", "upgrade").returncode == 0
    holder = engine(database_url, project)
    connection = holder.raw_connection()
    cursor = connection.cursor()
    if database_url.startswith("postgresql"):
        cursor.execute("SELECT pg_advisory_lock(%s)", (APPLY_LOCK,))
    elif database_url.startswith("mysql"):  # a lock of the session, named after the database
        cursor.execute("SELECT GET_LOCK(%s, 0)", (lock_name(database_url.rsplit("/", 1)[1], "apply"),))
        assert cursor.fetchone() == (1,)
    else:
        connection.driver_connection.isolation_level = None
        cursor.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        result = run(project, database_url, "apply", "--lock-timeout", "1")
        waited = time.monotonic() - began
    finally:
        connection.driver_connection.close()  # ends the session: its locks go with it
        holder.dispose()
    assert result.returncode == 1
    assert result.stderr == "gitbeat: error: another gitbeat apply is running; gave up after waiting 1s\n"
    assert waited >= 1.0
    assert run(project, database_url, "apply").returncode == 0


def big_config(project: Path, count: int, every: str = "60s") -> None:
    lines = ["schedules:"]
    for i in range(count):
        lines += [f"  bulk-{i:05}:", "    task: health.check", f"    every: {every}"]
    (project / "schedules" / "bulk.yaml").write_text("\n".join(lines) + "\n")


def backend_waiting(admin: object, database: str, mysql: bool) -> int | None:
    """The session of gitbeat's waiting for a row lock: pg_stat_activity, or InnoDB's transactions on MariaDB."""
    with admin.cursor() as cursor:  # type: ignore[attr-defined]
        if mysql:
            cursor.execute(
                "SELECT t.trx_mysql_thread_id FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p "
                "ON p.ID = t.trx_mysql_thread_id WHERE p.DB = %s AND t.trx_state = 'LOCK WAIT'",
                (database,),
            )
        else:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'gitbeat' "
                "AND wait_event_type = 'Lock'",
                (database,),
            )
        found = cursor.fetchone()
    return found[0] if found else None


def test_a_connection_killed_mid_apply_changes_nothing(project: Path, server_url: str) -> None:
    mysql = server_url.startswith("mysql")
    big_config(project, 2000)
    assert run(project, server_url, "apply").returncode == 0
    before = rows(server_url, project, "SELECT name, spec, digest FROM gitbeat_schedules ORDER BY name")
    big_config(project, 4000, every="90s")  # 2,000 changed and 2,000 added
    database = server_url.rsplit("/", 1)[1]
    admin = dbapi_connect(server_url)
    blocker = dbapi_connect(server_url, autocommit=False)
    with blocker.cursor() as cursor:  # hold one row the apply must update: it blocks mid-transaction
        cursor.execute("SELECT 1 FROM gitbeat_schedules WHERE name = 'bulk-01999' FOR UPDATE")
    process = start(project, server_url, "apply")
    try:
        deadline = time.monotonic() + 30
        pid = None
        while pid is None and time.monotonic() < deadline and process.poll() is None:
            pid = backend_waiting(admin, database, mysql)
            time.sleep(0.25 if mysql else 0.05)  # InnoDB refreshes INNODB_TRX only when unread for 0.1 s
        assert pid is not None, process.communicate(timeout=5)
        kill_session(admin, server_url, pid)  # pg_terminate_backend, or KILL on MariaDB
        stdout, stderr = process.communicate(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
        admin.close()
    driver = "mysql+pymysql" if mysql else "postgresql+psycopg2"
    assert process.returncode == 1, stdout
    assert stderr.startswith(f"gitbeat: error: lost the connection to the database at {driver}://"), stderr
    assert stderr.endswith("the transaction was rolled back and nothing was changed\n")
    assert stderr.count("\n") == 1
    assert rows(server_url, project, "SELECT name, spec, digest FROM gitbeat_schedules ORDER BY name") == before
    assert rows(server_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]
    retried = run(project, server_url, "apply")
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.endswith(": 2000 to add, 2000 to change, 0 to remove.\n")  # ids may skip: sequences
