"""The YAML `gitbeat import` writes reads back as meant, through gitbeat's own loader; the run state beside it is
used only for the timing it was imported with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from gitbeat.importers.writer import document, scalar, schedule_block
from gitbeat.loader import load_config
from gitbeat.planner import desired_state
from gitbeat.runstate import carried, entry, state_path


@pytest.mark.parametrize(
    "value",
    ["jobs.report", "5m", "Europe/Berlin", "yes", "on", "null", "1.5", "0x1f", "2026-01-01", "a: b", "#x", "*/5",
     "naïve", "", "12:30", "2026-12-31T23:00:00+01:00", 7, 2.5, True, None, [1, "a"], {"k": [1, 2]}],
)
def test_a_scalar_reads_back_as_written(value: object) -> None:
    assert yaml.safe_load(f"key: {scalar(value)}")["key"] == value


def write_config(root: Path, blocks: str) -> Path:
    (root / "schedules" / "imported").mkdir(parents=True)
    path = root / "schedules" / "imported" / "django.yaml"
    text = document(["Imported by a test."], {"jobs.report": "registered by the code"}, {"reports": {"exchange": "x"}},
                    [blocks], path, root)
    path.write_text(text)
    return path


def test_the_document_loads_without_a_diagnostic(tmp_path: Path) -> None:
    block = schedule_block("first-monday", {"task": "jobs.report", "cron": "0 9 */31,2-7 * 1",
                                            "timezone": "America/New_York", "args": [1], "queue": "reports",
                                            "description": "First Monday: of the month"},
                           ["django-celery-beat PeriodicTask #3", "fire times verified: 1,000 instants equal"])
    path = write_config(tmp_path, block)
    text = path.read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../schema/gitbeat.schema.json"
    assert "  # django-celery-beat PeriodicTask #3\n  # fire times verified: 1,000 instants equal\n  first-monday:\n" \
        in text
    config, diagnostics = load_config(tmp_path)
    assert diagnostics == []
    assert config.schedules["first-monday"].cron == "0 9 */31,2-7 * 1"
    assert config.queues["reports"].exchange == "x" and "jobs.report" in config.tasks


def test_run_state_is_carried_only_for_the_timing_imported(tmp_path: Path) -> None:
    path = write_config(tmp_path, schedule_block("health", {"task": "jobs.report", "every": "5m"}, []))
    config, _ = load_config(tmp_path)
    last = datetime(2026, 12, 2, 9, 58, 27, tzinfo=UTC)
    state = {"schedules": {"health": entry(config.schedules["health"], last, 41),
                           "gone": entry(config.schedules["health"], last, 1)}}
    state_path(path).write_text(json.dumps(state))
    assert state_path(path).name == "django.state.json"
    run = desired_state(config).carried["health"]
    assert (run.last_run_at, run.run_count, run.anchor_at) == (last, 41, last)
    assert set(carried(config)) == {"health"}
    path.write_text(path.read_text().replace("every: 5m", "every: 10m"))
    config, _ = load_config(tmp_path)
    assert carried(config) == {}  # its timing changed since the import: the state no longer belongs to it
