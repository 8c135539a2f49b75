"""planner.diff as tables: (what the store holds, what the files want) → the changes, in milliseconds, no database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitbeat import yamlsource
from gitbeat.loader import load_config
from gitbeat.planner import Current, Desired, DesiredSchedule, StoredSchedule, desired_state, diff, digest
from gitbeat.spec import ScheduleSpec

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def wanted(name: str, **fields: Any) -> DesiredSchedule:
    spec = ScheduleSpec.model_validate({"task": "t", "every": 60, "timezone": "UTC", **fields})
    return DesiredSchedule(name, spec, digest(spec.model_dump_json()), "schedules/s.yaml:1")


def stored(name: str, *, managed: bool = True, enabled: bool | None = None, edit: dict[str, Any] | None = None,
           **fields: Any) -> StoredSchedule:
    """A row as apply wrote it for `fields`; `edit` then changes its spec text as someone did by hand."""
    row = wanted(name, **fields)
    text = json.dumps({**json.loads(row.text), **(edit or {})}) if edit else row.text
    return StoredSchedule(name, text, row.digest, row.spec.enabled if enabled is None else enabled, managed)


def desired(*schedules: DesiredSchedule, tasks: dict | None = None, queues: dict | None = None,
            project: dict | None = None) -> Desired:
    return Desired({s.name: s for s in schedules}, tasks or {}, queues or {}, project or {"timezone": "UTC"})


def current(*rows: StoredSchedule, tasks: dict | None = None, queues: dict | None = None,
            project: dict | None = None) -> Current:
    return Current({r.name: r for r in rows}, tasks or {}, queues or {}, project, 1 if project else None)


def summary(plan: Any) -> list[tuple[str, str, str, str, list[str]]]:
    return [(c.kind, c.action, c.name, c.effect, [f.field for f in c.fields]) for c in plan.changes]


CASES: dict[str, tuple[Current, Desired, list[tuple[str, str, str, str, list[str]]], dict[str, Any]]] = {
    "nothing to do": (current(stored("a")), desired(wanted("a")), [], {}),
    "a new schedule": (current(), desired(wanted("a")), [("schedule", "add", "a", "live", [])], {}),
    "a removed schedule is pruned": (current(stored("a")), desired(), [("schedule", "remove", "a", "live", [])], {}),
    "no-prune keeps it": (current(stored("a")), desired(), [], {"prune": False}),
    "args change": (
        current(stored("a")), desired(wanted("a", args=[1])), [("schedule", "change", "a", "live", ["args"])], {}
    ),
    "a timing change": (
        current(stored("a")), desired(wanted("a", every=30)), [("schedule", "change", "a", "live", ["every"])], {}
    ),
    "disabled in the files": (
        current(stored("a")), desired(wanted("a", enabled=False, note="why")),
        [("schedule", "change", "a", "live", ["enabled", "note"])], {},
    ),
    "edited in the database: drift": (
        current(stored("a", edit={"every": 5})), desired(wanted("a")), [("schedule", "drift", "a", "live", ["every"])],
        {},
    ),
    "enabled flipped in the database: drift": (
        current(stored("a", enabled=False)), desired(wanted("a")), [("schedule", "drift", "a", "live", ["enabled"])],
        {},
    ),
    "an unmanaged row is never touched": (current(stored("x", managed=False)), desired(), [], {}),
    "a new task needs a restart": (
        current(), desired(tasks={"t": {"handler": "m:f"}}), [("task", "add", "t", "restart", ["handler"])], {}
    ),
    "a task option is live": (
        current(tasks={"t": {"rate_limit": "1/s"}}), desired(tasks={"t": {"rate_limit": "2/s"}}),
        [("task", "change", "t", "live", ["rate_limit"])], {},
    ),
    "a handler change needs a restart": (
        current(tasks={"t": {"handler": "m:f"}}), desired(tasks={"t": {"handler": "m:g"}}),
        [("task", "change", "t", "restart", ["handler"])], {},
    ),
    "a removed task": (current(tasks={"t": {}}), desired(), [("task", "remove", "t", "live", [])], {}),
    "a new queue is consumed live": (current(), desired(queues={"q": {}}), [("queue", "add", "q", "live", [])], {}),
    "a queue argument needs a restart": (
        current(queues={"q": {"max_priority": 5}}), desired(queues={"q": {"max_priority": 9}}),
        [("queue", "change", "q", "restart", ["max_priority"])], {},
    ),
    "imports need a restart": (
        current(project={"timezone": "UTC", "imports": []}), desired(project={"timezone": "UTC", "imports": ["m"]}),
        [("project", "change", "gitbeat.yaml", "restart", ["imports"])], {},
    ),
    "the project's timezone is live": (
        current(project={"timezone": "UTC"}), desired(project={"timezone": "Europe/Berlin"}),
        [("project", "change", "gitbeat.yaml", "live", ["timezone"])], {},
    ),
    "the first apply has no project to compare": (current(), desired(), [], {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_diff(case: str) -> None:
    before, after, expected, options = CASES[case]
    assert summary(diff(after, before, NOW, **options)) == expected


def test_a_name_held_by_an_unmanaged_row_is_a_conflict() -> None:
    plan = diff(desired(wanted("x")), current(stored("x", managed=False), stored("y", managed=False)), NOW)
    assert (plan.conflicts, plan.unmanaged, plan.changes) == (["x"], ["x", "y"], [])


def test_timing_changes_are_marked_and_show_the_next_fires() -> None:
    plan = diff(desired(wanted("a", every=30), wanted("b", args=[2])), current(stored("a"), stored("b")), NOW)
    timing = {c.name: c.timing_changed for c in plan.changes}
    assert timing == {"a": True, "b": False}
    assert all(len(c.next_fires) == 3 for c in plan.changes)
    added = diff(desired(wanted("c", cron="0 0 * * *", every=None)), current(), NOW).changes[0]
    assert [m.isoformat() for m in added.next_fires] == [
        "2026-06-02T00:00:00+00:00", "2026-06-03T00:00:00+00:00", "2026-06-04T00:00:00+00:00"
    ]


def test_counts_and_summary() -> None:
    plan = diff(desired(wanted("a"), wanted("b", args=[1])), current(stored("b"), stored("c"), stored("d", edit={"x": 1})),
                NOW)
    assert plan.counts() == {"add": 1, "change": 1, "remove": 2, "drift": 0}
    assert plan.summary() == "1 to add, 1 to change, 2 to remove"


ORIGIN_FILES = {
    "plain": "schedules:\n  a:\n    task: t.run\n    every: 1m\n\n  b: {task: t.run, every: 2m}\n",
    # merge keys and aliases inside entries, and a whole entry merged into the mapping
    "merged": (
        "schedules:\n"
        "  d: &base\n    task: t.run\n    every: 1m\n"
        "  e:\n    <<: *base\n    every: 5m\n"
        "  f2: *base\n"
        "  <<: {c: {task: t.run, every: 2m}}\n"
    ),
    "long": "schedules:\n  f:\n    task: t.run\n    every: 1m\n  # g\n  g:\n    task: t.run\n    every: 3m\n",
    "quoted": 'schedules:\n  "h": {task: t.run, every: 1m}\n  ? i\n  : {task: t.run, every: 1m}\n',
}


@pytest.mark.parametrize("composer", ["libyaml", "exact"])
def test_each_schedules_origin_is_the_line_of_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, composer: str
) -> None:
    """desired_state places a file's schedules in one pass; each origin is where `locate` puts the name."""
    if composer == "exact":
        monkeypatch.setattr(yamlsource, "_NodeLoader", None)
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.yaml").write_text("tasks:\n  t.run:\n    handler: h:run\n")
    (tmp_path / "schedules").mkdir()
    for name, text in ORIGIN_FILES.items():
        (tmp_path / "schedules" / f"{name}.yaml").write_text(text)
    overlay = tmp_path / "environments" / "staging"
    overlay.mkdir(parents=True)
    (overlay / "o.yaml").write_text("schedules:\n  a:\n    every: 7m\n  z:\n    task: t.run\n    every: 1m\n")
    for env in (None, "staging"):
        config, diagnostics = load_config(tmp_path, env=env)
        assert [d for d in diagnostics if d.severity == "error"] == []
        origins = {name: item.origin for name, item in desired_state(config).schedules.items()}
        expected = {}
        for name in config.schedules:
            display, line, _ = config.origins[("schedules", name)].locate(("schedules", name), key=True)
            expected[name] = f"{display}:{line}"
        assert origins == expected
        assert origins["b"].endswith("plain.yaml:6") and origins["g"].endswith("long.yaml:6")
        assert origins["i"].endswith("quoted.yaml:3") and origins["e"].endswith("merged.yaml:5")
    assert origins["z"].endswith("o.yaml:4")
