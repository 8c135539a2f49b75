"""A Plan as text, as a Markdown pull-request comment, or as JSON (`plan --format`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .durations import format_duration
from .planner import SYMBOLS, Change, Plan
from .spec import ScheduleSpec
from .timing import zone

JSON_VERSION = 1


def _value(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, sort_keys=True)


def _when(moment: datetime, timezone: str | None) -> str:
    utc = moment.astimezone(UTC)
    # Seconds only when there are some: `every: 10s` showed "01:30, 01:30, 01:30".
    clock = "%H:%M:%S" if utc.second or utc.microsecond else "%H:%M"
    if timezone in (None, "UTC"):
        return f"{utc:%Y-%m-%d {clock}} UTC"
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d {clock} %Z} ({utc:{clock}} UTC)"


def describe(schedule: ScheduleSpec) -> str:
    """When a schedule fires, in a few words: 'every 5m', 'cron "0 0 * * *"'."""
    if schedule.cron is not None:
        return f'cron "{schedule.cron}"'
    if schedule.every is not None:
        return f"every {format_duration(schedule.every)}"
    if schedule.at is not None:
        return f"at {schedule.at.isoformat()}"
    assert schedule.solar is not None
    return f"{schedule.solar.event} at {schedule.solar.latitude}, {schedule.solar.longitude}"


def _lines(change: Change) -> list[str]:
    head = f"{SYMBOLS[change.action]} {change.kind} {change.name}"
    if change.kind == "schedule" and change.spec is not None and change.action == "add":
        head += f": {change.spec.task} {describe(change.spec)} ({change.spec.timezone})"
    if change.kind in ("task", "queue", "project"):
        head += f" [{change.effect}]"
    if change.action == "drift":
        head += ": changed in the database outside gitbeat; apply restores the config"
    lines = [head]
    if change.action == "add":  # a new schedule has no fields here: its head line describes it
        lines += [f"    {f.field}: {_value(f.new)}" for f in change.fields if f.new not in (None, [], {}, False)]
    else:
        lines += [f"    {f.field}: {_value(f.old)} → {_value(f.new)}" for f in change.fields]
    if change.next_fires:
        timezone = change.spec.timezone if change.spec is not None else None
        lines.append("    next: " + ", ".join(_when(m, timezone) for m in change.next_fires))
    return lines


def text(plan: Plan, revision: int | None) -> str:
    out = []
    if plan.empty:
        out.append("No changes: the database matches the config" + (f" (revision {revision})." if revision else "."))
    for change in plan.changes:
        out += _lines(change)
    if plan.unmanaged:
        out.append(f"Unmanaged (in the database, not from gitbeat; never touched): {', '.join(plan.unmanaged)}")
    if plan.conflicts:
        out.append(
            "Conflicts (apply will refuse): the config declares schedules that exist unmanaged in the database: "
            + ", ".join(plan.conflicts)
        )
    out += _paused(plan)
    out.append(f"Plan: {plan.summary()}.")
    return "\n".join(out) + "\n"


def _paused(plan: Plan) -> list[str]:
    """Pauses apply keeps (a removed schedule's pause goes with it, audited)."""
    removed = {c.name for c in plan.of("schedule", "remove")}
    return [
        f"Paused (apply keeps it): {name}: {why}" + (" (removed with the schedule)" if name in removed else "")
        for name, why in sorted(plan.paused.items())
    ]


def markdown(plan: Plan, revision: int | None) -> str:
    base = f"revision {revision}" if revision else "an empty database"
    out = [f"### gitbeat plan against {base}", ""]
    if plan.empty:
        out.append("No changes.")
    else:
        out += ["```diff"] + [line for change in plan.changes for line in _lines(change)] + ["```"]
        restart = [f"{c.kind} `{c.name}`" for c in plan.changes if c.effect == "restart"]
        if restart:
            out += ["", "**Workers must restart** to pick up: " + ", ".join(restart) + "."]
    if plan.unmanaged:
        out += ["", f"Unmanaged rows (never touched): {', '.join(f'`{n}`' for n in plan.unmanaged)}"]
    if plan.conflicts:
        out += ["", f"**Conflicts** (apply will refuse): {', '.join(f'`{n}`' for n in plan.conflicts)}"]
    paused = _paused(plan)
    if paused:
        out += ["", *(f"- {line}" for line in paused)]
    out += ["", f"**{plan.summary()}.**"]
    return "\n".join(out) + "\n"


def as_json(plan: Plan, revision: int | None) -> str:
    document = {
        "version": JSON_VERSION,
        "revision": revision,
        "summary": plan.counts(),
        "changes": [
            {
                "kind": c.kind,
                "action": c.action,
                "name": c.name,
                "effect": c.effect,
                "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
                "next_fires": [m.astimezone(UTC).isoformat() for m in c.next_fires],
            }
            for c in plan.changes
        ],
        "unmanaged": plan.unmanaged,
        "conflicts": plan.conflicts,
        "paused": plan.paused,
    }
    return json.dumps(document, indent=2) + "\n"
