"""`gitbeat next NAME [-n N]`, run as a user runs it, in a config tree written for each test module.

In-process through `cli.main` (tests.unit.test_corpus.in_process); two tests run the real
console entry, `python -m gitbeat next`, end to end.

`next` reads the clock, so fixed outputs use a `start_at` or `at` in 2099; the others check the
structure and that the local and UTC columns name the same instant. 2099-01-01 is a Thursday
(2000-01-01 was a Saturday, 36160 days earlier), so 2099-03-29 is the last Sunday in March:
Europe/Berlin moves from 02:00 CET to 03:00 CEST at 01:00 UTC that day.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import gitbeat
from tests.unit.test_corpus import Run, in_process

Next = Callable[..., Run]

FILES = {
    "gitbeat.yaml": """
        timezone: Asia/Tokyo
        """,
    "tasks/jobs.yaml": """
        tasks:
          jobs.run:
            handler: tasks.jobs:run
        """,
    "schedules/fixed.yaml": """
        schedules:
          nightly:
            task: jobs.run
            cron: "30 2 * * *"
            timezone: Europe/Berlin
            start_at: 2099-03-27T00:00:00
          ticker:
            task: jobs.run
            every: 90m
            timezone: America/New_York
            start_at: 2099-01-01T00:00:00
          bounded:
            task: jobs.run
            cron: "0 0 * * *"
            timezone: UTC
            start_at: 2099-01-01T00:00:00
            end_at: 2099-01-02T12:00:00
          oneoff:
            task: jobs.run
            at: 2099-03-29T02:30:00
            timezone: Europe/Berlin
          bygone:
            task: jobs.run
            at: 2000-01-01T00:00:00
        """,
    "schedules/clock.yaml": """
        schedules:
          noon-tokyo:
            task: jobs.run
            cron: "0 12 * * *"
          berlin-quarter:
            task: jobs.run
            cron: "*/15 * * * *"
            timezone: Europe/Berlin
          heartbeat:
            task: jobs.run
            every: 5m
            timezone: Europe/Berlin
          sunrise:
            task: jobs.run
            solar: {event: sunrise, latitude: 52.52, longitude: 13.405}
            timezone: Europe/Berlin
          paused:
            task: jobs.run
            cron: "@hourly"
            timezone: UTC
            enabled: false
            note: waiting for the migration
          paused-quietly:
            task: jobs.run
            cron: "@daily"
            enabled: false
        """,
    "schedules/broken.yaml": """
        schedules:
          broken:
            task: jobs.run
            cron: "61 * * * *"
        """,
}

LINE = re.compile(
    r"^  (?P<local>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<abbr>\S+) \((?P<offset>[+-]\d{4})\)   "
    r"(?P<utc>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$"
)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("next")
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def console(config: Path, *args: str) -> Run:
    """`python -m gitbeat next ARGS` in `config`: the real console entry, in a subprocess."""
    result = gitbeat("next", *args, cwd=config)
    assert "Traceback" not in result.stderr, result.stderr
    return Run(result.returncode, result.stdout, result.stderr)


@pytest.fixture
def run_next(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None) -> Next:
    """`gitbeat next ARGS` through `cli.main`, in `config`."""

    def call(config: Path, *args: str) -> Run:
        result = in_process(monkeypatch, capsys, config, "next", *args)
        assert "Traceback" not in result.stderr, result.stderr
        return result

    return call


def parse(stdout: str) -> list[tuple[datetime, str, datetime]]:
    """(local aware time, abbreviation, UTC time) of each fire-time line; checks they are one instant."""
    rows = []
    for line in stdout.splitlines()[1:]:
        match = LINE.match(line)
        if match is None:
            continue
        sign = 1 if match["offset"][0] == "+" else -1
        offset = timedelta(hours=int(match["offset"][1:3]), minutes=int(match["offset"][3:5])) * sign
        local = datetime.fromisoformat(match["local"]).replace(tzinfo=timezone(offset))
        utc = datetime.fromisoformat(match["utc"]).replace(tzinfo=UTC)
        assert local == utc, line  # the two columns are the same instant
        rows.append((local, match["abbr"], utc))
    return rows


def test_cron_in_berlin_across_spring_forward(config: Path) -> None:
    result = console(config, "nightly", "-n", "4")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        'nightly: cron "30 2 * * *", timezone Europe/Berlin',
        "  2099-03-27 02:30:00 CET (+0100)   2099-03-27 01:30:00 UTC",
        "  2099-03-28 02:30:00 CET (+0100)   2099-03-28 01:30:00 UTC",
        "  2099-03-29 03:00:00 CEST (+0200)   2099-03-29 01:00:00 UTC",  # 02:30 is skipped: the gap's end
        "  2099-03-30 02:30:00 CEST (+0200)   2099-03-30 00:30:00 UTC",
    ]


def test_default_is_five_and_n_limits(config: Path, run_next: Next) -> None:
    default = run_next(config, "nightly")
    assert default.returncode == 0
    assert len(parse(default.stdout)) == 5
    assert len(default.stdout.splitlines()) == 6
    two = run_next(config, "nightly", "-n", "2")
    assert two.stdout.splitlines() == default.stdout.splitlines()[:3]


def test_every_counts_from_start_at_in_its_timezone(config: Path, run_next: Next) -> None:
    result = run_next(config, "ticker", "-n", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ticker: every 1h30m, timezone America/New_York",
        "  2099-01-01 00:00:00 EST (-0500)   2099-01-01 05:00:00 UTC",
        "  2099-01-01 01:30:00 EST (-0500)   2099-01-01 06:30:00 UTC",
        "  2099-01-01 03:00:00 EST (-0500)   2099-01-01 08:00:00 UTC",
    ]


def test_end_at_stops_the_list(config: Path, run_next: Next) -> None:
    result = run_next(config, "bounded", "-n", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'bounded: cron "0 0 * * *", timezone UTC',
        "  2099-01-01 00:00:00 UTC (+0000)   2099-01-01 00:00:00 UTC",
        "  2099-01-02 00:00:00 UTC (+0000)   2099-01-02 00:00:00 UTC",
    ]


def test_at_in_a_dst_gap_fires_once_at_the_gap_end(config: Path, run_next: Next) -> None:
    result = run_next(config, "oneoff")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "oneoff: at 2099-03-29T02:30:00, timezone Europe/Berlin",
        "  2099-03-29 03:00:00 CEST (+0200)   2099-03-29 01:00:00 UTC",
    ]


def test_at_in_the_past_has_no_more_fire_times(config: Path, run_next: Next) -> None:
    result = run_next(config, "bygone")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "bygone: at 2000-01-01T00:00:00, timezone Asia/Tokyo",
        "  no more fire times",
    ]


def test_project_timezone_is_the_default(config: Path, run_next: Next) -> None:
    result = run_next(config, "noon-tokyo", "-n", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == 'noon-tokyo: cron "0 12 * * *", timezone Asia/Tokyo'
    rows = parse(result.stdout)
    assert len(rows) == 3 == len(lines) - 1
    for local, abbr, utc in rows:
        assert (local.hour, local.minute, local.second) == (12, 0, 0)
        assert abbr == "JST" and local.utcoffset() == timedelta(hours=9)
        assert (utc.hour, utc.minute) == (3, 0)
    assert [b[2] - a[2] for a, b in itertools.pairwise(rows)] == [timedelta(days=1)] * 2


def test_cron_columns_are_the_same_instant_in_berlin(config: Path, run_next: Next) -> None:
    result = run_next(config, "berlin-quarter", "-n", "6")
    assert result.returncode == 0, result.stderr
    rows = parse(result.stdout)
    assert len(rows) == 6
    for local, abbr, _ in rows:
        assert local.minute % 15 == 0 and local.second == 0
        assert (abbr, local.utcoffset()) in (("CET", timedelta(hours=1)), ("CEST", timedelta(hours=2)))
    utcs = [row[2] for row in rows]
    assert all(b > a for a, b in itertools.pairwise(utcs))
    # 15 minutes apart; 75 across a fall-back (the repeated hour fires once) and 0 never
    assert all(b - a in (timedelta(minutes=15), timedelta(minutes=75)) for a, b in itertools.pairwise(utcs))


def test_every_without_start_at_says_it_counts_from_now(config: Path, run_next: Next) -> None:
    result = run_next(config, "heartbeat", "-n", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "heartbeat: every 5m, timezone Europe/Berlin",
        "  (every counts from the first apply; shown from now)",
    ]
    rows = parse(result.stdout)
    assert len(rows) == 4 == len(lines) - 2
    # anchored: every time shares the anchor's fraction of a second, so whole seconds step by exactly 5m
    utcs = [row[2] for row in rows]
    assert [b - a for a, b in itertools.pairwise(utcs)] == [timedelta(minutes=5)] * 3


def test_solar_lists_one_sunrise_a_day(config: Path, run_next: Next) -> None:
    result = run_next(config, "sunrise", "-n", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "sunrise: sunrise at 52.52, 13.405, timezone Europe/Berlin"
    rows = parse(result.stdout)
    assert len(rows) == 3
    days = [row[0].date() for row in rows]
    assert [(b - a).days for a, b in itertools.pairwise(days)] == [1, 1]
    for local, _, _ in rows:
        assert 3 <= local.hour <= 9  # Berlin sunrise: 04:43 CEST at the earliest, 08:17 CET at the latest


def test_disabled_schedule_says_so_with_its_note(config: Path, run_next: Next) -> None:
    result = run_next(config, "paused", "-n", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == 'paused: cron "0 * * * *", timezone UTC (disabled: waiting for the migration)'
    quiet = run_next(config, "paused-quietly", "-n", "1")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines()[0] == 'paused-quietly: cron "0 0 * * *", timezone Asia/Tokyo (disabled)'


@pytest.mark.parametrize(
    "name, message",
    [
        ("nope", "gitbeat: error: no schedule named 'nope'"),
        ("nightlyy", "gitbeat: error: no schedule named 'nightlyy' (did you mean 'nightly'?)"),
    ],
)
def test_unknown_name_is_one_line_on_stderr(config: Path, run_next: Next, name: str, message: str) -> None:
    result = run_next(config, name)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_a_broken_schedule_reports_its_errors(config: Path) -> None:
    result = console(config, "broken")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "schedules/broken.yaml:4:11: error: schedules.broken.cron: minute 61 is out of range 0-59"
    ]


def test_config_option_from_elsewhere(config: Path, tmp_path: Path, run_next: Next) -> None:
    result = run_next(tmp_path, "--config", str(config), "oneoff")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "  2099-03-29 03:00:00 CEST (+0200)   2099-03-29 01:00:00 UTC"


def test_an_applied_every_counts_from_its_stored_anchor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], clean_env: None
) -> None:
    """Once applied, `next` shows the times beat fires: from the anchor in the store, not from now."""
    import sqlalchemy as sa

    root = tmp_path / "project"
    (root / "schedules").mkdir(parents=True)
    (root / "schedules" / "a.yaml").write_text("schedules:\n  tick:\n    task: jobs.run\n    every: 7m\n")
    (root / "tasks").mkdir()
    (root / "tasks" / "a.yaml").write_text("tasks:\n  jobs.run: {handler: 'handlers:run'}\n")
    (root / "handlers.py").write_text("def run():\n    pass\n")
    database = f"sqlite:///{tmp_path / 'store.db'}"

    def main(argv: list[str]) -> Run:
        return in_process(monkeypatch, capsys, tmp_path, *argv)

    assert main(["apply", "--config", str(root), "--database", database]).returncode == 0
    anchor = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    engine = sa.create_engine(database)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE gitbeat_schedules SET anchor_at = ?", (anchor.replace(tzinfo=None),))
    engine.dispose()
    shown = main(["next", "tick", "-n", "3", "--config", str(root), "--database", database])
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[1] == "  (every counts from its anchor 2026-01-01 00:00:30 UTC, set when first applied)"
    utcs = [row[2] for row in parse("\n".join(lines))]
    assert len(utcs) == 3 and utcs[0] > datetime.now(UTC) - timedelta(seconds=1)
    assert all((moment - anchor) % timedelta(minutes=7) == timedelta(0) for moment in utcs)
    # A timing change resets the anchor at the next apply: until then, shown from now.
    (root / "schedules" / "a.yaml").write_text("schedules:\n  tick:\n    task: jobs.run\n    every: 9m\n")
    shown = main(["next", "tick", "-n", "1", "--config", str(root), "--database", database])
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[1] == (
        "  (every counts from the next apply, which changes its timing; shown from now)"
    )
