"""The error path against real services: a refused broker login, a read-only database role, an apply killed mid-COPY
(mid multi-row INSERT on MariaDB)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from gitbeat import cli
from gitbeat.errors import CHANGES, FAILED, OK
from tests.integration.cluster import dbapi_connect, kill_session, mariadb_user
from tests.integration.conftest import PG_HOST, rabbitmq_available
from tests.integration.test_store import rows, run
from tests.integration.test_store_faults import big_config, start

pytestmark = pytest.mark.integration


def test_a_wrong_rabbitmq_password_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rabbitmq_available()
    monkeypatch.chdir(project)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setenv("CELERY_BROKER", "rabbitmq")
    monkeypatch.setenv("CELERY_RABBITMQ_PASSWORD", "not-the-password")
    assert cli.main(["worker", "--config", str(project)]) == FAILED
    err = capsys.readouterr().err
    assert err == (
        "gitbeat: error: the broker at amqp://guest:***@127.0.0.1:5672/%2F refused to declare the queues: "
        "(0, 0): (403) ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
        "For details see the broker logfile.\n"
    )


@pytest.fixture
def reader(server_url: str) -> Iterator[str]:
    """A login role that may only SELECT in this test's database (granted now and for tables made later)."""
    role = f"gitbeat_reader_{uuid.uuid4().hex[:8]}"
    database = server_url.rsplit("/", 1)[1]
    if server_url.startswith("mysql"):
        with mariadb_user(server_url, "SELECT", prefix="gitbeat_reader") as (_, url):
            yield url
        return
    owner = psycopg2.connect(server_url)
    owner.autocommit = True
    with owner.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" LOGIN')
        cursor.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        cursor.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        cursor.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO "{role}"')
    try:
        yield f"postgresql://{role}@{PG_HOST}:5432/{database}"
    finally:
        with owner.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
            )
            cursor.execute(f'DROP ROLE "{role}"')
        owner.close()


def tables(url: str) -> list[str]:
    connection = dbapi_connect(url)
    try:
        with connection.cursor() as cursor:
            if url.startswith("mysql"):
                cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                               "ORDER BY table_name")
            else:
                cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
            return [name for (name,) in cursor.fetchall()]
    finally:
        connection.close()


def test_plan_status_and_history_run_with_a_select_only_role(
    project: Path, server_url: str, reader: str, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = "mysql+pymysql" if server_url.startswith("mysql") else "postgresql+psycopg2"
    # Before anything is applied: the plan is every add, and nothing is created.
    assert cli.main(["plan", "--config", str(project), "--database", reader, "--detailed-exitcode"]) == CHANGES
    out, err = capsys.readouterr()
    assert out.endswith("Plan: 12 to add, 0 to change, 0 to remove.\n")
    assert err.startswith(f"gitbeat: note: nothing is applied to {driver}://gitbeat_reader_")
    assert tables(server_url) == []
    assert run(project, server_url, "apply").returncode == 0
    edited = project / "schedules" / "maintenance.yaml"
    edited.write_text(edited.read_text().replace("every: 300s", "every: 120s"))
    assert cli.main(["plan", "--config", str(project), "--database", reader, "--detailed-exitcode"]) == CHANGES
    out, err = capsys.readouterr()
    assert "~ schedule health-check\n    every: 300 → 120\n" in out and err == ""
    for argv in (["status"], ["history"], ["db", "version"]):
        assert cli.main([*argv, "--config", str(project), "--database", reader]) == OK, capsys.readouterr()
    capsys.readouterr()
    # The same role cannot apply: one line, nothing changed.
    assert cli.main(["apply", "--config", str(project), "--database", reader]) == FAILED
    err = capsys.readouterr().err
    # PyMySQL calls a denied command an OperationalError: the line says "cannot use" there, as for a refused login.
    refused = "cannot use the database" if server_url.startswith("mysql") else "database error"
    assert err.startswith(f"gitbeat: error: {refused} at {driver}://gitbeat_reader_"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert rows(server_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]


# The apply's bulk write of new rows, waiting for a lock mid-transaction: COPY on PostgreSQL, a multi-row INSERT
# (behind a metadata lock) on MariaDB.
BULK_WAITING = {
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'gitbeat' "
                  "AND wait_event_type = 'Lock' AND query LIKE 'COPY gitbeat_schedules%%'",
    "mysql": "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND STATE LIKE 'Waiting for table%%' "
             "AND INFO LIKE 'INSERT INTO gitbeat_schedules%%'",
}


def test_an_apply_killed_mid_copy_is_one_line_and_changes_nothing(project: Path, server_url: str) -> None:
    mysql = server_url.startswith("mysql")
    assert run(project, server_url, "apply").returncode == 0
    big_config(project, 5000)  # 5,000 new rows: written with COPY (one multi-row INSERT on MariaDB)
    database = server_url.rsplit("/", 1)[1]
    admin = dbapi_connect(server_url)
    blocker = dbapi_connect(server_url, autocommit=False)
    with blocker.cursor() as cursor:  # COPY needs ROW EXCLUSIVE: it waits behind SHARE, mid-transaction
        cursor.execute("LOCK TABLES gitbeat_schedules READ" if mysql else "LOCK TABLE gitbeat_schedules IN SHARE MODE")
    process = start(project, server_url, "apply")
    try:
        deadline = time.monotonic() + 30
        pid = None
        while pid is None and time.monotonic() < deadline and process.poll() is None:
            with admin.cursor() as cursor:
                cursor.execute(BULK_WAITING["mysql" if mysql else "postgresql"], (database,))
                found = cursor.fetchone()
            pid = found[0] if found else None
            time.sleep(0.02)
        assert pid is not None, process.communicate(timeout=5)
        kill_session(admin, server_url, pid)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if mysql:
            with blocker.cursor() as cursor:
                cursor.execute("UNLOCK TABLES")
        blocker.rollback()
        blocker.close()
        admin.close()
    driver = "mysql+pymysql" if mysql else "postgresql+psycopg2"
    assert process.returncode == FAILED, stdout
    assert stderr.startswith(f"gitbeat: error: lost the connection to the database at {driver}://"), stderr
    assert stderr.endswith("the transaction was rolled back and nothing was changed\n")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert rows(server_url, project, "SELECT count(*) FROM gitbeat_schedules") == [(3,)]
    assert rows(server_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]
    assert run(project, server_url, "apply").returncode == 0
