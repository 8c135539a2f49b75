"""What the migrations share: column types and steps that give one schema on PostgreSQL, SQLite and MySQL/MariaDB.

MySQL's DDL is not transactional: each CREATE or ALTER commits by itself, so a migration
cut off midway (the process killed, the connection lost) leaves part of its work behind.
On MySQL each step is therefore skipped when it is already done, and running the
migration again finishes it. Elsewhere a migration is one transaction and the steps
run as written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

MYSQL = ("mysql", "mariadb")
# A UTC instant: timestamptz on PostgreSQL; DATETIME(6) on MySQL (microseconds, no time zone: gitbeat writes UTC).
MOMENT = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), *MYSQL)
# JSON kept verbatim: MySQL's JSON type would rewrite the text (and its digest), and TEXT holds only 64 KB.
JSON_TEXT = sa.Text().with_variant(postgresql.JSON(), "postgresql").with_variant(mysql.LONGTEXT(), *MYSQL)
DOUBLE = sa.Float().with_variant(mysql.DOUBLE(), *MYSQL)  # MySQL's FLOAT is single precision
# InnoDB, and names compared byte for byte ('Backup' and 'backup' are two schedules, as on PostgreSQL).
TABLE_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def on_mysql() -> bool:
    return op.get_bind().dialect.name in MYSQL


def now() -> Any:
    """The server's current time as a column default (CURRENT_TIMESTAMP(6) for DATETIME(6) on MySQL)."""
    return sa.text("CURRENT_TIMESTAMP(6)") if on_mysql() else sa.func.current_timestamp()


def create_table(name: str, *columns: sa.Column[Any]) -> None:
    if on_mysql() and sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns, **TABLE_OPTIONS)


def add_column(table: str, column: sa.Column[Any]) -> None:
    if on_mysql() and column.name in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
        return
    with op.batch_alter_table(table) as batch:
        batch.add_column(column)


def create_index(name: str, table: str, columns: list[str], **options: Any) -> None:
    if on_mysql() and name in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        return
    op.create_index(name, table, columns, **options)
