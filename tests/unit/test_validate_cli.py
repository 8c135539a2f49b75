"""`gitbeat validate`: exit codes, output formats, flags and the import checks, as a user runs it.

In-process through `cli.main` (tests.unit.test_corpus.in_process); the first two tests run the
real console entry, `python -m gitbeat`, end to end.
"""

from __future__ import annotations

import gc
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from gitbeat import cli
from gitbeat.errors import FAILED, OK
from tests.conftest import PROJECT, gitbeat
from tests.unit.test_corpus import Run, in_process

Gitbeat = Callable[..., Run]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None) -> Gitbeat:
    """`gitbeat ARGS` through `cli.main`, with `cwd` the current directory."""

    def call(*args: str | Path, cwd: Path) -> Run:
        return in_process(monkeypatch, capsys, cwd, *map(str, args))

    return call


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


BROKEN = {
    "schedules/maint.yaml": """
        schedules:
          cleanup:
            task: maint.cleanup
            cron: "61 0 * * *"
          ping:
            task: maint.cleanup
            every: 5 minutes
        """,
    "tasks/maint.yaml": """
        tasks:
          maint.cleanup:
            queue: defualt
        """,
}


def test_the_example_config_is_valid() -> None:
    result = gitbeat("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 2 queues, 7 tasks, 3 schedules in 8 files\n"  # the base and two environments
    assert result.stderr == ""


def test_the_program_exits_with_its_code_after_the_exit_handlers(tmp_path: Path) -> None:
    """The program skips the interpreter's teardown, not what exit handlers do: one that the config's own code
    registers (imported by validate) still runs, the output is whole, and the exit code is the command's."""
    marker = tmp_path / "atexit-ran"
    tree(tmp_path, {
        "handlers.py": f"""
            import atexit
            atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
            def ping():
                pass
            """,
        "tasks/t.yaml": """
            tasks:
              t.ping:
                handler: handlers:ping
            """,
        "schedules/s.yaml": """
            schedules:
              ping:
                task: t.ping
                every: 1m
            """,
    })
    result = gitbeat("validate", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok: 0 queues, 1 task, 1 schedule in 2 files\n", "")
    assert marker.read_text() == "yes"
    (tmp_path / "schedules" / "s.yaml").write_text("schedules:\n  ping:\n    task: t.nope\n    every: 1m\n")
    marker.unlink()
    failed = gitbeat("validate", cwd=tmp_path)
    assert failed.returncode == 1 and "t.nope" in failed.stderr and marker.read_text() == "yes"


def test_text_reports_every_problem_located_on_stderr(tmp_path: Path) -> None:
    tree(tmp_path, BROKEN)
    result = gitbeat("validate", "--no-imports", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "schedules/maint.yaml:4:11: error: schedules.cleanup.cron: minute 61 is out of range 0-59",
        "schedules/maint.yaml:7:12: error: schedules.ping.every: a duration is a number of seconds or a string "
        "such as 30s, 5m, 1h30m, 2d; got '5 minutes'",
        "tasks/maint.yaml:3:12: error: tasks.maint.cleanup.queue: unknown queue 'defualt'; declared: celery",
        "gitbeat: 3 errors, 0 warnings; 0 queues, 1 task, 0 schedules in 2 files",
    ]


def test_config_flag_and_environment_name_the_root(
    tmp_path: Path, run: Gitbeat, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree(tmp_path / "project", BROKEN)
    by_flag = run("validate", "--no-imports", "--config", "project", cwd=tmp_path)
    assert by_flag.stderr.startswith("project/schedules/maint.yaml:4:11: error:")
    # clean_env drops GITBEAT_CONFIG from the inherited environment, then the test sets it again
    monkeypatch.setenv("GITBEAT_CONFIG", "project")
    by_env = run("validate", "--no-imports", cwd=tmp_path)
    assert by_env.returncode == 1


def test_a_root_without_config_directories_is_one_clear_line(tmp_path: Path, run: Gitbeat) -> None:
    result = run("validate", "--config", tmp_path / "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no tasks/ or schedules/ directory here" in result.stderr


def test_json_format_is_stable(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, BROKEN)
    result = run("validate", "--no-imports", "--format", "json", cwd=tmp_path)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["version"] == 1
    assert document["valid"] is False
    assert (document["errors"], document["warnings"]) == (3, 0)
    assert document["files"] == ["schedules/maint.yaml", "tasks/maint.yaml"]
    assert document["diagnostics"][0] == {
        "file": "schedules/maint.yaml",
        "line": 4,
        "column": 11,
        "severity": "error",
        "path": "schedules.cleanup.cron",
        "message": "minute 61 is out of range 0-59",
    }


def test_github_format_annotates_the_lines(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, BROKEN)
    result = run("validate", "--no-imports", "--format", "github", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "::error file=schedules/maint.yaml,line=4,col=11,title=gitbeat%3A schedules.cleanup.cron"
        "::minute 61 is out of range 0-59"
    )
    assert lines[1].startswith("::error file=schedules/maint.yaml,line=7,col=12,")
    assert "%2C" not in lines[1].split("::")[2]  # commas are escaped in properties only


WARNING_ONLY = {
    "tasks/t.yaml": """
        tasks:
          slow:
            handler: handlers:slow
            time_limit: 30s
            soft_time_limit: 30s
        """,
    "handlers.py": "def slow():\n    return 1\n",
}


def test_warnings_fail_only_with_strict(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, WARNING_ONLY)
    relaxed = run("validate", cwd=tmp_path)
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.stderr.splitlines() == [
        "tasks/t.yaml:5:22: warning: tasks.slow.soft_time_limit: soft_time_limit 30s is not below time_limit 30s: "
        "the task is killed before its soft limit can fire"
    ]
    assert relaxed.stdout == "ok: 0 queues, 1 task, 0 schedules in 1 file (1 warning)\n"
    strict = run("validate", "--strict", cwd=tmp_path)
    assert strict.returncode == 1


IMPORTS = {
    "gitbeat.yaml": """
        imports: [app.jobs]
        """,
    "app/__init__.py": "",
    "app/jobs.py": """
        from celery import shared_task

        @shared_task(name="reports.build")
        def build(year):
            return year
        """,
    "app/handlers.py": """
        import os
        from os import system

        class Flaky(Exception):
            pass

        def send(to, subject, body=""):
            return to
        """,
    "tasks/t.yaml": """
        tasks:
          reports.build:
            queue: celery
            rate_limit: 10/m
          mail.send:
            handler: app.handlers:send
            retry:
              on: [app.handlers.Flaky, ConnectionError]
        """,
    "schedules/s.yaml": """
        schedules:
          yearly:
            task: reports.build
            cron: "@yearly"
            args: [2026]
          mail:
            task: mail.send
            every: 1h
            kwargs: {to: ops@example.com, subject: hi}
        """,
}


def test_registered_tasks_and_handlers_import(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, IMPORTS)
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 0 queues, 2 tasks, 2 schedules in 2 files\n"


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        (
            "schedules/s.yaml",
            "task: reports.build",
            "task: reports.built",
            "schedules/s.yaml:3:11: error: schedules.yearly.task: unknown task 'reports.built' "
            "(did you mean 'reports.build'?)",
        ),
        (
            "tasks/t.yaml",
            "app.handlers:send",
            "app.handlers:system",
            "tasks/t.yaml:6:14: error: tasks.mail.send.handler: app.handlers:system is posix.system, "
            "outside the modules this config may import",
        ),
        (
            "tasks/t.yaml",
            "app.handlers:send",
            "os:system",
            "tasks/t.yaml:6:14: error: tasks.mail.send.handler: module os is outside the modules this config "
            "may import: packages in the config root (app) and gitbeat.yaml imports (app.jobs)",
        ),
        (
            "tasks/t.yaml",
            "app.handlers.Flaky",
            "app.handlers.os",
            "tasks/t.yaml:8:12: error: tasks.mail.send.retry.on[0]: app.handlers.os is not an exception class",
        ),
        (
            "tasks/t.yaml",
            "ConnectionError]",
            "ConectionError]",
            "tasks/t.yaml:8:32: error: tasks.mail.send.retry.on[1]: 'ConectionError' is not a built-in exception "
            "(did you mean 'ConnectionError'?); name others by their module, e.g. tasks.errors.Transient",
        ),
        (
            "schedules/s.yaml",
            "subject: hi}",
            "subjet: hi}",
            "schedules/s.yaml:9:13: error: schedules.mail.kwargs: the arguments do not fit "
            "app.handlers:send(to, subject, body=''): missing a required argument: 'subject'",
        ),
        (
            "gitbeat.yaml",
            "app.jobs",
            "app.jobz",
            "gitbeat.yaml:1:11: error: imports[0]: cannot import app.jobz: ModuleNotFoundError: "
            "No module named 'app.jobz'",
        ),
    ],
)
def test_import_problems_are_located(
    tmp_path: Path, run: Gitbeat, path: str, old: str, new: str, expected: str
) -> None:
    tree(tmp_path, IMPORTS)
    target = tmp_path / path
    target.write_text(target.read_text().replace(old, new))
    result = run("validate", cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.stderr


def test_no_imports_skips_the_imports(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, IMPORTS)
    (tmp_path / "app" / "handlers.py").write_text("raise RuntimeError('import side effect')\n")
    assert run("validate", cwd=tmp_path).returncode == 1
    skipped = run("validate", "--no-imports", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr


def test_an_import_that_raises_names_the_place(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, IMPORTS)
    (tmp_path / "app" / "handlers.py").write_text("x = 1\nraise RuntimeError('no database here')\n")
    result = run("validate", cwd=tmp_path)
    assert (
        "tasks/t.yaml:6:14: error: tasks.mail.send.handler: cannot import app.handlers: "
        f"RuntimeError: no database here (at {tmp_path / 'app' / 'handlers.py'}:2)"
    ) in result.stderr.splitlines(), result.stderr


def test_validate_changes_nothing(tmp_path: Path, run: Gitbeat) -> None:
    tree(tmp_path, IMPORTS)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    run("validate", cwd=tmp_path)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_example_project_handlers_are_importable() -> None:
    assert (PROJECT / "tasks" / "__init__.py").is_file()


def test_a_command_bounded_by_the_config_runs_without_the_cyclic_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate, plan, apply make objects that live to their end: the collector walking them was a tenth of the
    time. The handler module validate imports sees the collector off; the caller gets it back on. Commands that
    keep running or work through queues (beat, worker, serve, dlq, ...) keep it."""
    tree(tmp_path, {
        "handlers.py": """
            import gc
            COLLECTING_WHILE_IMPORTED = gc.isenabled()
            def ping():
                pass
            """,
        "tasks/t.yaml": "tasks:\n  t.ping:\n    handler: handlers:ping\n",
        "schedules/s.yaml": "schedules:\n  ping:\n    task: t.ping\n    every: 1m\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "handlers", raising=False)
    assert gc.isenabled()
    assert cli.main(["validate", "--config", str(tmp_path)]) == OK
    assert sys.modules["handlers"].COLLECTING_WHILE_IMPORTED is False
    assert gc.isenabled()
    assert cli.main(["validate", "--config", str(tmp_path / "nowhere")]) == FAILED  # also after an error
    assert gc.isenabled()
    assert cli.main(["history", "--config", str(tmp_path), "--database", f"sqlite:///{tmp_path / 'g.db'}"]) == OK
    assert gc.isenabled()
