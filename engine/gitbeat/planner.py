"""Pure diff of the desired config against the stored state: the Plan that `plan` shows and `apply` runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from .applied import AppliedConfig
from .loader import Config
from .runstate import CarriedRun, carried
from .spec import ScheduleSpec
from .timing import fire_times, to_fire

Action = Literal["add", "change", "remove", "drift"]
Effect = Literal["live", "restart"]
SYMBOLS: dict[str, str] = {"add": "+", "change": "~", "remove": "-", "drift": "!"}
# The one rule of what a running worker cannot take live (SPEC §6). Plan marks changes by
# it, workers follow every other field of a new revision, `gitbeat dev` restarts by it.
RESTART_FIELDS: dict[str, frozenset[str]] = {
    "task": frozenset({"handler"}),  # the code a worker imported when it started
    # queue arguments RabbitMQ fixes when it declares a queue
    "queue": frozenset({"routing_key", "exchange", "max_priority", "message_ttl", "max_length", "dead_letter"}),
    "project": frozenset({"imports"}),  # modules that register tasks, imported at start
}


def effect(kind: str, action: Action, fields: Iterable[str] = ()) -> Effect:
    """Whether running workers take a change live or need a restart: the one place that decides."""
    if kind == "task" and action == "add":
        return "restart"  # a new task's handler is imported when a worker starts
    if action == "change" and RESTART_FIELDS.get(kind, frozenset()) & set(fields):
        return "restart"
    return "live"  # schedules (beat), new or removed queues (consumed live), removed tasks, options


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class DesiredSchedule:
    name: str
    spec: ScheduleSpec  # the timezone resolved
    digest: str  # of `text`
    origin: str  # file:line

    @property
    def text(self) -> str:
        """Canonical JSON of the spec: what the store keeps (made when asked: only added and changed rows need it)."""
        return self.spec.model_dump_json()


@dataclass
class Desired:
    """The config in the store's terms: canonical JSON per item and a digest of it all."""

    schedules: dict[str, DesiredSchedule]
    tasks: dict[str, dict[str, Any]]
    queues: dict[str, dict[str, Any]]
    project: dict[str, Any]
    environment: str | None = None
    # Run state another beat left for schedules this apply adds (`gitbeat import --with-run-state`).
    carried: dict[str, CarriedRun] = field(default_factory=dict)

    def config_text(self) -> str:
        """Project, queues and tasks as canonical JSON: what a revision records beside its schedule rows."""
        return json.dumps({"project": self.project, "queues": self.queues, "tasks": self.tasks}, sort_keys=True)

    def digest(self) -> str:
        """One digest of the whole config, schedules included."""
        schedules = "".join(f"{name}\0{item.digest}\n" for name, item in sorted(self.schedules.items()))
        return digest(self.config_text() + "\n" + schedules)


def desired_state(config: Config) -> Desired:
    applied = AppliedConfig(project=config.project, queues=config.queues, tasks=config.tasks).as_json()
    schedules = {}
    lines: dict[int, dict[Any, int]] = {}  # id(source) -> the line of each schedule it declares: a file at a time
    for name, spec in config.schedules.items():
        source = config.origins[("schedules", name)]
        known = lines.get(id(source))
        if known is None:
            known = lines[id(source)] = source.key_lines(("schedules",))
        line = known.get(name) or source.locate(("schedules", name), key=True)[1]
        schedules[name] = DesiredSchedule(name, spec, digest(spec.model_dump_json()), f"{source.display}:{line}")
    return Desired(schedules=schedules, tasks=applied["tasks"], queues=applied["queues"], project=applied["project"],
                   environment=config.environment, carried=carried(config))


@dataclass(frozen=True, slots=True)
class StoredSchedule:
    """A schedule row as the store holds it."""

    name: str
    text: str
    digest: str
    enabled: bool
    managed: bool
    anchor_at: datetime | None = None
    last_due_at: datetime | None = None  # due times up to here are handled (None: unknown, e.g. at a git ref)

    def drifted(self, wanted: DesiredSchedule | None = None) -> bool:
        """Changed in the database since gitbeat wrote it (checked cheaply against `wanted` when given)."""
        if not self.managed:
            return False
        if wanted is not None and self.digest == wanted.digest:
            return digest(self.text) != self.digest or self.enabled != wanted.spec.enabled
        if digest(self.text) != self.digest:
            return True
        try:
            return bool(json.loads(self.text).get("enabled", True)) != self.enabled
        except (ValueError, AttributeError):
            return True

    def spec(self) -> ScheduleSpec | None:
        """The spec as stored, if it reads as one."""
        try:
            return ScheduleSpec.model_validate_json(self.text)
        except ValueError:
            return None

    def fields(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.text)
        except ValueError:
            return {"spec": self.text}
        return {**loaded, "enabled": self.enabled} if isinstance(loaded, dict) else {"spec": loaded}


@dataclass(frozen=True)
class Current:
    """What the store holds now: schedule rows and the last revision's tasks, queues and project."""

    schedules: dict[str, StoredSchedule]
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = field(default_factory=dict)
    project: dict[str, Any] | None = None
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(slots=True)  # one per schedule of a first apply: 100,000 at scale
class Change:
    kind: Literal["schedule", "task", "queue", "project"]
    action: Action
    name: str
    fields: list[FieldChange] = field(default_factory=list)
    effect: Effect = "live"
    next_fires: list[datetime] = field(default_factory=list)
    timing_changed: bool = False
    spec: ScheduleSpec | None = None
    before_fires: list[datetime] = field(default_factory=list)  # the next fires as things are, for a change
    starts: str | None = None  # a run the apply itself starts (or stops for ever), in words


@dataclass
class Plan:
    changes: list[Change]
    unmanaged: list[str]
    conflicts: list[str]
    paused: dict[str, str] = field(default_factory=dict)  # schedule -> who paused it, until when, why

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "remove": 0, "drift": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def empty(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        counts = self.counts()
        text = f"{counts['add']} to add, {counts['change']} to change, {counts['remove']} to remove"
        if counts["drift"]:
            text += f", {counts['drift']} drifted to repair"
        return text

    def of(self, kind: str, *actions: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind and (not actions or c.action in actions)]


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    return [
        FieldChange(key, old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


TIMING_FIELDS = ("cron", "every", "at", "solar", "timezone", "start_at")


def diff(
    desired: Desired, current: Current, now: datetime, *, prune: bool = True, fires: int = 3
) -> Plan:
    """Every change that makes `current` match `desired`; rows gitbeat does not own are never touched."""
    changes: list[Change] = []
    conflicts = sorted(
        name for name, row in current.schedules.items() if not row.managed and name in desired.schedules
    )
    unmanaged = sorted(name for name, row in current.schedules.items() if not row.managed)
    for name, wanted in sorted(desired.schedules.items()):
        row = current.schedules.get(name)
        if row is not None and not row.managed:
            continue
        if row is None:
            changes.append(Change("schedule", "add", name, next_fires=_fires(wanted.spec, now, None, fires),
                                  spec=wanted.spec, starts=_starts(wanted.spec, None, now)))
            continue
        if row.digest == wanted.digest and not row.drifted(wanted):
            continue
        old, new = row.fields(), {**json.loads(wanted.text)}
        action: Action = "drift" if row.digest == wanted.digest else "change"
        fields = _field_changes(old, new)
        timing_changed = any(f.field in TIMING_FIELDS for f in fields)
        anchor = None if timing_changed else row.anchor_at
        before = row.spec()
        changes.append(
            Change(
                "schedule",
                action,
                name,
                fields,
                next_fires=_fires(wanted.spec, now, anchor, fires),
                timing_changed=timing_changed,
                spec=wanted.spec,
                before_fires=_fires(before, now, row.anchor_at, fires) if before and before.enabled and row.enabled
                else [],
                starts=_starts(wanted.spec, row, now) if not timing_changed else None,
            )
        )
    if prune:
        for name, row in sorted(current.schedules.items()):
            if row.managed and name not in desired.schedules:
                changes.append(Change("schedule", "remove", name))
    changes += _diff_items("task", desired.tasks, current.tasks)
    changes += _diff_items("queue", desired.queues, current.queues)
    if current.project is not None and current.project != desired.project:
        fields = _field_changes(current.project, desired.project)
        changes.append(
            Change("project", "change", "gitbeat.yaml", fields, effect("project", "change", (f.field for f in fields)))
        )
    return Plan(changes, unmanaged, conflicts)


def _diff_items(
    kind: Literal["task", "queue"],
    desired: dict[str, dict[str, Any]],
    current: dict[str, dict[str, Any]],
) -> list[Change]:
    changes = []
    for name in sorted(set(desired) | set(current)):
        if name not in current:
            changes.append(Change(kind, "add", name, _field_changes({}, desired[name]), effect(kind, "add")))
        elif name not in desired:
            changes.append(Change(kind, "remove", name, effect=effect(kind, "remove")))
        elif desired[name] != current[name]:
            fields = _field_changes(current[name], desired[name])
            changes.append(Change(kind, "change", name, fields, effect(kind, "change", (f.field for f in fields))))
    return changes


def _starts(spec: ScheduleSpec, row: StoredSchedule | None, now: datetime) -> str | None:
    """A run that applying `spec` starts at once (a schedule enabled again catches up), or why it never runs."""
    assert spec.timezone is not None
    if row is None:
        if spec.at is not None and not _fires(spec, now, None, 1):
            return "its `at` has passed: it never runs"
        return None
    if not spec.enabled or row.enabled or spec.catchup == "skip":
        return None
    if row.last_due_at is None:
        return f"enabled again: it may run at once to catch up (catchup: {spec.catchup})"
    missed = to_fire(spec, row.last_due_at, now, row.anchor_at)
    if not missed:
        return None
    return f"enabled again: {len(missed)} run(s) at once to catch up (catchup: {spec.catchup}), the last due " \
           f"{missed[-1].astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def _fires(spec: ScheduleSpec, now: datetime, anchor: datetime | None, count: int) -> list[datetime]:
    assert spec.timezone is not None
    return list(islice(fire_times(spec, spec.timezone, now, anchor), max(count, 0)))
