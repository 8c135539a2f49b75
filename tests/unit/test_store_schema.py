"""The store's schema version: the migration head gitbeat reads from the scripts is Alembic's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from gitbeat.errors import StoreError
from gitbeat.store import database


def test_the_head_is_alembics_head() -> None:
    assert database.head() == ScriptDirectory(str(database.MIGRATIONS)).get_current_head()


def test_a_new_script_moves_the_head_and_two_heads_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(database.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    current = database.head()
    (migrations / "versions" / "9001_next.py").write_text(
        f'"""Next."""\n\nrevision: str = "9001"\ndown_revision: str | None = \'{current}\'\n'
    )
    monkeypatch.setattr(database, "MIGRATIONS", migrations)
    database.head.cache_clear()
    try:
        assert database.head() == "9001" == ScriptDirectory(str(migrations)).get_current_head()
        (migrations / "versions" / "9002_branch.py").write_text(f'revision = "9002"\ndown_revision = "{current}"\n')
        database.head.cache_clear()
        with pytest.raises(StoreError, match="2 heads"):
            database.head()
    finally:
        database.head.cache_clear()
