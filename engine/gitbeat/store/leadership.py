"""Which beat leads: a lock held on a connection of its own (a PostgreSQL advisory lock, MySQL's GET_LOCK), or a
file lock on SQLite.

The lock goes when the process dies (the kernel closes its socket or file), so a standby
takes over without waiting for a lease to run out. On PostgreSQL the same connection
LISTENs for new revisions; MySQL has no notifications, so the scheduler polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import time
from pathlib import Path
from typing import Any

import psycopg2

from ..errors import StoreError
from .database import Database

BEAT_LOCK = 0x67626174  # "gbat"
CHANNEL = "gitbeat_revisions"
VERIFY_INTERVAL = 10.0  # seconds between queries that prove a held lock's session is alive


class PostgresLeadership:
    """An autocommit connection holding pg_try_advisory_lock(BEAT_LOCK) and listening for revisions."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.connection: Any = None
        self.held = False
        self.verified_at = 0.0

    def _connect(self) -> Any:
        if self.connection is None or self.connection.closed:
            self.connection = self.database.dedicated_connection(application_name="gitbeat beat")
            self.connection.autocommit = True
            with self.connection.cursor() as cursor:
                cursor.execute(f"LISTEN {CHANNEL}")
            self.held = False
        return self.connection

    def acquire(self) -> bool:
        """Lead if nobody does; True while this process leads. Raises StoreError when the database is away."""
        # A closed session shows at the next notified() poll; a silently dead network only at a
        # query, so the session is still proven now and then, not at every check.
        if (
            self.held
            and self.connection is not None
            and not self.connection.closed
            and time.monotonic() - self.verified_at < VERIFY_INTERVAL
        ):
            return True
        try:
            connection = self._connect()
            with connection.cursor() as cursor:
                if self.held:
                    cursor.execute("SELECT 1")  # the lock lives as long as this session
                else:
                    cursor.execute("SELECT pg_try_advisory_lock(%s)", (BEAT_LOCK,))
                    self.held = bool(cursor.fetchone()[0])
        except psycopg2.Error as error:
            self.close()
            text = str(error).strip().splitlines()
            raise StoreError(f"lost the leadership connection: {text[0] if text else type(error).__name__}") from None
        self.verified_at = time.monotonic()
        return self.held

    def notified(self) -> bool:
        """True when a revision was applied since the last call (never blocks)."""
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            if select.select([connection], [], [], 0)[0]:
                connection.poll()
        except (psycopg2.Error, OSError, ValueError):
            self.close()
            return False
        if connection.notifies:
            connection.notifies.clear()
            return True
        return False

    def close(self) -> None:
        if self.connection is not None and not self.connection.closed:
            with contextlib.suppress(psycopg2.Error):
                self.connection.close()
        self.connection = None
        self.held = False


class MySQLLeadership:
    """An autocommit connection holding GET_LOCK('gitbeat.beat.<database>'): a lock of the session, released by the
    server when the session ends (the process died, or an operator ran KILL)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.name = database.lock_name("beat")
        self.connection: Any = None
        self.held = False
        self.verified_at = 0.0
        self.errors: tuple[type[BaseException], ...] = (database.engine.dialect.loaded_dbapi.Error, OSError)

    def _connect(self) -> Any:
        if self.connection is None:
            self.connection = self.database.dedicated_connection(program_name="gitbeat beat")
            self.connection.autocommit(True)
            self.held = False
        return self.connection

    def acquire(self) -> bool:
        """Lead if nobody does; True while this process leads. Raises StoreError when the database is away."""
        if self.held and self.connection is not None and time.monotonic() - self.verified_at < VERIFY_INTERVAL:
            return True
        try:
            connection = self._connect()
            with connection.cursor() as cursor:
                if self.held:  # the lock lives as long as this session: prove both
                    cursor.execute("SELECT IS_USED_LOCK(%s) = CONNECTION_ID()", (self.name,))
                else:
                    cursor.execute("SELECT GET_LOCK(%s, 0)", (self.name,))
                self.held = cursor.fetchone()[0] == 1
        except self.errors as error:
            self.close()
            text = str(error.args[1] if len(error.args) == 2 else error).strip().splitlines()
            raise StoreError(f"lost the leadership connection: {text[0] if text else type(error).__name__}") from None
        self.verified_at = time.monotonic()
        return self.held

    def notified(self) -> bool:
        """Never: MySQL has no notifications. An idle session whose socket turns readable was ended by the server
        (KILL, a restart): the lock went with it, so this beat leads no more (never blocks)."""
        sock = getattr(self.connection, "_sock", None)
        if sock is None:
            return False
        try:
            ended = bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            ended = True
        if ended:
            self.close()
        return False

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(*self.errors):
                self.connection.close()
        self.connection = None
        self.held = False


class FileLeadership:
    """flock() on a file beside the SQLite database: one leader per database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None
        self.held = False

    def acquire(self) -> bool:
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.handle is None:
            self.handle = open(self.path, "a+")  # noqa: SIM115 - held for the life of the leader
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"{os.getpid()}\n")
        self.handle.flush()
        self.held = True
        return True

    def notified(self) -> bool:
        return False  # SQLite has no notifications: the scheduler polls the revision id

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.handle = None
        self.held = False


def leadership_for(database: Database) -> PostgresLeadership | MySQLLeadership | FileLeadership:
    if database.dialect == "postgresql":
        return PostgresLeadership(database)
    if database.dialect == "mysql":
        return MySQLLeadership(database)
    path = database.engine.url.database or "gitbeat.db"
    return FileLeadership(Path(path + ".beat.lock"))
