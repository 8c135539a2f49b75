"""Environments: overlays merged over the base by name, field by field, located in their own files; one per store."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gitbeat import cli
from gitbeat.commands import environment
from gitbeat.errors import FAILED, OK
from gitbeat.loader import load_config

BASE = {
    "gitbeat.yaml": "timezone: UTC\n",
    "handlers.py": "def run(n=0):\n    return n\n",
    "tasks/t.yaml": """
        queues:
          work: {}
        tasks:
          job.run:
            handler: handlers:run
            queue: work
            rate_limit: 10/m
        """,
    "schedules/s.yaml": """
        schedules:
          check:
            task: job.run
            every: 300s
            jitter: 10s
            args: [1]
          nightly:
            task: job.run
            cron: "0 1 * * *"
        """,
    "environments/staging/s.yaml": """
        schedules:
          check:
            cron: "*/5 * * * *"
            args: [2]
          staging-only:
            task: job.run
            every: 60s
        tasks:
          job.run:
            rate_limit: 100/m
        """,
    "environments/production/s.yaml": """
        schedules:
          nightly:
            enabled: false
            note: migrating
        """,
}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None) -> Path:
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / "project", BASE)


def test_an_overlay_changes_fields_replaces_timing_and_adds_schedules(root: Path) -> None:
    base, problems = load_config(root)
    assert problems == [] and set(base.schedules) == {"check", "nightly"}
    staging, problems = load_config(root, env="staging")
    assert problems == []
    check = staging.schedules["check"]
    assert (check.cron, check.every, check.args, check.jitter) == ("*/5 * * * *", None, [2], 10)  # jitter kept
    assert set(staging.schedules) == {"check", "nightly", "staging-only"}
    assert staging.tasks["job.run"].rate_limit == "100/m" and staging.tasks["job.run"].queue == "work"
    production, _ = load_config(root, env="production")
    assert (production.schedules["nightly"].enabled, production.schedules["nightly"].note) == (False, "migrating")
    assert production.environment == "production" and production.schedules["check"].every == 300


def test_an_overlay_mistake_is_located_in_the_overlay(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(root, {"environments/staging/bad.yaml": """
        schedules:
          nightly:
            cron: "61 * * * *"
        tasks:
          job.new:
            handler: handlers:run
        """})
    assert cli.main(["validate", "--config", str(root)]) == FAILED  # the base and every environment
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        "project/environments/staging/bad.yaml:3:11: error: schedules.nightly.cron: minute 61 is out of range 0-59",
        "project/environments/staging/bad.yaml:5:3: error: tasks.job.new: task 'job.new' is not in the base config: "
        "an environment changes tasks and queues, and adds only schedules",
    ]
    assert cli.main(["validate", "--config", str(root), "--env", "production"]) == OK
    capsys.readouterr()


def test_an_unknown_environment_is_one_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--config", str(root), "--env", "nope"]) == FAILED
    assert capsys.readouterr().err == (
        "gitbeat: error: no environment 'nope': environments/nope/ does not exist (environments: production, "
        "staging)\n"
    )


def test_a_store_holds_one_environment(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli.main(["apply", "--config", str(root), "--database", database, "--env", "staging"]) == OK
    capsys.readouterr()
    for argv in (["apply"], ["plan"], ["apply", "--env", "production"]):
        assert cli.main([*argv, "--config", str(root), "--database", database]) == FAILED
        err = capsys.readouterr().err
        assert err.startswith("gitbeat: error: this database holds environment 'staging'; refusing "), err
    monkeypatch.setenv("GITBEAT_ENV", "staging")  # the variable works as the option
    assert cli.main(["plan", "--config", str(root), "--database", database, "--detailed-exitcode"]) == OK
    assert capsys.readouterr().out.startswith("No changes")
    history = cli.main(["history", "--config", str(root), "--database", database, "--format", "json"])
    assert history == OK


@pytest.mark.parametrize(
    ("variables", "dotenv", "expected"),
    [
        ({}, None, None),
        ({"GITBEAT_ENV": "staging"}, None, "staging"),
        ({"gitbeat_env": "staging"}, None, "staging"),  # read case-insensitively, as every setting
        ({}, "GITBEAT_ENV=staging\n", "staging"),
        ({"GITBEAT_ENV": "production"}, "GITBEAT_ENV=staging\n", "production"),  # the environment wins over .env
    ],
)
def test_the_environment_comes_from_the_variable_or_the_roots_dotenv(
    root: Path, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], dotenv: str | None, expected: str | None
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (root / ".env").write_text(dotenv)
    assert environment(argparse.Namespace(config=root, env=None)) == expected
    assert environment(argparse.Namespace(config=root, env="other")) == "other"  # --env wins


def test_a_bad_environment_name_in_dotenv_is_one_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / ".env").write_text("GITBEAT_ENV=../prod\n")
    assert cli.main(["validate", "--config", str(root)]) == FAILED
    assert capsys.readouterr().err.startswith("gitbeat: error: invalid settings: GITBEAT_ENV: String should match")


def test_validate_without_an_environment_does_not_read_the_settings(root: Path) -> None:
    # Other settings (a database, a broker) are not validate's business, and reading them costs 0.1 s of imports.
    probe = (
        "import sys\nfrom gitbeat import cli\n"
        f"code = cli.main(['validate', '--no-imports', '--config', {str(root)!r}])\n"
        "print(code, 'pydantic_settings' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**os.environ, "CELERY_RABBITMQ_PORT": "not a port"})
    assert result.stdout.split("\n")[-2] == f"{OK} False", result
