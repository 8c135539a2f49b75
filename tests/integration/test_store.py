"""plan / apply / history / status against real PostgreSQL and SQLite, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from gitbeat.settings import normalise_database_url as normalise
from tests.conftest import gitbeat

pytestmark = pytest.mark.integration


def run(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return gitbeat(*args, "--config", project, "--database", url, cwd=project)


def engine(url: str, project: Path) -> sa.Engine:
    return sa.create_engine(normalise(url, project))


def rows(url: str, project: Path, sql: str) -> list[tuple]:
    with engine(url, project).connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


HEALTH_CHECK_ONLY = """schedules:
  health-check:
    description: Every five minutes.
    task: health.check
    every: 300s
    jitter: 10s
    overlap: skip
"""


def keep_only_health_check(project: Path) -> None:
    (project / "schedules" / "maintenance.yaml").write_text(HEALTH_CHECK_ONLY)


def test_plan_apply_round_trip(project: Path, database_url: str) -> None:
    first = run(project, database_url, "plan", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "+ schedule health-check: health.check every 5m (UTC)" in first.stdout
    assert first.stdout.endswith("Plan: 12 to add, 0 to change, 0 to remove.\n")

    applied = run(project, database_url, "apply", "-m", "first")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == "Applied revision 1: 12 to add, 0 to change, 0 to remove.\n"
    assert rows(database_url, project, "SELECT name, owner, enabled FROM gitbeat_schedules ORDER BY name") == [
        ("cleanup-expired-sessions", "gitbeat", True),
        ("health-check", "gitbeat", True),
        ("sync-user-stats", "gitbeat", True),
    ]

    again = run(project, database_url, "apply")
    assert again.returncode == 0
    assert "no revision recorded" in again.stdout
    assert rows(database_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]
    assert run(project, database_url, "plan", "--detailed-exitcode").returncode == 0

    edit(project / "schedules" / "maintenance.yaml", 'cron: "0 0 * * *"', 'cron: "30 1 * * *"')
    edit(project / "tasks" / "notifications.yaml", "rate_limit: 100/m", "rate_limit: 50/m")
    edit(project / "tasks" / "queues.yaml", "max_priority: 10", "max_priority: 20")
    planned = run(project, database_url, "plan", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr
    lines = planned.stdout.splitlines()
    assert "~ schedule cleanup-expired-sessions" in lines
    assert '    cron: "0 0 * * *" → "30 1 * * *"' in lines
    assert "~ task notifications.send [live]" in lines
    assert '    rate_limit: "100/m" → "50/m"' in lines
    assert "~ queue notifications [restart]" in lines
    assert "    max_priority: 10 → 20" in lines
    before, after = lines[lines.index('    cron: "0 0 * * *" → "30 1 * * *"') + 1:][:2]
    assert before.startswith("    next before: ") and "00:00 UTC" in before and "01:30" not in before
    assert after.startswith("    next after:  ") and "01:30 UTC" in after
    assert lines[-1] == "Plan: 0 to add, 3 to change, 0 to remove."

    assert run(project, database_url, "apply").returncode == 0
    history = run(project, database_url, "history")
    assert history.returncode == 0
    assert [line.split()[0] for line in history.stdout.splitlines()] == ["#2", "#1"]
    assert "0 to add, 3 to change, 0 to remove" in history.stdout.splitlines()[0]
    assert "— first" in history.stdout.splitlines()[1]


def test_plan_formats(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    edit(project / "schedules" / "maintenance.yaml", "every: 300s", "every: 10m")
    markdown = run(project, database_url, "plan", "--format", "markdown")
    # The summary first (a pull request's reader sees it before the details), then the changes.
    assert markdown.stdout.startswith(
        "### gitbeat plan against revision 1\n\n**0 to add, 1 to change, 0 to remove.**\n\n```diff\n"
        "~ schedule health-check\n"
    )
    assert "    every: 300 → 600\n" in markdown.stdout
    assert markdown.stdout.endswith("```\n")
    document = json.loads(run(project, database_url, "plan", "--format", "json").stdout)
    assert document["version"] == 1 and document["revision"] == 1
    assert document["summary"] == {"add": 0, "change": 1, "remove": 0, "drift": 0}
    [change] = document["changes"]
    assert (change["kind"], change["action"], change["name"]) == ("schedule", "change", "health-check")
    assert change["fields"] == [{"field": "every", "old": 300, "new": 600}]
    assert len(change["next_fires"]) == 3


def test_drift_is_shown_and_repaired(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    # What an operator would type on each database.
    set_cron = (
        "jsonb_set(spec::jsonb, '{cron}', '\"*/5 * * * *\"')::json"
        if database_url.startswith("postgresql")
        else "json_set(spec, '$.cron', '*/5 * * * *')"
    )
    with engine(database_url, project).begin() as connection:
        connection.exec_driver_sql(f"UPDATE gitbeat_schedules SET spec = {set_cron} WHERE name = 'sync-user-stats'")
        connection.exec_driver_sql("UPDATE gitbeat_schedules SET enabled = false WHERE name = 'health-check'")
    status = run(project, database_url, "status")
    assert "drift: 2 managed schedule(s) changed outside gitbeat" in status.stdout
    planned = run(project, database_url, "plan", "--detailed-exitcode")
    assert planned.returncode == 2
    lines = planned.stdout.splitlines()
    assert "! schedule sync-user-stats: changed in the database outside gitbeat; apply restores the config" in lines
    assert '    cron: "*/5 * * * *" → "0 * * * *"' in lines
    assert "    enabled: false → true" in lines
    assert lines[-1] == "Plan: 0 to add, 0 to change, 0 to remove, 2 drifted to repair."
    assert run(project, database_url, "apply").returncode == 0
    assert run(project, database_url, "plan", "--detailed-exitcode").returncode == 0
    assert rows(database_url, project, "SELECT enabled FROM gitbeat_schedules WHERE name = 'health-check'") == [(True,)]


def test_unmanaged_rows_are_never_touched(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    with engine(database_url, project).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO gitbeat_schedules (name, spec, digest, enabled, created_at, updated_at, run_count) "
            "VALUES ('hand-made', '{\"task\": \"health.check\", \"every\": 60}', '', true, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"
        )
    (project / "schedules" / "maintenance.yaml").write_text(
        "schedules:\n  health-check:\n    task: health.check\n    every: 300s\n"
    )
    planned = run(project, database_url, "plan")
    assert "Unmanaged (in the database, not from gitbeat; never touched): hand-made" in planned.stdout
    assert "- schedule cleanup-expired-sessions" in planned.stdout
    assert "hand-made" not in "".join(line for line in planned.stdout.splitlines() if line.startswith(("-", "~", "!")))
    assert run(project, database_url, "apply").returncode == 0
    names = rows(database_url, project, "SELECT name, owner FROM gitbeat_schedules ORDER BY name")
    assert names == [("hand-made", None), ("health-check", "gitbeat")]


def test_no_prune_keeps_removed_schedules(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    keep_only_health_check(project)
    kept = run(project, database_url, "apply", "--no-prune")
    assert kept.returncode == 0
    assert kept.stdout == "No changes: the database matches the config; no revision recorded.\n"
    assert rows(database_url, project, "SELECT count(*) FROM gitbeat_schedules") == [(3,)]
    pruned = run(project, database_url, "apply")
    assert pruned.stdout == "Applied revision 2: 0 to add, 0 to change, 2 to remove.\n"
    assert rows(database_url, project, "SELECT name FROM gitbeat_schedules") == [("health-check",)]


def test_a_config_name_held_by_an_unmanaged_row_is_refused(project: Path, database_url: str) -> None:
    run(project, database_url, "db", "upgrade")
    with engine(database_url, project).begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO gitbeat_schedules (name, spec, digest, enabled, created_at, updated_at, run_count) "
            "VALUES ('health-check', '{}', '', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"
        )
    refused = run(project, database_url, "apply")
    assert refused.returncode == 1
    assert refused.stderr == (
        "gitbeat: error: these schedules exist in the database but gitbeat does not own them; rename them in "
        "the config or delete the rows: health-check\n"
    )
    assert rows(database_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(0,)]


def test_run_state_survives_and_timing_changes_reset_it(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    with engine(database_url, project).begin() as connection:
        connection.exec_driver_sql(
            "UPDATE gitbeat_schedules SET run_count = 7, last_task_id = 'abc', "
            "last_run_at = CURRENT_TIMESTAMP, next_due_at = CURRENT_TIMESTAMP"
        )
    schedules = project / "schedules" / "maintenance.yaml"
    edit(schedules, "description: Hourly, on the hour.", "description: Hourly.")
    edit(schedules, "every: 300s", "every: 600s")
    assert run(project, database_url, "apply").returncode == 0
    state = dict(
        (name, (count, task, due is not None))
        for name, count, task, due in rows(
            database_url, project, "SELECT name, run_count, last_task_id, next_due_at FROM gitbeat_schedules"
        )
    )
    assert state["sync-user-stats"] == (7, "abc", True)  # a description change keeps everything
    assert state["health-check"] == (7, "abc", False)  # a timing change resets the next due time only


def test_invalid_config_changes_nothing(project: Path, database_url: str) -> None:
    run(project, database_url, "apply")
    edit(project / "schedules" / "maintenance.yaml", 'cron: "@hourly"', 'cron: "61 * * * *"')
    failed = run(project, database_url, "apply")
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        "schedules/maintenance.yaml:10:11: error: schedules.sync-user-stats.cron: minute 61 is out of range 0-59",
        "gitbeat: 1 error in the config; nothing was changed",
    ]
    assert rows(database_url, project, "SELECT count(*) FROM gitbeat_revisions") == [(1,)]


def test_git_commit_and_dirty_flag_are_recorded(project: Path, database_url: str) -> None:
    git = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "config"], cwd=project, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    assert run(project, database_url, "apply").returncode == 0
    edit(project / "schedules" / "maintenance.yaml", "every: 300s", "every: 60s")
    assert run(project, database_url, "apply").returncode == 0
    recorded = rows(database_url, project, "SELECT id, git_commit, git_dirty FROM gitbeat_revisions ORDER BY id")
    assert recorded == [(1, head, False), (2, head, True)]
    assert f"{head[:12]} (dirty)" in run(project, database_url, "history").stdout.splitlines()[0]


def test_an_unreachable_database_is_one_clear_line(project: Path) -> None:
    result = run(project, "postgresql://root@127.0.0.1:1/nowhere", "plan")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "gitbeat: error: cannot use the database at postgresql+psycopg2://root@127.0.0.1:1/nowhere: "
    )
    assert "Traceback" not in result.stderr


def test_new_schedules_are_written_in_chunks(
    project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Many new rows go in chunks of COPY_CHUNK (bounded memory at 100,000 schedules); each is written, once."""
    import gitbeat.store.apply as store_apply
    from gitbeat import cli

    monkeypatch.setattr(store_apply, "COPY_CHUNK", 2)  # the example's three schedules: a chunk of 2, then of 1
    monkeypatch.chdir(project)
    assert cli.main(["apply", "--config", str(project), "--database", database_url, "-m", "chunks"]) == 0
    assert capsys.readouterr().out == "Applied revision 1: 12 to add, 0 to change, 0 to remove.\n"
    assert rows(database_url, project, "SELECT name FROM gitbeat_schedules ORDER BY name") == [
        ("cleanup-expired-sessions",), ("health-check",), ("sync-user-stats",)
    ]
