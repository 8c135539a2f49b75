"""Safe input (SPEC §6): only regular files inside the config root are read, a message quotes
only an excerpt of the input, and what would fail later fails at validate.

The corpus (test_corpus.py) holds the cases a checkout can carry or its GENERATED hook can
write into a copy. Here are the ones made of what a checkout cannot hold and the corpus
cannot snapshot (FIFOs, device nodes, symlinks to /dev), paths longer than the store keeps,
and properties over random input.

Validate runs in-process through `cli.main`, except where only a process of its own can tell:
a FIFO or a device could block or be read without end (the subprocess is killed after a
timeout, and its peak memory is its own), and a module shadowing the standard library must
be shown not to replace modules that gitbeat and Celery import after it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import signal
import stat
import tempfile
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitbeat import yamlsource
from gitbeat.checks import check_config
from gitbeat.loader import MAX_ORIGIN, load_config
from gitbeat.yamlsource import YamlProblem, read_regular
from tests.conftest import gitbeat
from tests.unit.test_corpus import SECRETS, Run, in_process, run_validate

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
Loader = Callable[[dict[str, str]], list[str]]
OUTSIDE = "the file is a symlink to outside the config root; gitbeat reads only files inside it"
FIFO = "the file is a named pipe (FIFO), not a regular file; gitbeat reads only regular files"


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


VALID = {
    "tasks/main.yaml": """
        tasks:
          jobs.run: {}
        """,
    "schedules/main.yaml": """
        schedules:
          hourly:
            task: jobs.run
            every: 1h
        """,
}


Validate = Callable[..., Run]


def in_subprocess(root: Path, *args: str) -> Run:
    """`python -m gitbeat validate --config .` in `root`, as the corpus runs it; a hang is killed after 10 s."""
    run = run_validate(root, *args, timeout=10)
    assert not run.timed_out, "validate was still running after 10 s"
    return run


@pytest.fixture
def validate(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None) -> Validate:
    """`validate --config ROOT ARGS` through `cli.main`, in `root`, as the corpus runs it."""

    def run(root: Path, *args: str) -> Run:
        return in_process(monkeypatch, capsys, root, "validate", "--config", str(root), *args)

    return run


def refused(run: Run, *lines: str) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1, run.stderr
    assert run.stderr.splitlines()[:-1] == list(lines), run.stderr
    assert run.stdout == ""


# --- only regular files inside the root ---------------------------------------------------------


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", VALID)
    os.mkfifo(root / "schedules" / "pipe.yaml")
    refused(in_subprocess(root, "--no-imports"), f"schedules/pipe.yaml:1:1: error: {FIFO}")


def test_a_symlink_to_a_fifo_inside_the_root_is_refused_at_once(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", VALID)
    (root / "pipes").mkdir()
    os.mkfifo(root / "pipes" / "p")
    (root / "schedules" / "p.yaml").symlink_to(Path("..", "pipes", "p"))
    refused(in_subprocess(root, "--no-imports"), f"schedules/p.yaml:1:1: error: {FIFO}")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/stdin"])
def test_a_symlink_to_a_device_is_refused_unread(tmp_path: Path, device: str) -> None:
    root = tree(tmp_path / "root", VALID)
    (root / "schedules" / "dev.yaml").symlink_to(device)
    run = in_subprocess(root, "--no-imports")
    refused(run, f"schedules/dev.yaml:1:1: error: {OUTSIDE}")
    assert run.max_rss_kb < 200 * 1024


def test_a_device_node_inside_the_root_is_refused_unread(tmp_path: Path) -> None:
    root = tree(tmp_path / "root", VALID)
    node = root / "schedules" / "zero.yaml"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # what /dev/zero is
        os.close(os.open(node, os.O_RDONLY | os.O_NONBLOCK))
    except PermissionError:
        pytest.skip("device nodes cannot be made or opened here (not root, or a nodev mount)")
    message = "the file is a character device, not a regular file; gitbeat reads only regular files"
    refused(in_subprocess(root, "--no-imports"), f"schedules/zero.yaml:1:1: error: {message}")


def test_a_directory_behind_a_yaml_name_is_refused(tmp_path: Path, validate: Validate) -> None:
    root = tree(tmp_path / "root", VALID)
    (root / "schedules" / "d.yaml").symlink_to(Path("..", "tasks"), target_is_directory=True)
    message = "the file is a directory, not a regular file; gitbeat reads only regular files"
    refused(validate(root, "--no-imports"), f"schedules/d.yaml:1:1: error: {message}")


def test_a_secret_behind_a_symlink_is_never_printed(tmp_path: Path, validate: Validate) -> None:
    """The CI case: a pull request adds schedules/env.yaml -> ../.env and runs --format github."""
    root = tree(tmp_path / "root", VALID)
    (root / ".env").write_text(SECRETS)  # inside the root but hidden: not config either
    (tmp_path / ".env").write_text(SECRETS)
    (root / "schedules" / "env.yaml").symlink_to(Path("..", "..", ".env"))
    (root / "tasks" / "shared").symlink_to(tmp_path, target_is_directory=True)
    run = validate(root, "--no-imports", "--format", "github")
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"::error file=schedules/env.yaml,line=1,col=1::{OUTSIDE}",
        "::error file=tasks/shared,line=1,col=1::" + OUTSIDE.replace("file", "directory", 1),
    ]
    assert "s3cr3t" not in run.stdout + run.stderr and "hunter2" not in run.stdout + run.stderr


def test_symlinks_inside_the_root_keep_working(tmp_path: Path, validate: Validate) -> None:
    root = tree(tmp_path / "root", {
        "tasks/main.yaml": "tasks:\n  jobs.run: {}\n",
        "shared/a.yaml": "schedules:\n  a:\n    task: jobs.run\n    every: 1h\n",
        "shared/more/b.yaml": "schedules:\n  b:\n    task: jobs.run\n    every: 2h\n",
    })
    (root / "schedules").mkdir()
    (root / "schedules" / "a.yaml").symlink_to(Path("..", "shared", "a.yaml"))
    (root / "schedules" / "more").symlink_to(Path("..", "shared", "more"), target_is_directory=True)
    (root / "schedules" / "again").symlink_to(Path("..", "shared", "more"), target_is_directory=True)
    (root / "schedules" / "loop").symlink_to(Path("."), target_is_directory=True)
    run = validate(root, "--no-imports")
    assert run.returncode == 0, run.stderr
    # b.yaml is read once, though two links lead to its directory; the loop ends.
    assert run.stdout == "ok: 0 queues, 1 task, 2 schedules in 3 files\n"


def test_symlink_loops_are_errors_not_crashes(tmp_path: Path, validate: Validate) -> None:
    root = tree(tmp_path / "root", VALID)
    (root / "schedules" / "x.yaml").symlink_to("y.yaml")
    (root / "schedules" / "y.yaml").symlink_to("x.yaml")
    (root / "tasks" / "a").symlink_to("b", target_is_directory=True)
    (root / "tasks" / "b").symlink_to("a", target_is_directory=True)
    loop = "cannot read the file: Too many levels of symbolic links"
    refused(
        validate(root, "--no-imports"),
        f"schedules/x.yaml:1:1: error: {loop}",
        f"schedules/y.yaml:1:1: error: {loop}",
    )


def test_the_read_stops_at_the_limit_whatever_the_size_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """A /proc file says it has 0 bytes: the limit holds while reading, not only by its size."""
    status = Path("/proc/self/status")
    if not status.exists() or status.stat().st_size != 0:
        pytest.skip("needs Linux /proc")
    monkeypatch.setattr(yamlsource, "MAX_FILE_BYTES", 100)
    with pytest.raises(YamlProblem, match=r"^the file is more than 0 MB; gitbeat reads config files of at most 0 MB$"):
        read_regular(status)


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"x" * (3 * 1024 * 1024 + 5))  # more than one chunk
    assert read_regular(path) == b"x" * (3 * 1024 * 1024 + 5)


# --- handler code inside the root, not shadowing the standard library -------------------------


def test_a_handler_module_symlinked_out_of_the_root_is_not_imported(tmp_path: Path, validate: Validate) -> None:
    marker = tmp_path / "imported"
    tree(tmp_path / "elsewhere", {
        "jobs.py": f"open({str(marker)!r}, 'w').close()\ndef run():\n    return 1\n",
        "pkg/__init__.py": f"open({str(marker)!r}, 'w').close()\n",
        "pkg/jobs.py": "def run():\n    return 1\n",
    })
    root = tree(tmp_path / "root", {
        "tasks/main.yaml": """
            tasks:
              by.module:
                handler: handlers.jobs:run
              by.package:
                handler: pkg.jobs:run
              by.link.inside:
                handler: alias.own:run
            """,
        "handlers/__init__.py": "",
        "real/__init__.py": "",
        "real/own.py": "def run():\n    return 1\n",
    })
    (root / "handlers" / "jobs.py").symlink_to(tmp_path / "elsewhere" / "jobs.py")
    (root / "pkg").symlink_to(tmp_path / "elsewhere" / "pkg", target_is_directory=True)
    (root / "alias").symlink_to(Path("real"), target_is_directory=True)
    refused(
        validate(root),
        "tasks/main.yaml:3:14: error: tasks.by.module.handler: module handlers.jobs: handlers/jobs.py is a "
        "symlink to outside the config root; gitbeat imports only code inside it",
        "tasks/main.yaml:5:14: error: tasks.by.package.handler: module pkg.jobs: pkg is a symlink to outside "
        "the config root; gitbeat imports only code inside it",
    )
    assert not marker.exists(), "code outside the config root was imported"


def test_a_module_that_shadows_the_standard_library_breaks_nothing(tmp_path: Path) -> None:
    """Named or not, it is reported; gitbeat and Celery (imported after it) keep the real modules.

    Run from outside the root: `python -m` in the root itself puts it on sys.path before
    gitbeat starts, as it does for any program. In a process of its own: in pytest's, queue,
    types, json and Celery are imported long before, so a shadowing module could not show.
    """
    boom = "raise SystemExit('USER CODE RAN')\n"
    tree(tmp_path / "root", {
        "gitbeat.yaml": "imports: [tasks.jobs]\n",  # Celery is imported to list the registered tasks
        "tasks/__init__.py": "",
        "tasks/jobs.py": "def run():\n    return 1\n",
        "tasks/main.yaml": """
            tasks:
              jobs.run:
                handler: tasks.jobs:run
              jobs.json:
                handler: json.tools:run
            """,
        "queue.py": boom,
        "types.py": boom,
        "json/__init__.py": boom,
    })
    result = gitbeat("validate", "--config", "root", cwd=tmp_path, timeout=30)
    shadow = "(the config root goes first on the import path); rename it"
    assert result.stderr.splitlines()[:-1] == [
        "root/queue.py:1:1: error: this module shadows Python's standard library module 'queue' " + shadow,
        (
            "root/tasks/main.yaml:5:14: error: tasks.jobs.json.handler: module 'json' in the config root shadows "
            "Python's standard library module of that name; rename it"
        ),
        "root/types.py:1:1: error: this module shadows Python's standard library module 'types' " + shadow,
    ], result.stderr
    assert "USER CODE RAN" not in result.stdout + result.stderr and result.returncode == 1


# --- what would fail later ---------------------------------------------------------------------


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Loader:
    """Load and check `files` written in a fresh root, the current directory: every diagnostic line."""
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str]) -> list[str]:
        tree(Path("."), files)
        config, diagnostics = load_config(Path("."))
        return [str(d) for d in diagnostics + check_config(config, None, NOW)]

    return run


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("queues:\n  q:\n    max_priority: .nan\n", "queues.q.max_priority: expected a finite number, got .nan"),
        ("queues:\n  q:\n    max_length: .inf\n", "queues.q.max_length: expected a finite number, got .inf"),
        ("queues:\n  q:\n    message_ttl: .nan\n", "queues.q.message_ttl: a duration is"),
        ("tasks:\n  t:\n    rate_limit: .nan\n", "tasks.t.rate_limit: a rate limit is"),
        ("tasks:\n  t:\n    priority: -.inf\n", "tasks.t.priority: expected a finite number, got -.inf"),
        ("tasks:\n  t:\n    retry: {delay: .nan}\n", "tasks.t.retry.delay: a duration is"),
        ("tasks:\n  t:\n    retry: {max_retries: .nan}\n", "tasks.t.retry.max_retries: expected a finite number, got .nan"),
        ("schedules:\n  s:\n    task: t\n    every: .inf\n", "schedules.s.every: a duration is"),
        ("schedules:\n  s:\n    task: t\n    at: .nan\n", "schedules.s.at: expected a date and time"),
        ("schedules:\n  s:\n    task: t\n    solar: {event: sunset, latitude: .nan, longitude: 0}\n",
         "schedules.s.solar.latitude: expected a finite number, got .nan"),
        ("schedules:\n  s:\n    task: t\n    solar: {event: sunset, latitude: 0, longitude: -.inf}\n",
         "schedules.s.solar.longitude: expected a finite number, got -.inf"),
        ("schedules:\n  s:\n    task: t\n    every: 1h\n    kwargs: {a: {b: [0, .NAN]}}\n",
         "schedules.s.kwargs.a.b[1]: NaN and infinity are not JSON numbers"),
    ],
)
def test_nan_and_infinity_are_refused_everywhere(load: Loader, text: str, place: str) -> None:
    lines = load({"tasks/x.yaml": text})
    assert any(f"error: {place}" in line for line in lines), lines


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("exchange", "x" * 255, True),
        ("exchange", "x" * 256, False),
        ("routing_key", "é" * 127, True),  # 254 bytes
        ("routing_key", "é" * 128, False),  # 256 bytes, 128 characters
    ],
)
def test_amqp_short_strings_are_at_most_255_bytes(load: Loader, field: str, value: str, ok: bool) -> None:
    lines = load({"tasks/x.yaml": f"queues:\n  q:\n    {field}: {value}\n"})
    errors = [line for line in lines if f"queues.q.{field}:" in line]
    message = (
        f"{len(value.encode())} bytes long (UTF-8); AMQP limits queue names, exchange names and routing keys "
        "to 255 bytes"
    )
    assert errors == ([] if ok else [f"tasks/x.yaml:3:{len(field) + 7}: error: queues.q.{field}: {message}"])


def test_a_path_too_long_for_the_stored_origin_is_refused(load: Loader) -> None:
    schedule = "schedules:\n  s:\n    task: t\n    every: 1h\n"
    deep = Path("schedules", *["d" * 99] * 2)
    # The origin is "<path>:2": at the limit passes, one character more fails.
    fits = deep / ("f" * (MAX_ORIGIN - len(":2") - len(deep.as_posix()) - len("/.yaml")) + ".yaml")
    too_long = deep / ("g" * (MAX_ORIGIN - len(":2") - len(deep.as_posix()) - len("/.yaml") + 1) + ".yaml")
    tasks_only = deep / ("t" * 150 + ".yaml")  # no schedule, no origin
    lines = load({fits.as_posix(): schedule, too_long.as_posix(): schedule.replace("  s:", "  s2:"),
                              tasks_only.as_posix(): "tasks:\n  t: {}\n"})
    assert len(f"{fits.as_posix()}:2") == MAX_ORIGIN
    message = (
        f"the path of this file is too long ({MAX_ORIGIN - 1} characters): gitbeat records where each "
        f"schedule is declared as PATH:LINE in at most {MAX_ORIGIN} characters; move or rename the file"
    )
    assert lines == [f"{too_long.as_posix()}:1:1: error: {message}"]


# --- messages quote excerpts -------------------------------------------------------------------


def longest_shared_run(secret: str, text: str, longer_than: int) -> bool:
    """True when `text` holds more than `longer_than` consecutive characters of `secret`."""
    size = longer_than + 1
    windows = {text[i : i + size] for i in range(len(text) - size + 1)}
    return any(secret[i : i + size] in windows for i in range(len(secret) - size + 1))


def test_a_10_kb_secret_in_wrong_places_is_quoted_only_in_excerpts(tmp_path: Path, validate: Validate) -> None:
    secret = secrets.token_hex(5 * 1024)
    spaced = " ".join(secrets.token_hex(4) for _ in range(1200))  # a secret with spaces in it
    root = tree(tmp_path / "root", {
        "gitbeat.yaml": f"imports: [{secret}]\n",
        "tasks/main.yaml": f"""
            tasks:
              t:
                handler: {secret}:run
                rate_limit: {secret}
                retry: {{on: [{secret}]}}
              u:
                handler: tasks.{secret}:run
              v:
                handler: {secret}:run
              w:
                handler: {secret}.x:{secret}
            queues:
              q:
                exchange: {secret}
                routing_key: "{spaced}"
                dead_letter: {secret}
            """,
        "schedules/main.yaml": f"""
            schedules:
              ? {secret}
              : task: t
                every: 1h
              s:
                task: {secret}
                cron: "{secret} * * * *"
                timezone: "{spaced}"
                every: {secret}
                queue: {secret}
                ? {secret}
                : 1
                routing_key: {secret}
              c:
                task: t
                cron: "1,2,{secret} * * * *"
                expires: "{spaced}"
                at: {secret}
              d:
                task: t
                every: 1h
                kwargs: {{? {secret} : .nan}}
            """,
        "schedules/broken.yaml": f"schedules: !{secret} x\n",
        "schedules/syntax.yaml": f"schedules:\n  a: [{secret}\n",
        "schedules/dup.yaml": f"? {secret}\n: 1\n? {secret}\n: 2\n",
    })
    for fmt in ("text", "github", "json"):
        run = validate(root, "--format", fmt)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        output = run.stdout + run.stderr
        assert output.count("error") >= 24, output
        for line in output.splitlines():
            assert not longest_shared_run(secret, line, 80), line
            assert not longest_shared_run(spaced, line, 80), line


# --- random values in args, kwargs and name fields ---------------------------------------------


SECRET_10_KB = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(160))
HUGE = [SECRET_10_KB, "é" * 3000, "x y " * 2500, "a" * 201, "q" * 256, "n" * 200]
SCALARS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 0.5]),
    st.floats(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=20),
    st.sampled_from(HUGE),
    st.booleans(),
    st.none(),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10) | st.sampled_from(HUGE),
                                                                       children, max_size=3),
    max_leaves=8,
)
NAMES = st.one_of(st.sampled_from(["jobs.run", "q", "celery", "s"]), SCALARS)


@st.composite
def random_config(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A queue, a task and a schedule whose names, name fields, args and kwargs are random."""
    queue_name, task_name, schedule_name = draw(NAMES), draw(NAMES), draw(NAMES)
    queue = {key: draw(NAMES) for key in draw(st.sets(st.sampled_from(["exchange", "routing_key", "dead_letter"])))}
    task = {key: draw(NAMES) for key in draw(st.sets(st.sampled_from(["queue"])))}
    schedule: dict[str, Any] = {"task": draw(NAMES), "every": "1h", "args": draw(st.lists(JSON, max_size=3)),
                                "kwargs": draw(st.dictionaries(st.text(max_size=10), JSON, max_size=3))}
    schedule.update({key: draw(NAMES) for key in draw(st.sets(st.sampled_from(["queue", "routing_key"])))})
    tasks = {"queues": {queue_name: queue}, "tasks": {task_name: task}}
    return tasks, {"schedules": {schedule_name: schedule}}


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError("loading and checking one small tree took more than 5 s")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents=random_config())
def test_random_values_never_break_validate_and_lines_stay_short(documents: tuple[dict, dict]) -> None:
    tasks, schedules = documents
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, data in (("tasks/t.yaml", tasks), ("schedules/s.yaml", schedules)):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.setitimer(signal.ITIMER_REAL, 5)
        try:
            config, diagnostics = load_config(root)
            diagnostics += check_config(config, None, NOW)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    for diagnostic in diagnostics:
        assert len(str(diagnostic).replace(directory, "")) <= 300, str(diagnostic)
    # What loads without errors is stored as written: no NaN became null on the way.
    for name, schedule in config.schedules.items():
        stored = json.loads(schedule.model_dump_json())
        written = schedules["schedules"][next(iter(schedules["schedules"]))]
        assert (stored["args"], stored["kwargs"]) == (written["args"], written["kwargs"]), name
