"""The database under the store: one engine, transactions whose errors are one line, the lock, the schema.

A `readonly` database (plan, status, history, next) never writes: it creates no file,
folder or table, runs its transactions read-only (PostgreSQL, MySQL) or `query_only` (SQLite),
and reads a database gitbeat has not set up as one with nothing applied.

On MySQL and MariaDB every session runs READ COMMITTED (PostgreSQL's default, which the
store's statements are written for: no gap locks) with its time zone at UTC.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ..errors import StoreError
from .tables import VERSION_TABLE

APPLY_LOCK = 0x67697462  # "gitb": the advisory lock key of apply and migrations
MYSQL_NAMES = ("mysql", "mariadb")  # SQLAlchemy's names of the MySQL family (mariadb+pymysql:// names the second)
MIGRATIONS = Path(__file__).parent / "migrations"


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:\"([^\"]*)\"|'([^']*)'|None)\s*$", re.M)


@lru_cache(maxsize=1)
def head() -> str:
    """The newest migration, read from the scripts (never a constant bumped by hand).

    The one revision no script names as its `down_revision`, read from the scripts' text:
    importing Alembic to learn it would cost every command that only checks the version
    a tenth of a second (tests/unit/test_store_schema.py checks it against Alembic's own).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for name, double, single in _REVISION_LINE.findall(script.read_text()):
            value = double or single
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise StoreError(f"internal: the migrations have {len(heads)} heads ({', '.join(sorted(heads))}), not one")
    return heads.pop()


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    args: tuple[Any, ...] = getattr(original, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        original = args[1]  # PyMySQL's (code, message)
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__


_LOST = ("terminat", "closed", "server closed", "connection already closed",  # PostgreSQL
         "Lost connection", "gone away", "Connection was killed")  # MySQL, MariaDB (KILL)


def _connection_lost(error: BaseException) -> bool:
    text = _first_line(error)
    return bool(getattr(error, "connection_invalidated", False)) or any(marker in text for marker in _LOST)


def lock_name(database: str | None, purpose: str) -> str:
    """A MySQL user-level lock's name (GET_LOCK): the server has one namespace, so it names the database; ≤ 64."""
    name = f"gitbeat.{purpose}.{database or ''}"
    return name if len(name) <= 64 else f"gitbeat.{purpose}.{hashlib.sha256(name.encode()).hexdigest()[:40]}"


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite store (None for PostgreSQL and in-memory SQLite)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return Path(engine.url.database)


class Database:
    """One database: its engine, its transactions, the apply lock and the schema version."""

    def __init__(
        self, url: str, *, lock_timeout: float = 30.0, readonly: bool = False, application_name: str = "gitbeat",
        pre_ping: bool = True, durable: bool = True, autocommit: bool = False,
    ) -> None:
        """`pre_ping` False: no liveness query before each use (`statement` retries a dead connection once
        instead); `durable` False: commits do not wait for the disk (PostgreSQL's synchronous_commit off);
        `autocommit`: every statement commits by itself, no BEGIN/COMMIT (for one-statement writers)."""
        self.lock_timeout = lock_timeout
        self.readonly = readonly
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = lock_timeout
        elif url.startswith("postgresql"):
            connect_args["connect_timeout"] = 5
            connect_args["application_name"] = application_name  # who is who in pg_stat_activity
            options = [*(["-c default_transaction_read_only=on"] if readonly else []),
                       *(["-c synchronous_commit=off"] if not durable else [])]
            if options:
                connect_args["options"] = " ".join(options)
        elif url.startswith(MYSQL_NAMES):
            connect_args["connect_timeout"] = 5
            connect_args["program_name"] = application_name  # who is who in performance_schema
        # What the URL says wins over gitbeat's defaults (SQLAlchemy lets connect_args win).
        given = sa.engine.make_url(url).query
        self.connect_args = {key: value for key, value in connect_args.items() if key not in given}
        connect_args = self.connect_args
        isolation: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        if not autocommit and url.startswith(MYSQL_NAMES):
            isolation = {"isolation_level": "READ COMMITTED"}
        self.engine = sa.create_engine(url, connect_args=connect_args, pool_pre_ping=pre_ping, **isolation)
        self._file = _sqlite_file(self.engine)
        if self._file is not None and not readonly:
            self._file.parent.mkdir(parents=True, exist_ok=True)
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_query_only if readonly else _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        elif self.dialect == "mysql":
            event.listen(self.engine, "connect", _mysql_read_only if readonly else _mysql_connect)
        self._schema: str | None = None  # the schema version once known to be usable

    def dedicated_connection(self, **overrides: Any) -> Any:
        """A DBAPI connection of its own, outside the pool, made exactly as the engine makes its own.

        The URL's query options (sslmode, a socket host, ...) and the engine's connect
        arguments hold for it too; `overrides` replace single ones (application_name).
        """
        args, options = self.engine.dialect.create_connect_args(self.engine.url)
        return self.engine.dialect.loaded_dbapi.connect(*args, **{**options, **self.connect_args, **overrides})

    @property
    def dialect(self) -> str:
        """postgresql, sqlite or mysql (MariaDB too)."""
        name = self.engine.dialect.name
        return "mysql" if name in MYSQL_NAMES else name

    def lock_name(self, purpose: str) -> str:
        return lock_name(self.engine.url.database, purpose)

    def describe(self) -> str:
        return _safe_url(self.engine)

    def statement(self, sql: Any, parameters: dict[str, Any]) -> int:
        """Run one statement on its own (autocommit: no BEGIN, no COMMIT round trip); its row count.

        For idempotent statements only: a connection found dead is replaced and the
        statement run once more.
        """
        for attempt in (1, 2):
            try:
                with self.engine.connect() as connection:
                    connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                    return int(connection.execute(sql, parameters).rowcount)
            except DBAPIError as error:
                if attempt == 1 and error.connection_invalidated:
                    continue
                raise StoreError(self._explain(error)) from None
        raise AssertionError("unreachable")

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[Connection]:
        """A transaction; database errors become one clear StoreError line."""
        if write and self.readonly:
            raise StoreError("internal: a read-only store was asked to write")
        dbapi_error = getattr(self.engine.dialect.dbapi, "Error", DBAPIError)
        try:
            with self.engine.connect() as connection:
                connection.info["immediate"] = write
                try:
                    with connection.begin():
                        if write:
                            self._lock(connection)
                        yield connection
                finally:
                    if write and self.dialect == "mysql":
                        self._unlock(connection)
        except StoreError:
            raise
        except OperationalError as error:
            raise StoreError(self._explain(error)) from None
        except (DBAPIError, dbapi_error) as error:
            if _connection_lost(error):
                raise StoreError(self._explain(error)) from None
            raise StoreError(f"database error at {self.describe()}: {_first_line(error)}") from None

    def _explain(self, error: BaseException) -> str:
        text = _first_line(error)
        if "database is locked" in text:
            return f"another gitbeat apply is running; gave up after waiting {self.lock_timeout:g}s"
        if _connection_lost(error):
            return (
                f"lost the connection to the database at {self.describe()} ({text}); "
                "the transaction was rolled back and nothing was changed"
            )
        return f"cannot use the database at {self.describe()}: {text}"

    def _lock(self, connection: Connection) -> None:
        if self.dialect == "mysql":
            return self._lock_mysql(connection)
        if self.dialect != "postgresql":
            return  # SQLite: the immediate transaction is the lock
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
        try:
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(APPLY_LOCK)))
        except DBAPIError as error:
            if getattr(error.orig, "pgcode", None) == "55P03":
                raise StoreError(
                    f"another gitbeat apply is running; gave up after waiting {self.lock_timeout:g}s"
                ) from None
            raise
        connection.exec_driver_sql("SET LOCAL lock_timeout = 0")

    def _lock_mysql(self, connection: Connection) -> None:
        """GET_LOCK: a lock of the session, not of the transaction, so `connect` releases it after the commit.

        Taken before the transaction reads anything, so what it reads is what the last apply committed.
        """
        got = connection.execute(
            sa.select(sa.func.get_lock(self.lock_name("apply"), self.lock_timeout))
        ).scalar()
        if got != 1:
            raise StoreError(f"another gitbeat apply is running; gave up after waiting {self.lock_timeout:g}s")

    def _unlock(self, connection: Connection) -> None:
        if connection.invalidated or connection.closed:
            return  # a session that died took its lock with it
        with contextlib.suppress(DBAPIError):
            connection.execute(sa.select(sa.func.release_lock(self.lock_name("apply"))))
            connection.commit()

    # --- schema -----------------------------------------------------------------

    def schema_version(self) -> str | None:
        """The schema's version; None for a database (or SQLite file) that gitbeat has not set up."""
        if self._file is not None and not self._file.exists():
            return None
        with self.connect() as connection:
            if not sa.inspect(connection).has_table(VERSION_TABLE):
                return None
            return connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()

    def upgrade(self) -> str | None:
        """Migrate to the newest schema; returns the version it started from."""
        before = self.schema_version()
        if before == head():
            self._schema = head()
            return before
        from alembic import command
        from alembic.config import Config as AlembicConfig

        logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin chatter is not a beat's news
        alembic = AlembicConfig()
        alembic.set_main_option("script_location", str(MIGRATIONS))
        with self.connect(write=True) as connection:
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, "head")
        self._schema = head()
        return before

    def ensure_schema(self) -> bool:
        """Whether gitbeat's tables are there to read: a writer migrates them; a reader never does.

        A read-only store on a database that gitbeat has not set up reads as empty; one
        whose schema is older or newer than this gitbeat's is refused in one line.
        """
        if self._schema is not None:
            return True
        if not self.readonly:
            self.upgrade()
            return True
        version = self.schema_version()
        if version is None:
            return False  # not remembered: a later apply may create the tables
        if version != head():
            raise StoreError(
                f"the database at {self.describe()} has gitbeat schema {version}, and this gitbeat reads {head()}: "
                "run `gitbeat db upgrade` (apply also does it) with a gitbeat of the same version"
            )
        self._schema = version
        return True


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE: pysqlite's own deferred
    # BEGIN would let two applies read the same state and then collide.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    # A reader: no journal-mode change (that writes the file), and SQLite refuses any write.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _mysql_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("SET time_zone = '+00:00'")  # CURRENT_TIMESTAMP in UTC, as every Moment is
    cursor.close()


def _mysql_read_only(dbapi_connection: Any, record: Any) -> None:
    # A reader: the server refuses any write or DDL in this session's transactions.
    _mysql_connect(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("SET SESSION TRANSACTION READ ONLY")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # An autocommit statement commits by itself: a BEGIN here would open a transaction that
    # returning the connection to the pool rolls back, and the write would be lost.
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.info.get("immediate") else "BEGIN")
