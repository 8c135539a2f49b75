"""The house's walls: only the store talks SQL; the config commands load no database or broker library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "gitbeat"
SQL_LIBRARIES = ("sqlalchemy", "psycopg2", "alembic")
# Modules outside store/ that may name a SQL library, and why.
ALLOWED = {
    "settings.py": "parses and checks database URLs (sqlalchemy.engine.make_url); opens no connection",
}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_only_the_store_talks_sql() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("store/") or relative in ALLOWED:
            continue
        sql = sorted(name for name in _imported(path) if name.split(".")[0] in SQL_LIBRARIES)
        if sql:
            offenders[relative] = sql
    assert offenders == {}


@pytest.mark.parametrize("command", ["validate", "next", "schema"])
def test_config_commands_import_no_database_or_broker(command: str) -> None:
    """`validate`, `next` and `schema` run in CI without services: their modules load none of those libraries."""
    probe = (
        "import sys; from gitbeat import cli; "
        f"cli.build_parser({command!r}); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'psycopg2', 'alembic', 'kombu', 'amqp', 'redis', 'celery'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""
