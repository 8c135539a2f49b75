"""Review without production access: `plan --base REF` from git alone, and saved plans that apply exactly or refuse."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from gitbeat.errors import CHANGES, FAILED, OK
from gitbeat.settings import normalise_database_url
from tests.conftest import PROJECT
from tests.unit.test_corpus import Run, in_process

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def gitbeat(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """`gitbeat ARGS` in this process (as a fresh one would run it), with `env` set for the call."""
    def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
        with monkeypatch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            return in_process(patch, capsys, cwd or tmp_path, *map(str, args))
    return run


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(project: Path) -> Path:
    """The example project with its environments, committed once on `main` (the base of a pull request)."""
    shutil.copytree(PROJECT / "environments", project / "environments")
    git(project, "init", "-q", "-b", "main")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "base")
    return project


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_plan_against_a_git_ref_needs_no_database(gitbeat, repo: Path) -> None:
    edit(repo / "schedules" / "maintenance.yaml", "every: 300s", "every: 120s")
    result = gitbeat("--config", repo, "plan", "--base", "main", "--detailed-exitcode", cwd=repo,
                     env={"GITBEAT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert result.returncode == CHANGES, result.stderr
    assert "~ schedule health-check" in result.stdout and "every: 300 → 120" in result.stdout
    assert "next before:" in result.stdout and "next after:" in result.stdout
    assert "0 to add, 1 to change, 0 to remove" in result.stdout
    assert not (repo / ".gitbeat").exists(), "plan --base touched the embedded database"


def test_plan_base_formats_and_no_changes(gitbeat, repo: Path) -> None:
    assert "No changes: the config matches HEAD." in gitbeat("--config", repo, "plan", "--base", "HEAD").stdout
    edit(repo / "tasks" / "maintenance.yaml", "tasks:\n", "tasks:\n  extra.task:\n    handler: tasks.health:check\n")
    markdown = gitbeat("--config", repo, "plan", "--base", "HEAD", "--format", "markdown").stdout
    assert markdown.startswith("### gitbeat plan against HEAD\n\n**1 to add, 0 to change")
    assert "**Workers must restart** to pick up: task `extra.task`" in markdown
    document = json.loads(gitbeat("--config", repo, "plan", "--base", "HEAD", "--format", "json").stdout)
    assert document["against"] == "HEAD" and document["revision"] is None
    assert [(c["kind"], c["action"], c["name"]) for c in document["changes"]] == [("task", "add", "extra.task")]


def test_plan_base_per_environment(gitbeat, repo: Path) -> None:
    edit(repo / "environments" / "staging" / "schedules.yaml", "every: 60s", "every: 30s")
    staging = gitbeat("--config", repo, "--env", "staging", "plan", "--base", "main")
    assert "every: 60 → 30" in staging.stdout, staging.stdout + staging.stderr
    base = gitbeat("--config", repo, "plan", "--base", "main")
    assert "No changes" in base.stdout  # the overlay changed only staging
    production = gitbeat("--config", repo, "plan", "--base", "main", env={"GITBEAT_ENV": "production"})
    assert "No changes" in production.stdout


def test_plan_base_does_not_import_the_handlers_at_the_ref(gitbeat, repo: Path) -> None:
    """The ref's config is read from git objects; only the working tree's handlers are imported (and checked)."""
    (repo / "tasks" / "health.py").write_text("raise RuntimeError('the old handler must not be imported')\n")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "broken handler at the ref")
    git(repo, "checkout", "-q", "HEAD~1", "--", "tasks/health.py")
    result = gitbeat("--config", repo, "plan", "--base", "HEAD")
    assert result.returncode == OK, result.stderr
    assert "No changes" in result.stdout


@pytest.mark.parametrize("ref", ["no-such-branch", "--upload-pack=touch /tmp/x"])
def test_plan_base_with_a_bad_ref_is_one_line(gitbeat, repo: Path, ref: str) -> None:
    result = gitbeat("--config", repo, "plan", f"--base={ref}")
    assert result.returncode == FAILED
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_plan_base_reports_an_invalid_config_at_the_ref_located(gitbeat, repo: Path) -> None:
    edit(repo / "schedules" / "maintenance.yaml", "every: 300s", "every: nonsense")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "bad")
    git(repo, "checkout", "-q", "HEAD~1", "--", "schedules/maintenance.yaml")
    result = gitbeat("--config", repo, "plan", "--base", "HEAD")
    assert result.returncode == FAILED
    assert "schedules/maintenance.yaml:" in result.stderr and "Traceback" not in result.stderr


# --- saved plans ---------------------------------------------------------------------------


def apply(gitbeat, repo: Path, url: str, *args: str) -> Run:
    return gitbeat("--config", repo, "--database", url, "apply", *args)


def revisions(url: str) -> int:
    engine = sa.create_engine(normalise_database_url(url, Path(".")))
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT count(*) FROM gitbeat_revisions")).scalar_one()
    finally:
        engine.dispose()


def test_a_saved_plan_applies_exactly_and_show_prints_it(gitbeat, repo: Path, database_url: str, tmp_path: Path) -> None:
    assert apply(gitbeat, repo, database_url).returncode == OK
    edit(repo / "schedules" / "maintenance.yaml", "every: 300s", "every: 120s")
    saved = tmp_path / "plan.json"
    planned = gitbeat("--config", repo, "--database", database_url, "plan", "--out", saved)
    assert planned.returncode == OK and "1 to change" in planned.stdout
    for fmt in ("text", "markdown", "json"):
        shown = gitbeat("show", saved, "--format", fmt)
        assert shown.returncode == OK and "health-check" in shown.stdout
    assert gitbeat("show", saved).stdout == planned.stdout
    applied = apply(gitbeat, repo, database_url, str(saved), "-m", "from the plan")
    assert applied.returncode == OK, applied.stderr
    assert revisions(database_url) == 2
    after = gitbeat("--config", repo, "--database", database_url, "plan")
    assert "No changes" in after.stdout


def _refused(gitbeat, repo: Path, url: str, saved: Path, expected: str) -> None:
    before = revisions(url)
    result = apply(gitbeat, repo, url, str(saved))
    assert result.returncode == FAILED, result.stdout
    assert expected in result.stderr and "nothing was changed" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert revisions(url) == before


def test_a_saved_plan_refuses_when_the_database_moved(gitbeat, repo: Path, database_url: str, tmp_path: Path) -> None:
    assert apply(gitbeat, repo, database_url).returncode == OK
    edit(repo / "schedules" / "maintenance.yaml", "every: 300s", "every: 120s")
    saved = tmp_path / "plan.json"
    assert gitbeat("--config", repo, "--database", database_url, "plan", "--out", saved).returncode == OK
    assert apply(gitbeat, repo, database_url, "-m", "someone else applied first").returncode == OK
    _refused(gitbeat, repo, database_url, saved, "the database moved since the plan was made: it is at revision 2, the plan was made against revision 1")


def test_a_saved_plan_refuses_when_rows_drifted(gitbeat, repo: Path, database_url: str, tmp_path: Path) -> None:
    assert apply(gitbeat, repo, database_url).returncode == OK
    saved = tmp_path / "plan.json"
    assert gitbeat("--config", repo, "--database", database_url, "plan", "--out", saved).returncode == OK
    engine = sa.create_engine(normalise_database_url(database_url, Path(".")))
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE gitbeat_schedules SET enabled = false WHERE name = 'health-check'"))
    engine.dispose()
    _refused(gitbeat, repo, database_url, saved, "changed since the plan was made (drift)")


def test_a_saved_plan_refuses_when_the_files_changed(gitbeat, repo: Path, database_url: str, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert gitbeat("--config", repo, "--database", database_url, "plan", "--out", saved).returncode == OK
    edit(repo / "schedules" / "maintenance.yaml", "every: 300s", "every: 120s")
    result = apply(gitbeat, repo, database_url, str(saved))
    assert result.returncode == FAILED and "the files no longer match the plan" in result.stderr
    with pytest.raises(sa.exc.SQLAlchemyError):  # not even gitbeat's tables were created
        revisions(database_url)


def test_a_saved_plan_refuses_another_environment(gitbeat, repo: Path, sqlite_url: str, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert gitbeat("--config", repo, "--database", sqlite_url, "--env", "staging", "plan", "--out", saved).returncode \
        == OK
    result = apply(gitbeat, repo, sqlite_url, str(saved))
    assert result.returncode == FAILED
    assert "the plan was made for staging, not for the base config" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "is not a saved plan (not JSON)"),
        ('{"kind": "terraform"}', "is not a saved plan; make one with"),
        ('{"kind": "gitbeat-plan", "version": 99}', "is a plan of version 99"),
        ('{"kind": "gitbeat-plan", "version": 1, "plan": {}}', "is a damaged plan"),
    ],
)
def test_a_file_that_is_not_a_saved_plan_is_one_line(gitbeat, repo: Path, tmp_path: Path, content: str,
                                                     expected: str) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(content)
    for args in (["show", bad], ["--config", repo, "apply", bad]):
        result = gitbeat(*args)
        assert result.returncode == FAILED and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (repo / ".gitbeat").exists()


def test_out_with_base_is_refused(gitbeat, repo: Path, tmp_path: Path) -> None:
    result = gitbeat("--config", repo, "plan", "--base", "main", "--out", tmp_path / "p.json")
    assert result.returncode != OK and "--out saves a plan against the database" in result.stderr
    assert not (tmp_path / "p.json").exists()
