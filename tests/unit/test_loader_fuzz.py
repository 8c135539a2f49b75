"""Mutated YAML never breaks the loader: a valid config or located errors, never an exception.

The seeds are the example project's own files (tasks/, schedules/, gitbeat.yaml). Each
example mutates one or more of them (characters deleted, inserted or replaced, lines
swapped, duplicated or re-indented, YAML punctuation and tabs inserted, values replaced by
odd scalars, raw bytes broken) and runs the loader and the whole-config checks in-process.
A third test writes entries whose fields get values of the right shape, at the edges, or
odd, so that the checks after the schema (timezones, retry budgets, DST) run on them too.

GITBEAT_FUZZ_EXAMPLES=5000 runs a longer hunt.
"""

from __future__ import annotations

import os
import signal
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitbeat.checks import check_config
from gitbeat.errors import Diagnostic
from gitbeat.loader import Config, display_path, load_config
from gitbeat.spec import QueueSpec, RetrySpec, ScheduleSpec, TaskSpec
from tests.conftest import PROJECT

SEEDS: dict[str, bytes] = {
    path.relative_to(PROJECT).as_posix(): path.read_bytes()
    for directory in ("tasks", "schedules")
    for path in sorted((PROJECT / directory).rglob("*"))
    if path.suffix in (".yaml", ".yml")
}
SEEDS["gitbeat.yaml"] = (PROJECT / "gitbeat.yaml").read_bytes()
NAMES = sorted(SEEDS)
NOW = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # the day before a DST change in Europe

TOKENS = [
    ":", ": ", "-", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "&a", "*", "!", "!!str ", "!!int ",
    "!!python/object:os.system ", "!!python/object/apply:os.system ['id'] ", "!!binary ", "!!set ",
    "#", " #", "|", "|-", ">", "'", '"', "\t", "\n", "  ", "<<: ", "<<: *a", "? ", "---\n", "...\n",
    "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "@", "`", "%", "\\", "\ufeff", "\x85", "\u2028", "\r", "\r\n",
    "\x00", "\x07", "~", "=", "on:", "yes", "0x", "._", "1:30", "2026-02-30", "9999-12-31T23:59:59",
]
SCALARS = [
    "", "~", "null", "true", "no", "on", "0", "-1", "-0", "1e309", ".inf", "-.inf", ".nan", "0x1F", "0o17",
    "0b101", "0x_", "1_000", "1:30:00", "99999999999999999999999", "3.5", "'quoted'", '"double"',
    "0001-01-01T00:00:00", "9999-12-31T23:59:59", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00",
    "2026-02-30", "2026-12-31", "2026-03-29T02:30:00", "1700000000", "253402300799",
    "@hourly", "@never", "* * * * *", "0 0 29 2 *", "0 0 31 2 *", "*/0 * * * *", "0-59/7 0-23 1-31 1-12 0-7",
    "61 0 * * *", "0 2 * * *", "Europe/Berlin", "Europe/Berln", "America/New_York", "../../etc/passwd",
    "UTC", "30s", "1h30m", "30m1h", "5 minutes", "1ms", "0s", "2d", "100/m", "100/minute",
    "os:system", "tasks.notifications:send", "tasks.errors.Transient", "ConnectionError", "Nope",
    "notifications", "notifications.dlq", "default", "celery", "[]", "{}", "[1, 2]", "{a: 1}", "*a", "&a x",
    "sunrise", "exponential", "skip", "all", "a b", "x" * 300,
]
SECTION_WORDS = ["queues", "tasks", "schedules", "queue", "task", "cron", "every", "at", "solar",
                 "retry", "on", "handler", "dead_letter", "timezone", "imports", "default_queue"]


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, int, int, str]:
    kind = draw(st.sampled_from(
        ["delete", "insert_token", "insert_text", "replace_char", "swap_lines", "indent", "dedent",
         "tab_indent", "replace_value", "duplicate_line", "delete_line", "insert_key"]
    ))
    first = draw(st.integers(min_value=0, max_value=10_000))
    second = draw(st.integers(min_value=0, max_value=10_000))
    if kind in ("insert_token", "replace_char"):
        payload = draw(st.sampled_from(TOKENS))
    elif kind == "insert_text":
        payload = draw(st.text(max_size=12))
    elif kind == "replace_value":
        payload = draw(st.one_of(st.sampled_from(SCALARS), st.text(max_size=12)))
    elif kind == "insert_key":
        payload = draw(st.sampled_from(SECTION_WORDS + SCALARS[:10]))
    else:
        payload = ""
    return kind, first, second, payload


def mutate(text: str, kind: str, first: int, second: int, payload: str) -> str:
    size = len(text)
    at = first % (size + 1)
    lines = text.split("\n")
    row, other = first % len(lines), second % len(lines)
    if kind == "delete":
        return text[:at] + text[at + 1 + second % 20 :]
    if kind in ("insert_token", "insert_text"):
        return text[:at] + payload + text[at:]
    if kind == "replace_char":
        return text[:at] + payload + text[at + 1 :]
    if kind == "swap_lines":
        lines[row], lines[other] = lines[other], lines[row]
    elif kind == "indent":
        lines[row] = " " * (1 + second % 6) + lines[row]
    elif kind == "dedent":
        lines[row] = lines[row][1 + second % 4 :] if lines[row].startswith(" ") else lines[row]
    elif kind == "tab_indent":
        lines[row] = "\t" + lines[row].lstrip(" ")
    elif kind == "replace_value":
        head, colon, _ = lines[row].partition(": ")
        lines[row] = head + colon + payload if colon else lines[row] + payload
    elif kind == "duplicate_line":
        lines.insert(other, lines[row])
    elif kind == "delete_line":
        del lines[row]
    elif kind == "insert_key":
        indent = " " * (2 * (second % 4))
        lines.insert(row, f"{indent}{payload}: {SCALARS[second % len(SCALARS)]}")
    return "\n".join(lines)


def mutate_bytes(raw: bytes, first: int, second: int, payload: bytes) -> bytes:
    at = first % (len(raw) + 1)
    return raw[:at] + payload + raw[at + second % 4 :]


def check(root: Path, contents: dict[str, bytes]) -> None:
    """Load and check `root`; every outcome must be a config plus well-formed diagnostics."""
    config, diagnostics = load_config(root)
    assert isinstance(config, Config)
    diagnostics = diagnostics + check_config(config, registered=None, now=NOW)
    files = {display_path(root / name): data for name, data in contents.items()}
    for diagnostic in diagnostics:
        assert isinstance(diagnostic, Diagnostic), diagnostic
        assert diagnostic.severity in ("error", "warning"), diagnostic
        assert diagnostic.file in files, (diagnostic, sorted(files))
        assert isinstance(diagnostic.line, int) and diagnostic.line >= 1, diagnostic
        assert isinstance(diagnostic.column, int) and diagnostic.column >= 1, diagnostic
        assert isinstance(diagnostic.message, str) and diagnostic.message.strip(), diagnostic
        assert "Traceback" not in diagnostic.message and "\n" not in diagnostic.message, diagnostic
        # The place is inside the file: no more lines than it has line breaks of any kind, plus one.
        data = files[diagnostic.file]
        breaks = sum(data.count(b) for b in (b"\n", b"\r", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9"))
        assert diagnostic.line <= breaks + 1, (diagnostic, data[:200])
        assert str(diagnostic).startswith(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}: ")
    if not any(d.severity == "error" for d in diagnostics):
        # A config without errors really loaded: every schedule names a timing.
        for schedule in config.schedules.values():
            assert schedule.timing in ("cron", "every", "at", "solar")


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError(f"loading and checking one small tree took more than {SECONDS_PER_TREE} s")


SECONDS_PER_TREE = 2.0


def run_tree(contents: dict[str, bytes]) -> None:
    """Write `contents` to a fresh tree and check it, failing (not hanging) if that takes too long."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, data in contents.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        previous = signal.signal(signal.SIGALRM, _too_slow)
        signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_TREE)
        try:
            check(root, contents)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def budget(default: int) -> settings:
    """`default` examples (GITBEAT_FUZZ_EXAMPLES=N for a longer hunt), no deadline."""
    examples = int(os.environ.get("GITBEAT_FUZZ_EXAMPLES", default))
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@budget(220)
@given(
    targets=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
    mutations=st.lists(mutation(), min_size=1, max_size=8),
)
def test_mutated_text_gives_a_config_or_located_errors(targets: list[str], mutations: list) -> None:
    contents = dict(SEEDS)
    for index, (kind, first, second, payload) in enumerate(mutations):
        name = targets[index % len(targets)]
        text = contents[name].decode("utf-8")
        contents[name] = mutate(text, kind, first, second, payload).encode("utf-8")
    run_tree(contents)


@budget(80)
@given(
    target=st.sampled_from(NAMES),
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 10_000), st.binary(min_size=1, max_size=4)),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_bytes_give_a_config_or_located_errors(target: str, edits: list) -> None:
    contents = dict(SEEDS)
    for first, second, payload in edits:
        contents[target] = mutate_bytes(contents[target], first, second, payload)
    run_tree(contents)


# The ends of what a datetime holds, and dates that look right but do not exist.
EDGE_DATES = ["0001-01-01T00:00:00", "0001-01-01", "9999-12-31T23:59:59", "9999-12-31", "1899-12-31T23:59:59",
              "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-02-29", "2026-04-31T00:00:00", "0"]
GOOD = {  # values of the right shape for each field, some of them at the edges
    "cron": ["0 2 * * *", "*/15 * * * *", "'@daily'", "30 2 * * 0", "0 0 29 2 *", "0 1-3 * * *", "0 0 1,15 * 1"],
    "every": ["60s", "5m", "1h30m", "1", "0.5", "1ms", "1w", "99999999999999999999999"],
    "at": ["2026-12-31T23:00:00", "2026-03-29T02:30:00", "2026-10-25T02:30:00+02:00", "2020-01-01", *EDGE_DATES],
    "start_at": ["2026-01-01T00:00:00", "2026-03-29T02:30:00", *EDGE_DATES],
    "end_at": ["2027-01-01T00:00:00", "2026-03-29T02:30:00", *EDGE_DATES],
    "timezone": ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati", "Etc/GMT+12"],
    "solar": ["{event: sunrise, latitude: 52.5, longitude: 13.4}", "{event: dusk_civil, latitude: 89.9, longitude: -180}",
              "{event: sunset, latitude: -90, longitude: 180}", "{event: solar_noon, latitude: 0, longitude: 0}"],
    "jitter": ["10s", "1h", "1d", "true", "false"], "catchup": ["latest", "skip", "all"], "overlap": ["allow", "skip"],
    "catchup_window": ["1h", "1ms"], "enabled": ["true", "false"], "note": ["paused"], "description": ["x", "''"],
    "queue": ["q", "q.dlq", "celery", "nope"], "routing_key": ["q", "''"], "exchange": ["q"],
    "dead_letter": ["true", "false", "q", "q.dlq", "other"], "max_priority": ["1", "255"],
    "message_ttl": ["1h", "1ms"], "max_length": ["1", "99999999999999999999999"],
    "handler": ["tasks.notifications:send", "os:system"], "on": ["[ConnectionError]", "[tasks.errors.Transient]"],
    "max_retries": ["0", "5", "100", "5000", "99999999999999999999999"], "delay": ["0", "10s", "1d", "1ms"],
    "backoff": ["fixed", "exponential"], "backoff_max": ["0", "10m", "99999999999999999999999"],
    "time_limit": ["60s", "1m"], "soft_time_limit": ["50s", "60s", "2m"], "acks_late": ["true", "false"],
    "ignore_result": ["true"], "rate_limit": ["100/m", "0.5", "10"], "expires": ["1h", "5m"],
    "args": ["[]", "[1, two, {three: 3}]"], "kwargs": ["{}", "{a: 1}"], "priority": ["0", "9", "255"],
}
TIMING = ["cron", "every", "at", "solar"]
# The odd scalars that still parse as YAML (the text mutations break the syntax often enough).
PLAIN = [value for value in SCALARS if value[:1] not in ("@", "*", "&", "`")]


def value_for(field: str) -> st.SearchStrategy[str]:
    """Mostly values of the right shape (so checks after the schema run too), else any odd scalar."""
    good = st.sampled_from(GOOD.get(field, PLAIN))
    return st.one_of(good, good, good, good, good, st.sampled_from(PLAIN))


def fields_of(names: list[str], exclude: tuple[str, ...] = ()) -> st.SearchStrategy[list[tuple[str, str]]]:
    keys = st.lists(st.sampled_from([n for n in names if n not in exclude]), max_size=3, unique=True)
    return keys.flatmap(lambda chosen: st.tuples(*[st.tuples(st.just(k), value_for(k)) for k in chosen]).map(list))


@st.composite
def entry_tree(draw: st.DrawFn) -> dict[str, bytes]:
    """One queue, one task and one or two schedules, each with random fields set to random values."""

    def block(indent: int, pairs: list[tuple[str, str]]) -> str:
        return "".join(f"{' ' * indent}{key}: {value}\n" for key, value in pairs)

    text = "queues:\n  q:\n" + block(4, draw(fields_of(list(QueueSpec.model_fields))) or [("description", "x")])
    text += "tasks:\n  t:\n    handler: tasks.maintenance:cleanup_sessions\n"
    text += block(4, draw(fields_of(list(TaskSpec.model_fields), exclude=("handler", "retry"))))
    if draw(st.booleans()):
        always = ("on", "max_retries", "backoff")  # what the retry budget check reads
        text += "    retry:\n" + block(6, [(key, draw(value_for(key))) for key in always])
        text += block(6, draw(fields_of(list(RetrySpec.model_fields), exclude=always)))
    text += "schedules:\n"
    for name in draw(st.lists(st.sampled_from(["s1", "s2"]), min_size=1, max_size=2, unique=True)):
        timing = draw(st.sampled_from(TIMING))
        text += f"  {name}:\n    task: {draw(st.sampled_from(['t', 't', 'health.check', 'nope']))}\n"
        text += f"    {timing}: {draw(value_for(timing))}\n"
        if draw(st.booleans()):
            text += f"    timezone: {draw(value_for('timezone'))}\n"
        text += block(4, draw(fields_of(list(ScheduleSpec.model_fields), exclude=("task", "timezone", *TIMING))))
    project = draw(st.sampled_from(["", "timezone: Europe/Berlin\n", "timezone: America/New_York\n",
                                    "default_queue: q\n", "timezone: Nowhere\n"]))
    return {"schedules/random.yaml": text.encode(), "gitbeat.yaml": project.encode()}


@budget(200)
@given(tree=entry_tree())
def test_random_field_values_give_a_config_or_located_errors(tree: dict[str, bytes]) -> None:
    contents = dict(SEEDS)
    contents.update(tree)
    run_tree(contents)


def test_the_seeds_are_valid() -> None:
    """The mutations start from a config that loads without errors (so errors come from them)."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, data in SEEDS.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        config, diagnostics = load_config(root)
        assert [d for d in diagnostics if d.severity == "error"] == []
        assert config.schedules and config.tasks and config.queues
        assert os.path.isdir(root / "tasks")
