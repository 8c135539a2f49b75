"""A Plan as text, as a Markdown pull-request comment, or as JSON (`plan --format`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from .durations import format_duration
from .planner import SYMBOLS, Change, FieldChange, Plan
from .spec import ScheduleSpec
from .timing import zone
from .timingwords import when

JSON_VERSION = 1


def _value(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value, sort_keys=True)


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
    timezone = change.spec.timezone if change.spec is not None else None
    if change.before_fires and change.before_fires != change.next_fires:
        lines.append("    next before: " + _fire_list(change.before_fires, timezone))
        lines.append("    next after:  " + _fire_list(change.next_fires, timezone))
    elif change.next_fires:
        lines.append("    next: " + _fire_list(change.next_fires, timezone))
    if change.starts:
        lines.append(f"    on apply: {change.starts}")
    return lines


def _fire_list(moments: list[datetime], timezone: str | None) -> str:
    """Fire times, each where its UTC offset differs from the one before marked as after a DST change."""
    shown, offset = [], None
    for moment in moments:
        local = moment.astimezone(zone(timezone)) if timezone else moment
        note = " [after a DST change]" if offset is not None and local.utcoffset() != offset else ""
        offset = local.utcoffset()
        shown.append(when(moment, timezone) + note)
    return ", ".join(shown) if shown else "none"


def _base(against: str | int | None) -> str:
    if isinstance(against, int):
        return f"revision {against}"
    return against or "an empty database"


def text(plan: Plan, against: str | int | None) -> str:
    out = []
    if plan.empty and isinstance(against, str):
        out.append(f"No changes: the config matches {against}.")
    elif plan.empty:
        out.append("No changes: the database matches the config" + (f" (revision {against})." if against else "."))
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


COMMENT_LIMIT = 65_000  # characters: GitHub's limit for a comment is 65,536
FOLD_AFTER = 20  # changes shown before the rest is folded into <details>


def markdown(plan: Plan, against: str | int | None, limit: int = COMMENT_LIMIT) -> str:
    """A pull-request comment: the summary first, the changes in a diff block, long lists folded, at most `limit`."""
    restart = [f"{c.kind} `{c.name}`" for c in plan.changes if c.effect == "restart"]
    starts = [f"`{c.name}`: {c.starts}" for c in plan.changes if c.starts]
    head = [f"### gitbeat plan against {_base(against)}", "", f"**{plan.summary()}.**"]
    if restart:
        head += ["", "**Workers must restart** to pick up: " + ", ".join(restart) + "."]
    if starts:
        head += ["", "**On apply:** " + "; ".join(starts)]
    if plan.conflicts:
        head += ["", f"**Conflicts** (apply will refuse): {', '.join(f'`{n}`' for n in plan.conflicts)}"]
    tail = []
    if plan.unmanaged:
        tail += ["", f"Unmanaged rows (never touched): {', '.join(f'`{n}`' for n in plan.unmanaged)}"]
    paused = _paused(plan)
    if paused:
        tail += ["", *(f"- {line}" for line in paused)]
    if plan.empty:
        return "\n".join([*head, "", "No changes.", *tail]) + "\n"
    blocks = [_lines(change) for change in plan.changes]
    shown, folded = blocks[:FOLD_AFTER], blocks[FOLD_AFTER:]
    body = ["", "```diff", *(line for block in shown for line in block), "```"]
    budget = limit - len("\n".join([*head, *body, *tail])) - 400  # room for the fold's own lines
    if folded:
        inside: list[str] = []
        used = 0
        for index, block in enumerate(folded):
            size = sum(len(line) + 1 for line in block)
            if used + size > budget:
                inside.append(f"… and {len(folded) - index} more change(s), not shown (`gitbeat plan` lists them all)")
                break
            inside += block
            used += size
        body += ["", f"<details><summary>{len(folded)} more change(s)</summary>", "", "```diff", *inside, "```",
                 "", "</details>"]
    return "\n".join([*head, *body, *tail]) + "\n"


def as_json(plan: Plan, against: str | int | None) -> str:
    return json.dumps(document(plan, against), indent=2) + "\n"


def document(plan: Plan, against: str | int | None) -> dict[str, Any]:
    """The plan as stable JSON (`plan --format json`, and the heart of a saved plan)."""
    return {
        "version": JSON_VERSION,
        "revision": against if isinstance(against, int) else None,
        "against": _base(against),
        "summary": plan.counts(),
        "changes": [
            {
                "kind": c.kind,
                "action": c.action,
                "name": c.name,
                "effect": c.effect,
                "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
                "next_fires": [m.astimezone(UTC).isoformat() for m in c.next_fires],
                "before_fires": [m.astimezone(UTC).isoformat() for m in c.before_fires],
                "timezone": c.spec.timezone if c.spec is not None else None,
                "starts": c.starts,
                "spec": c.spec.model_dump(mode="json") if c.spec is not None else None,
                "timing_changed": c.timing_changed,
            }
            for c in plan.changes
        ],
        "unmanaged": plan.unmanaged,
        "conflicts": plan.conflicts,
        "paused": plan.paused,
    }


def from_document(data: dict[str, Any]) -> tuple[Plan, str | int | None]:
    """A plan back from its JSON document (`gitbeat show plan.json`)."""
    changes = [
        Change(
            kind=c["kind"], action=c["action"], name=c["name"], effect=c["effect"],
            fields=[FieldChange(f["field"], f["old"], f["new"]) for f in c["fields"]],
            next_fires=[datetime.fromisoformat(m) for m in c["next_fires"]],
            before_fires=[datetime.fromisoformat(m) for m in c.get("before_fires", [])],
            spec=ScheduleSpec.model_validate(c["spec"]) if c.get("spec") else None,
            starts=c.get("starts"), timing_changed=c.get("timing_changed", False),
        )
        for c in data["changes"]
    ]
    plan = Plan(changes, data["unmanaged"], data["conflicts"], data.get("paused", {}))
    return plan, data["revision"] if data.get("revision") is not None else data.get("against")
