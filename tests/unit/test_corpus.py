"""The bad-input corpus: every broken config tree under tests/fixtures/invalid/ fails as it states.

Each case directory is a config root (tasks/ and/or schedules/, maybe gitbeat.yaml and a
handler package) plus:

- `expected.txt`: the exact diagnostic lines `gitbeat validate --config .` prints to stderr,
  run with the case directory as the current directory. `{root}` stands for the absolute
  path of that directory (an import error names the file of the user's code that raised).
- `args.txt` (optional): extra arguments, e.g. `--strict` for a case that only warns.
- `generate.txt` (optional): the case has input too big to commit; GENERATED below writes it.

Each case runs the real command in a subprocess, on a copy of the case: exit code 1, those
exact lines then the summary, no traceback, in under a second of wall time, with bounded
peak memory, and nothing in the tree created or changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

CORPUS = FIXTURES / "invalid"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
IMPORTING = [name for name in CASES if any((CORPUS / name).rglob("*.py"))]

MAX_SECONDS = 1.0
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
    seconds: float
    max_rss_kb: int


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("GITBEAT_CONFIG", None)
    # As a user runs it: Python may write bytecode, so "changes nothing" is really checked.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


def run_validate(cwd: Path, *args: str, timeout: float = 60) -> Run:
    """`python -m gitbeat validate --config . ARGS` in `cwd`: its output, wall time and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "gitbeat", "validate", "--config", ".", *args],
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            usage.ru_maxrss,  # KiB on Linux
        )


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
    for name in CASES:
        case = CORPUS / name
        assert (case / "expected.txt").is_file(), f"{name}: no expected.txt"
        assert (case / "tasks").is_dir() or (case / "schedules").is_dir() or name in GENERATED, name
        assert ((case / "generate.txt").exists()) == (name in GENERATED), name
        for path in case.rglob("*"):
            assert not path.is_file() or path.stat().st_size <= 100 * 1024, f"{path} is too big to commit"


@pytest.mark.parametrize("name", CASES)
def test_case_fails_as_stated(name: str, tmp_path: Path, baseline_rss_kb: int) -> None:
    root = prepare(name, tmp_path)
    before = snapshot(root)
    expected = expected_lines(name, root)
    assert expected, f"{name}: expected.txt is empty"

    run = run_validate(root, *extra_args(name))
    if run.seconds >= MAX_SECONDS:  # one retry on a noisy machine; the bound stays the same
        run = run_validate(root, *extra_args(name))

    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    assert lines[:-1] == expected, "\n".join(lines)
    assert lines[-1].startswith("gitbeat: ") and "error" in lines[-1], lines[-1]
    assert run.stdout == ""
    assert run.seconds < MAX_SECONDS, f"{name}: {run.seconds:.2f}s"
    assert run.max_rss_kb < MAX_RSS_KB, f"{name}: peak RSS {run.max_rss_kb} KiB"
    if name == "huge-file-50mb":
        assert run.max_rss_kb - baseline_rss_kb < MAX_HUGE_EXTRA_KB, (run.max_rss_kb, baseline_rss_kb)
    assert snapshot(root) == before, "validate changed the tree"


@pytest.mark.parametrize("name", IMPORTING)
def test_validate_changes_nothing_in_place(name: str) -> None:
    """Run on the committed case itself, importing its handlers: no __pycache__, nothing touched."""
    root = CORPUS / name
    before = snapshot(root)
    run = run_validate(root, *extra_args(name))
    assert run.returncode == 1, run.stderr
    after = snapshot(root)
    created = sorted(set(after) - set(before))
    assert not created, f"validate created {created}"
    assert after == before, "validate modified the tree"


def test_importing_cases_exist() -> None:
    assert len(IMPORTING) >= 8
