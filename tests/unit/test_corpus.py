"""The bad-input corpus: every broken config tree under tests/fixtures/invalid/ fails as it states.

Each case directory is a config root (tasks/ and/or schedules/, maybe gitbeat.yaml and a
handler package) plus:

- `expected.txt`: the exact diagnostic lines `gitbeat validate --config ROOT` prints to stderr,
  run with the case directory as the current directory. `{root}` stands for the absolute
  path of that directory (an import error names the file of the user's code that raised).
- `args.txt` (optional): extra arguments, e.g. `--strict` for a case that only warns.
- `generate.txt` (optional): the case has input too big to commit; GENERATED below writes it.

Each case runs on a copy of itself: exit code 1, those exact lines then the summary, no
traceback, and nothing in the tree created or changed. Most run in-process through
`cli.main`; the few that exercised hangs and memory blow-ups (BOUNDED) run the real command
in a subprocess, killed after HANG_TIMEOUT seconds, with bounded peak memory. How fast
validate is belongs to bench/validate.py, not to a test.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from gitbeat import cli
from tests.conftest import FIXTURES, PROJECT

CORPUS = FIXTURES / "invalid"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
IMPORTING = [name for name in CASES if any((CORPUS / name).rglob("*.py"))]
# The cases that once hung, recursed without end or read without limit: they run the real
# command in a subprocess, which a hang cannot stop (it is killed) and whose memory is its own.
BOUNDED = [
    "alias-bomb",
    "alias-bomb-merge",
    "deep-nesting-flow-10000",
    "deep-nesting-lines-10000",
    "huge-file-50mb",
    "recursive-alias",
]
IN_PROCESS = [name for name in CASES if name not in BOUNDED]

HANG_TIMEOUT = 20.0
MAX_RSS_KB = 200 * 1024
# The 50 MB file is refused by its size: reading it would cost at least its 50 MB.
MAX_HUGE_EXTRA_KB = 25 * 1024


def _huge_file(root: Path) -> None:
    target = root / "schedules" / "huge.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 50 * 1024 * 1024
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB
    chunk = line * 1024  # 1 MiB
    with target.open("wb") as out:
        out.write(b"schedules:\n")
        for _ in range(size // len(chunk) - 1):
            out.write(chunk)
        rest = size - out.tell()
        out.write(chunk[: rest - 1] + b"\n")
    assert target.stat().st_size == size


# Secrets beside the config root, as a `.env` next to a checkout: a symlink must not carry them into CI logs.
SECRETS = "API_TOKEN: s3cr3t-0123456789abcdef\nDATABASE_PASSWORD: hunter2\n"


def _symlinked_file(root: Path) -> None:
    (root.parent / ".env").write_text(SECRETS)
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    (root / "schedules" / "env.yaml").symlink_to(Path("..", "..", ".env"))


def _symlinked_directory(root: Path) -> None:
    (root.parent / "shared").mkdir()
    (root.parent / "shared" / "secrets.yaml").write_text(SECRETS)
    (root / "tasks").mkdir(parents=True, exist_ok=True)
    (root / "tasks" / "shared").symlink_to(Path("..", "..", "shared"), target_is_directory=True)


def _symlinked_project_file(root: Path) -> None:
    (root.parent / ".env").write_text(SECRETS)
    (root / "schedules").mkdir(parents=True, exist_ok=True)
    (root / "gitbeat.yaml").symlink_to(Path("..", ".env"))


GENERATED: dict[str, Callable[[Path], None]] = {
    "huge-file-50mb": _huge_file,
    "symlink-file-out-of-root": _symlinked_file,
    "symlink-dir-out-of-root": _symlinked_directory,
    "symlink-project-file-out-of-root": _symlinked_project_file,
}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    max_rss_kb: int = 0  # a subprocess's peak RSS; 0 in-process, where the memory is pytest's
    timed_out: bool = False


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("GITBEAT_CONFIG", None)
    # As a user runs it: Python may write bytecode, so "changes nothing" is really checked.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


# Linux carries a process's peak RSS across exec from the memory it was forked from, so a command
# started straight from a pytest worker of 300 MB would "peak" at 300 MB. A small launcher forks
# the command from its own few MB and reports the command's own rusage: "EXIT_CODE PEAK_KIB".
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_validate(cwd: Path, *args: str, timeout: float = HANG_TIMEOUT) -> Run:
    """`python -m gitbeat validate --config . ARGS` in `cwd`: its output and peak RSS; killed after `timeout` s."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report"
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(report),
             sys.executable, "-m", "gitbeat", "validate", "--config", ".", *args],
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # the launcher and the command: one group, killed together
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            os.killpg(process.pid, signal.SIGKILL)

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            process.wait()
        finally:
            killer.cancel()
        returncode, max_rss_kb = (int(field) for field in report.read_text().split()) if report.exists() \
            else (process.returncode, 0)
        out.seek(0)
        err.seek(0)
        return Run(
            returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            max_rss_kb,  # KiB on Linux
            timed_out=killed.is_set(),
        )


# Where installed code lives: a module loaded from anywhere else is the code of a config tree.
_LIBRARIES = tuple(
    {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")} - {None, ""}
) + (str(PROJECT / "engine"),)


def module_files(module: ModuleType) -> list[Path]:
    """The file of a module, or the directories of a package without one."""
    file = getattr(module, "__file__", None)
    return [Path(file)] if file else [Path(p) for p in getattr(module, "__path__", None) or ()]


def config_code(module: ModuleType) -> bool:
    """True for a module loaded from a config tree rather than from the standard library or site-packages."""
    files = module_files(module)
    return bool(files) and not all(str(path).startswith(_LIBRARIES) for path in files)


def loaded_from(root: Path) -> list[str]:
    """The modules in sys.modules loaded from files under `root`."""
    real = root.resolve()
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if any(path.resolve().is_relative_to(real) for path in module_files(module))
    )


def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cwd: Path, *argv: str) -> Run:
    """`gitbeat ARGV` through `cli.main` in this process, with `cwd` the current directory.

    As a fresh process would run it, and undone for the tests that follow: sys.dont_write_bytecode
    starts False (so only validate keeps __pycache__ out of the tree), Celery's apps, current app and
    shared tasks start empty, and sys.path, sys.meta_path and the modules validate imports or evicts
    are the caller's again afterwards. The environment is the test's: request `clean_env`.
    """
    from celery import _state as celery_state

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(celery_state, "_apps", weakref.WeakSet())
    monkeypatch.setattr(celery_state._tls, "current_app", None)
    builtin = {f for f in celery_state._on_app_finalizers if f.__module__ == "celery.app.builtins"}
    monkeypatch.setattr(celery_state, "_on_app_finalizers", builtin)
    saved = dict(sys.modules)
    capsys.readouterr()
    try:
        code = cli.main(list(argv))
    finally:
        for name, module in list(sys.modules.items()):
            if saved.get(name) is not module and config_code(module):
                del sys.modules[name]
        for name, module in saved.items():  # what validate evicted: its local package names
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file and directory under `root`: modification time and content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir():
            found[relative + "/"] = (path.stat().st_mtime_ns, "")
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size < 1 << 20 else "big"
            found[relative] = (path.stat().st_mtime_ns, digest)
    return found


def prepare(name: str, tmp_path: Path) -> Path:
    """A copy of the case (the tree validate runs on), with generated input written in."""
    root = tmp_path / name
    shutil.copytree(CORPUS / name, root)
    if (root / "generate.txt").exists():
        GENERATED[name](root)
    return root


def expected_lines(name: str, root: Path) -> list[str]:
    text = (CORPUS / name / "expected.txt").read_text(encoding="utf-8")
    return [line.replace("{root}", str(root.resolve())) for line in text.splitlines()]


def extra_args(name: str) -> list[str]:
    args = CORPUS / name / "args.txt"
    return args.read_text().split() if args.exists() else []


@pytest.fixture(scope="module")
def baseline_rss_kb(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak RSS of validate on a one-line config: what the interpreter and gitbeat cost."""
    root = tmp_path_factory.mktemp("baseline")
    (root / "schedules").mkdir()
    (root / "schedules" / "s.yaml").write_text("schedules: {}\n")
    run = run_validate(root)
    assert run.returncode == 0, run.stderr
    return run.max_rss_kb


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 32
    assert set(BOUNDED) <= set(CASES), sorted(set(BOUNDED) - set(CASES))
    for name in CASES:
        case = CORPUS / name
        assert (case / "expected.txt").is_file(), f"{name}: no expected.txt"
        assert (case / "tasks").is_dir() or (case / "schedules").is_dir() or name in GENERATED, name
        assert ((case / "generate.txt").exists()) == (name in GENERATED), name
        for path in case.rglob("*"):
            assert not path.is_file() or path.stat().st_size <= 100 * 1024, f"{path} is too big to commit"


def fails_as_stated(name: str, root: Path, run: Run) -> None:
    """Exit 1, the case's exact lines then the summary on stderr, nothing on stdout, no traceback."""
    expected = expected_lines(name, root)
    assert expected, f"{name}: expected.txt is empty"
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines[:-1] == expected, "\n".join(lines)
    assert lines[-1].startswith("gitbeat: ") and "error" in lines[-1], lines[-1]
    assert run.stdout == ""


@pytest.mark.parametrize("name", IN_PROCESS)
def test_case_fails_as_stated(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    root = prepare(name, tmp_path)
    before = snapshot(root)
    run = in_process(monkeypatch, capsys, root, "validate", "--config", str(root), *extra_args(name))
    fails_as_stated(name, root, run)
    assert snapshot(root) == before, "validate changed the tree"
    assert not loaded_from(root), "the case's modules would leak into the next case"


@pytest.mark.parametrize("name", BOUNDED)
def test_case_fails_as_stated_and_stays_bounded(name: str, tmp_path: Path, baseline_rss_kb: int) -> None:
    """The real command in a subprocess: a hang is killed and fails, peak memory is the command's own."""
    root = prepare(name, tmp_path)
    before = snapshot(root)
    run = run_validate(root, *extra_args(name), timeout=HANG_TIMEOUT)
    assert not run.timed_out, f"{name}: still running after {HANG_TIMEOUT:.0f} s"
    fails_as_stated(name, root, run)
    assert run.max_rss_kb < MAX_RSS_KB, f"{name}: peak RSS {run.max_rss_kb} KiB"
    if name == "huge-file-50mb":
        assert run.max_rss_kb - baseline_rss_kb < MAX_HUGE_EXTRA_KB, (run.max_rss_kb, baseline_rss_kb)
    assert snapshot(root) == before, "validate changed the tree"


@pytest.mark.parametrize("name", IMPORTING)
def test_validate_changes_nothing_in_place(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    """Run on the committed case itself, importing its handlers: no __pycache__, nothing touched."""
    root = CORPUS / name
    before = snapshot(root)
    run = in_process(monkeypatch, capsys, root, "validate", "--config", str(root), *extra_args(name))
    assert run.returncode == 1, run.stderr
    after = snapshot(root)
    created = sorted(set(after) - set(before))
    assert not created, f"validate created {created}"
    assert after == before, "validate modified the tree"
    assert not loaded_from(root), "the case's modules would leak into the next case"


def test_importing_cases_exist() -> None:
    assert len(IMPORTING) >= 8
