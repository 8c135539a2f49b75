"""One error path (SPEC §4): every mistake is one located line and a named exit code, never a traceback or a secret.

In-process through `cli.main`, on a copy of the example project; each case also checks
that nothing was created in the project (the store's folder above all).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gitbeat import cli
from gitbeat.cli import COMMANDS
from gitbeat.errors import BUG, FAILED, INTERRUPTED, OK
from tests.conftest import PROJECT, gitbeat

SECRET = "s3cretPassw0rd"
SETTINGS = [
    "GITBEAT_DATABASE_URL", "CELERY_BROKER", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_RABBITMQ_PORT",
    "CELERY_RABBITMQ_PASSWORD", "REDIS_PORT", "REDIS_PASSWORD", "GITBEAT_CONFIG",
]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("tasks", "schedules"):
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "gitbeat.yaml", root / "gitbeat.yaml")
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(root)
    return root


def free_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, expected: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err
    assert SECRET not in err
    assert err == f"gitbeat: error: {expected}\n"


# (environment, arguments, the exact line). {port} is a port where nothing listens.
CASES: dict[str, tuple[dict[str, str], list[str], str]] = {
    "database-unknown-scheme": (
        {}, ["plan", "--database", "foo://x"],
        "--database: 'foo' is not a database gitbeat can use; use SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)",
    ),
    "database-not-a-url": (
        {"GITBEAT_DATABASE_URL": "not a url"}, ["plan"],
        "GITBEAT_DATABASE_URL: cannot read 'not a url': not a database URL",
    ),
    "database-port-not-a-number": (
        {"GITBEAT_DATABASE_URL": f"postgresql://root:{SECRET}@127.0.0.1:notaport/x"}, ["status"],
        "GITBEAT_DATABASE_URL: cannot read 'postgresql://root:***@127.0.0.1:notaport/x': the port is not a number",
    ),
    "database-oracle": (
        {}, ["apply", "--database", f"oracle://root:{SECRET}@127.0.0.1/test"],
        "--database: 'oracle' is not a database gitbeat can use; use SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)",
    ),
    "database-mssql": (
        {"GITBEAT_DATABASE_URL": f"mssql+pyodbc://sa:{SECRET}@127.0.0.1/test"}, ["status"],
        "GITBEAT_DATABASE_URL: 'mssql' is not a database gitbeat can use; use SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)",
    ),
    "database-refused": (
        {}, ["plan", "--database", f"postgresql://root:{SECRET}@127.0.0.1:{{port}}/x"],
        "cannot use the database at postgresql+psycopg2://root:***@127.0.0.1:{port}/x: "
        'connection to server at "127.0.0.1", port {port} failed: Connection refused',
    ),
    "broker-port-not-a-number-dlq": (
        {"CELERY_BROKER_URL": f"amqp://guest:{SECRET}@127.0.0.1:notaport//"}, ["dlq", "list", "notifications"],
        "CELERY_BROKER_URL: the port in 'amqp://guest:***@127.0.0.1:notaport//' is not a number",
    ),
    "broker-port-not-a-number-worker": (
        {"CELERY_BROKER_URL": f"amqp://guest:{SECRET}@127.0.0.1:notaport//"}, ["worker"],
        "CELERY_BROKER_URL: the port in 'amqp://guest:***@127.0.0.1:notaport//' is not a number",
    ),
    "broker-unknown-transport": (
        {"CELERY_BROKER_URL": "bogus://x"}, ["worker"],
        "CELERY_BROKER_URL: 'bogus' is not a broker kombu knows (e.g. amqp://…, redis://…)",
    ),
    "rabbitmq-down": (
        {"CELERY_BROKER": "rabbitmq", "CELERY_RABBITMQ_PORT": "{port}", "CELERY_RABBITMQ_PASSWORD": SECRET},
        ["worker"],
        "cannot reach the broker at amqp://guest:***@127.0.0.1:{port}/%2F to declare the queues: "
        "[Errno 111] Connection refused",
    ),
    "redis-refused": (
        {"CELERY_BROKER": "redis", "REDIS_PORT": "{port}", "REDIS_PASSWORD": SECRET}, ["worker"],
        "cannot reach the broker at redis://:***@127.0.0.1:{port}/1 to declare the queues: "
        "Error 111 connecting to 127.0.0.1:{port}. Connection refused.",
    ),
    "result-backend-unknown": (
        {"CELERY_RESULT_BACKEND": "bogus://x"}, ["worker"],
        "CELERY_RESULT_BACKEND: 'bogus' is not a result backend Celery knows (e.g. db+postgresql://…, db+mysql://…, redis://…, rpc://)",
    ),
    "result-backend-bad-database": (
        {"CELERY_RESULT_BACKEND": f"db+postgresql://u:{SECRET}@h:notaport/x"}, ["beat"],
        "CELERY_RESULT_BACKEND: cannot read 'postgresql://u:***@h:notaport/x': the port is not a number",
    ),
    "flower-auth-without-password": (
        {"FLOWER_BASIC_AUTH": "admin:"}, ["flower"],
        "FLOWER_BASIC_AUTH: expected user:password with neither part empty",
    ),
    "beat-unknown-celery-option": ({}, ["beat", "--", "--bogus"], "celery beat: No such option '--bogus'."),
    "worker-celery-option-before-dashes": (
        {}, ["worker", "--concurrency", "1"],
        "unrecognized arguments: --concurrency; Celery's own options go after `--`: "
        "gitbeat worker -- --concurrency 1 (see `gitbeat worker --help`)",
    ),
    "unknown-command": (
        {}, ["frobnicate"],
        "argument COMMAND: invalid choice: 'frobnicate' (choose from "
        + ", ".join(repr(name) for name in COMMANDS) + ") (see `gitbeat --help`)",
    ),
    "no-command": ({}, [], "the following arguments are required: COMMAND (see `gitbeat --help`)"),
    "config-not-a-project": (
        {}, ["--config", "/nonexistent", "validate"],
        "/nonexistent: no tasks/ or schedules/ directory here; is --config right?",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_one_line_and_changes_nothing(
    case: str, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment, argv, expected = CASES[case]
    port = str(free_port())
    for name, value in environment.items():
        monkeypatch.setenv(name, value.replace("{port}", port))
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    code, out, err = run(capsys, *[a.replace("{port}", port) for a in argv])
    assert code == FAILED, (out, err)
    assert_one_line(err, expected.replace("{port}", port))
    if argv[:1] in (["plan"], ["status"], ["apply"], ["dlq"], ["frobnicate"], []):
        assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def test_options_work_before_the_command(project: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = run(capsys, "--config", str(project), "validate")
    assert (code, err) == (OK, "")
    assert out == "ok: 2 queues, 7 tasks, 3 schedules in 6 files\n"
    # After the command wins over before it.
    code, _, err = run(capsys, "--config", str(elsewhere), "validate", "--config", str(project))
    assert (code, err) == (OK, "")
    database = f"sqlite:///{tmp_path / 'x.db'}"
    code, out, _ = run(capsys, "--database", database, "--config", str(project), "status")
    assert code == OK and out.startswith(f"database: {database}\n")


BROKEN = ("every: 300s", "every: 300x")
LOCATED = (
    "schedules/maintenance.yaml:14:12: error: schedules.health-check.every: a duration is a number of seconds "
    "or a string such as 30s, 5m, 1h30m, 2d; got '300x'\n"
    "gitbeat: 1 error in the config; nothing was changed\n"
)


@pytest.mark.parametrize("command", ["worker", "beat", "plan", "apply", "flower"])
def test_a_broken_tree_prints_its_located_errors(
    command: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "schedules" / "maintenance.yaml"
    path.write_text(path.read_text().replace(*BROKEN))
    code, out, err = run(capsys, command)
    assert (code, out, err) == (FAILED, "", LOCATED)


def test_a_bug_is_exit_3_with_the_traceback_in_a_log_file(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gitbeat.commands import status

    def broken(args: object) -> int:
        raise RuntimeError(f"internal invariant broken near {SECRET}")

    monkeypatch.setattr(status, "run", broken)
    code, _out, err = run(capsys, "status")
    log = tmp_path / "cache" / "gitbeat" / "gitbeat.log"
    assert code == BUG
    assert err == f"gitbeat: an unexpected error (RuntimeError), please report it; the traceback is in {log}\n"
    assert "Traceback (most recent call last)" in log.read_text()
    assert f"RuntimeError: internal invariant broken near {SECRET}" in log.read_text()


@pytest.mark.parametrize(
    ("raised", "code"), [(KeyboardInterrupt(), INTERRUPTED), (BrokenPipeError(), FAILED)]
)
def test_interrupts_and_closed_pipes(
    raised: BaseException, code: int, project: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gitbeat.commands import status

    def interrupted(args: object) -> int:
        raise raised

    monkeypatch.setattr(status, "run", interrupted)
    assert run(capsys, "status") == (code, "", "")


def test_read_only_commands_create_nothing(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    code, out, err = run(capsys, "plan")
    assert code == OK and out.endswith("Plan: 12 to add, 0 to change, 0 to remove.\n")
    assert err == (
        f"gitbeat: note: nothing is applied to sqlite:///{project / '.gitbeat' / 'gitbeat.db'} yet; "
        "apply creates gitbeat's tables\n"
    )
    for argv in (["status"], ["history"], ["db", "version"], ["next", "health-check"]):
        code, out, err = run(capsys, *argv)
        assert (code, err) == (OK, ""), argv
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    assert not (project / ".gitbeat").exists()


def test_plan_on_an_older_schema_says_so(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlalchemy as sa

    assert run(capsys, "apply")[0] == OK
    engine = sa.create_engine(f"sqlite:///{project / '.gitbeat' / 'gitbeat.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE gitbeat_alembic_version SET version_num = '0001'")
    engine.dispose()
    code, out, err = run(capsys, "plan")
    assert code == FAILED and out == ""
    assert err.startswith(f"gitbeat: error: the database at sqlite:///{project / '.gitbeat' / 'gitbeat.db'} has gitbeat schema 0001")
    assert err.count("\n") == 1


@pytest.mark.parametrize("make", [lambda p: ["plan", "--database", "foo://x"]])
def test_the_console_script_behaves_the_same(make: Callable[[Path], list[str]], project: Path) -> None:
    result = gitbeat(*make(project), cwd=project)
    assert result.returncode == FAILED
    assert result.stderr == "gitbeat: error: --database: 'foo' is not a database gitbeat can use; use SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)\n"
