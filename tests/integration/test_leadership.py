"""Beat's leadership connection is made as the store's engine makes its own: the URL's options hold for it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gitbeat.settings import normalise_database_url
from gitbeat.store import Store
from gitbeat.store.leadership import MySQLLeadership, PostgresLeadership, leadership_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sslmode=disable", {"sslmode": "disable"}),
        ("sslmode=allow&connect_timeout=3", {"sslmode": "allow", "connect_timeout": "3"}),
        ("host=/var/run/postgresql", {"host": "/var/run/postgresql"}),
    ],
)
def test_the_leadership_connection_keeps_the_url_options(postgres_url: str, query: str, expected: dict) -> None:
    url = normalise_database_url(f"{postgres_url}?{query}", Path("."))
    if "host=" in query:  # the server given only as a socket folder in the query, as libpq allows
        url = url.replace("@127.0.0.1:5432", "@")
    store = Store(url)
    leadership = leadership_for(store)
    assert isinstance(leadership, PostgresLeadership)
    try:
        assert leadership.acquire() is True
        parameters = leadership.connection.get_dsn_parameters()
        assert {key: parameters.get(key) for key in expected} == expected
        assert parameters["application_name"] == "gitbeat beat"
        # A second beat on the same database stands by.
        other = PostgresLeadership(Store(url))
        try:
            assert other.acquire() is False
        finally:
            other.close()
    finally:
        leadership.close()
        store.engine.dispose()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("charset=utf8mb4", {"@@character_set_client": "utf8mb4"}),
        ("charset=latin1&connect_timeout=3", {"@@character_set_client": "latin1"}),
    ],
)
def test_the_mysql_leadership_connection_keeps_the_url_options(mariadb_url: str, query: str, expected: dict) -> None:
    """GET_LOCK on a connection of its own, made from the URL as the engine's are; a second beat stands by."""
    url = normalise_database_url(f"{mariadb_url}?{query}", Path("."))
    store = Store(url)
    leadership = leadership_for(store)
    assert isinstance(leadership, MySQLLeadership)
    try:
        assert leadership.acquire() is True
        with leadership.connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(expected)}, IS_USED_LOCK(%s) = CONNECTION_ID()", (leadership.name,))
            *values, holds = cursor.fetchone()
        assert dict(zip(expected, values, strict=True)) == expected
        assert holds == 1
        other = MySQLLeadership(Store(url))
        try:
            assert other.acquire() is False
            leadership.close()  # the session ends: its lock goes with it
            assert other.acquire() is True
        finally:
            other.close()
    finally:
        leadership.close()
        store.engine.dispose()


def test_a_killed_mysql_session_loses_the_lead_at_once(mariadb_url: str) -> None:
    """KILL on the leader's session frees the lock at once; the old leader notices at its next tick, not 10 s later."""
    from tests.integration.cluster import dbapi_connect, kill_session

    url = normalise_database_url(mariadb_url, Path("."))
    leader, standby = MySQLLeadership(Store(url)), MySQLLeadership(Store(url))
    admin = dbapi_connect(mariadb_url)
    try:
        assert leader.acquire() is True
        with leader.connection.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            (session,) = cursor.fetchone()
        kill_session(admin, mariadb_url, session)
        assert standby.acquire() is True
        deadline = time.monotonic() + 2
        while leader.held and time.monotonic() < deadline:
            leader.notified()
            time.sleep(0.05)
        assert leader.held is False
        assert leader.acquire() is False  # it stands by now
    finally:
        admin.close()
        leader.close()
        standby.close()


def test_a_new_leader_whose_load_fails_does_not_lead_until_it_has_loaded(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database went away between taking the lock and reading the run state: the beat must not fire from what it
    held before (due times another leader sent, or none at all), and the next leadership check loads again."""
    from gitbeat import cli
    from gitbeat.app import create_app
    from gitbeat.errors import StoreError
    from gitbeat.scheduler import Scheduler
    from gitbeat.settings import Settings
    from gitbeat.store.beat import BeatStore
    from tests.integration.cluster import write_project

    project = write_project(tmp_path / "project", 3)
    assert cli.main(["apply", "--config", str(project), "--database", database_url]) == 0
    url = normalise_database_url(database_url, project)
    settings = Settings(_env_file=None, database_url=url, broker_url_override="memory://")  # type: ignore[call-arg]
    store = Store(url)
    _, config = BeatStore(store).revision_config()
    store.engine.dispose()
    real = BeatStore.revision_config
    failures = iter([StoreError("lost the connection to the database")])

    def revision_config_failing_once(self: BeatStore) -> object:
        for error in failures:
            raise error
        return real(self)

    monkeypatch.setattr(BeatStore, "revision_config", revision_config_failing_once)
    scheduler = Scheduler(app=create_app(project, settings, config, name="load-fails"))
    try:
        assert (scheduler.state.leader, scheduler.entries) == (False, {})  # the lock is held, nothing loaded
        scheduler._check_leadership(time.monotonic())
        assert scheduler.state.leader
        assert {"s0", "s1", "s2"} <= set(scheduler.entries)
    finally:
        scheduler.close()
    assert "beat: database unavailable (lost the connection to the database)" in caplog.text
