"""The YAML that `gitbeat import` writes: the `$schema` line, a comment naming each schedule's origin,
the schedules, and the tasks and queues they need that the config does not declare.

Values are written so that YAML reads back exactly what was meant: a string stays plain only
when the safe loader returns it unchanged, anything else is a JSON string (valid YAML), and
lists and mappings are JSON flow style. `parse` reads a block back, as the proof needs.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ..spec import ScheduleSpec

ORDER = ("task", "cron", "every", "at", "solar", "timezone", "start_at", "end_at", "args", "kwargs", "queue",
         "routing_key", "priority", "expires", "enabled", "note", "description")
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
SCHEMA_FILE = Path("schema") / "gitbeat.schema.json"


def scalar(value: Any) -> str:
    """One value as YAML that reads back as `value`."""
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and yaml.safe_load(value) == value:
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def comment(text: str, indent: int) -> list[str]:
    """`text` as comment lines (one per line of it)."""
    return [" " * indent + "# " + line.rstrip() for line in str(text).splitlines() or [""]]


def schedule_block(name: str, data: dict[str, Any], comments: list[str]) -> str:
    """One schedule under `schedules:`, its comments above it."""
    lines = [line for text in comments for line in comment(text, 2)]
    lines.append(f"  {scalar(name)}:")
    for key in ORDER:
        if key in data:
            value = data["cron"] if key == "cron" else data[key]
            lines.append(f"    {key}: {json.dumps(value) if key == 'cron' else scalar(value)}")
    return "\n".join(lines) + "\n"


def parse(blocks: str, default_timezone: str) -> dict[str, ScheduleSpec]:
    """The schedules of `blocks` (text under `schedules:`) as gitbeat's loader sees them, timezone resolved."""
    data = yaml.safe_load("schedules:\n" + blocks)["schedules"]
    specs = {}
    for name, value in data.items():
        spec = ScheduleSpec.model_validate(value)
        specs[str(name)] = spec.model_copy(update={"timezone": spec.timezone or default_timezone})
    return specs


def document(header: list[str], tasks: dict[str, str], queues: dict[str, dict[str, Any]], schedules: list[str],
             path: Path, root: Path) -> str:
    """The whole file: `$schema` line, header comments, queues, tasks (each with why it is there), schedules."""
    schema = os.path.relpath(root / SCHEMA_FILE, path.parent)
    lines = [f"# yaml-language-server: $schema={Path(schema).as_posix()}"]
    lines += [line for text in header for line in comment(text, 0)]
    if queues:
        lines.append("queues:")
        lines += [f"  {scalar(name)}: {json.dumps(spec) if spec else '{}'}" for name, spec in sorted(queues.items())]
    if tasks:
        lines.append("tasks:")
        for why in sorted(set(tasks.values())):
            lines += comment(why, 2)
            lines += [f"  {scalar(name)}: {{}}" for name, reason in sorted(tasks.items()) if reason == why]
    lines.append("schedules:")
    return "\n".join(lines) + "\n" + "".join(schedules)
