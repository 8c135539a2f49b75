"""The example app's own SQLite database (not gitbeat's): sessions, logs, outboxes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id INTEGER, expires_at REAL);
CREATE TABLE IF NOT EXISTS operation_log (id INTEGER PRIMARY KEY, user_id INTEGER, action TEXT, detail TEXT, at REAL);
CREATE TABLE IF NOT EXISTS login_log (id INTEGER PRIMARY KEY, user_id INTEGER, success INTEGER, ip TEXT, at REAL);
CREATE TABLE IF NOT EXISTS user_stats (user_id INTEGER PRIMARY KEY, operations INTEGER, logins INTEGER, at REAL);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, channel TEXT, recipient TEXT, body TEXT, at REAL);
"""


def path() -> Path:
    return Path(os.environ.get("EXAMPLE_APP_DB", ".gitbeat/example-app.db"))


def connect() -> sqlite3.Connection:
    database = path()
    database.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database, timeout=30)
    connection.executescript(SCHEMA)
    return connection
