"""Real services for integration tests: a fresh PostgreSQL or MariaDB database per test, a copy of the example project.

Locally a missing service skips the test; in CI (CI=true) it fails, so nothing hides.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg2
import pytest

from tests.conftest import CI, PROJECT
from tests.integration.rabbitnode import RabbitNode, rabbitmq_scripts

AMQP = "amqp://guest:guest@127.0.0.1:5672//"
PG_HOST = os.environ.get("GITBEAT_TEST_PGHOST", "127.0.0.1")
PG_USER = os.environ.get("GITBEAT_TEST_PGUSER", "root")
MARIADB_HOST = os.environ.get("GITBEAT_TEST_MARIADBHOST", "127.0.0.1")
MARIADB_USER = "root"  # empty password, as .ci/run's MariaDB


def _admin() -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(host=PG_HOST, port=5432, user=PG_USER, dbname="postgres", connect_timeout=5)
    except psycopg2.OperationalError as error:
        if CI:
            raise
        pytest.skip(f"no PostgreSQL on {PG_HOST}:5432 ({error})")
    connection.autocommit = True
    return connection


@contextmanager
def new_database(kind: str) -> Iterator[str]:
    """A new, empty database on the `kind` server (postgresql, or mysql: MariaDB), dropped afterwards."""
    name = f"gitbeat_test_{uuid.uuid4().hex[:12]}"
    if kind == "mysql":
        admin = _mariadb_admin()
        create, drop = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", f"DROP DATABASE IF EXISTS `{name}`"
        url = f"mysql://{MARIADB_USER}@{MARIADB_HOST}:3306/{name}"
    else:
        admin = _admin()
        create, drop = f'CREATE DATABASE "{name}"', f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        url = f"postgresql://{PG_USER}@{PG_HOST}:5432/{name}"
    with admin.cursor() as cursor:
        cursor.execute(create)
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(drop)
        admin.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    with new_database("postgresql") as url:
        yield url


def _mariadb_admin() -> Any:
    import pymysql

    try:
        return pymysql.connect(host=MARIADB_HOST, port=3306, user=MARIADB_USER, connect_timeout=5, autocommit=True)
    except pymysql.Error as error:
        if CI:
            raise
        pytest.skip(f"no MariaDB on {MARIADB_HOST}:3306 ({error})")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A new, empty MariaDB (MySQL) database for this test, dropped afterwards."""
    with new_database("mysql") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'gitbeat.db'}"


URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mysql": "mariadb_url"}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each store test runs on every backend (mysql: MariaDB)."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


@pytest.fixture(params=["postgresql", "mysql"])
def server_url(request: pytest.FixtureRequest) -> str:
    """A database server of its own for this test: PostgreSQL, then MariaDB (the tests of several hosts)."""
    return request.getfixturevalue(URL_FIXTURES[request.param])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project: config, handlers and gitbeat.yaml."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("tasks", "schedules", "schema"):
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "gitbeat.yaml", root / "gitbeat.yaml")
    return root


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    """A RabbitMQ virtual host of this test's own: fixed queue names (the example's) cannot collide."""
    name = f"gitbeat-test-{uuid.uuid4().hex[:10]}"
    try:
        subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as error:
        if CI:
            raise
        pytest.skip(f"cannot add a RabbitMQ vhost ({error})")
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True, timeout=60)
    try:
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


def rabbitmq_available() -> None:
    """Skip without RabbitMQ, except in CI, where its absence is a failure."""
    import kombu

    try:
        with kombu.Connection(AMQP, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # any failure to connect means the same here
        if CI:
            raise
        pytest.skip(f"no RabbitMQ at {AMQP}: {error}")


@pytest.fixture
def rabbit_node(tmp_path: Path) -> Iterator[RabbitNode]:
    """A started RabbitMQ node of this test's own (see rabbitnode.py), stopped afterwards even if the test fails.

    For tests that stop or restart the broker, which the shared node on 5672 must never be. Function scope:
    each test gets a fresh node (about 4-6 s to start, 1.5 s to stop), so a test that leaves the application
    stopped or queues behind cannot affect the next one. Skipped without rabbitmq-server, except in CI.
    """
    if rabbitmq_scripts() is None:
        if CI:
            pytest.fail("rabbitmq-server is not installed")
        pytest.skip("rabbitmq-server is not installed")
    node = RabbitNode(tmp_path / "rabbit")
    try:
        node.start()
        node.wait_ready()
        yield node
    finally:
        node.stop()

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, message: str | Callable[[], str] = "",
               step: float = 0.05) -> T:
    """Poll `condition` until it returns something truthy and return that; fail with `message` after `timeout` s.

    `message` may be a callable (the logs, say), called only on failure. The last look is at the deadline.
    """
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise AssertionError(f"not within {timeout:.3g}s" + (f": {text}" if text else ""))
        time.sleep(min(step, remaining))
    return result


def process_state(pid: int) -> str | None:
    """The state letter of `pid` in /proc (R, S, T, Z, ...), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def group_pids(pgid: int) -> list[int]:
    """The processes of group `pgid` (a worker and its pool children, say), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return found


def group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs. A killed one that init has not reaped yet (a zombie, for a
    second or so here) has exited: it runs nothing and holds no socket, so it does not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not Path("/proc").is_dir():
        return True
    return any(process_state(pid) not in (None, "Z") for pid in group_pids(pgid))
