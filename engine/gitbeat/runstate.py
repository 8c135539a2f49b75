"""Run state carried over from another beat: `gitbeat import --with-run-state` writes it, `apply` uses it.

The import writes `<file>.state.json` beside the YAML file it writes (`schedules/imported/django.yaml`
→ `schedules/imported/django.state.json`): per schedule, the source's last run and run count, and
the timing they belong to. When `apply` adds one of those schedules, its new row starts from that
state: the last run and run count shown as the source had them, the cursor at the last run (due
times up to it are never fired again; one missed since then fires once, as `catchup` says) and an
`every` anchored at the last run, as Celery counted it. The state is used only for schedules apply
adds, and only while their timing is the one imported: a row that exists keeps its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .sources import inside_root
from .spec import ScheduleSpec

if TYPE_CHECKING:
    from .loader import Config

SUFFIX = ".state.json"


@dataclass(frozen=True)
class CarriedRun:
    """A schedule's run state as another beat left it."""

    last_run_at: datetime
    run_count: int
    anchor_at: datetime | None  # an `every`'s anchor: the last run


def state_path(yaml_path: Path) -> Path:
    """Where the run state of the schedules in `yaml_path` is kept."""
    return yaml_path.with_name(yaml_path.name.rsplit(".", 1)[0] + SUFFIX)


def timing_of(spec: ScheduleSpec) -> dict[str, Any]:
    """The fields whose change resets an anchor (the planner's rule): run state belongs to them."""
    from .planner import TIMING_FIELDS

    dumped = spec.model_dump(mode="json")
    return {name: dumped.get(name) for name in TIMING_FIELDS}


def entry(spec: ScheduleSpec, last_run_at: datetime, run_count: int) -> dict[str, Any]:
    """One schedule's state as the file keeps it."""
    return {
        "timing": timing_of(spec),
        "last_run_at": last_run_at.isoformat(),
        "run_count": run_count,
        "anchor_at": last_run_at.isoformat() if spec.every is not None else None,
    }


def carried(config: Config) -> dict[str, CarriedRun]:
    """The run state beside the config's schedule files, for the schedules whose timing is still the one imported."""
    files = {source.display for (section, _), source in config.origins.items() if section == "schedules"}
    found: dict[str, CarriedRun] = {}
    for display in sorted(files):
        path = state_path(Path(display))
        if not path.is_file() or path.is_symlink() or not inside_root(path, config.root):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries = data["schedules"].items()
        except (OSError, ValueError, KeyError, AttributeError):
            continue  # not ours, or damaged: apply goes on as without it
        for name, state in entries:
            spec = config.schedules.get(name)
            if spec is None or not isinstance(state, dict) or state.get("timing") != timing_of(spec):
                continue
            try:
                anchor = state.get("anchor_at")
                found[name] = CarriedRun(datetime.fromisoformat(state["last_run_at"]), int(state["run_count"]),
                                         datetime.fromisoformat(anchor) if anchor else None)
            except (KeyError, TypeError, ValueError):
                continue
    return found
