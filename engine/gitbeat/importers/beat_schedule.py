"""Read a Celery app's `conf.beat_schedule`: each entry through Celery's own `ScheduleEntry`.

The app is imported as `MODULE:APP` (the config root and the working directory on the path).
Crontabs read wall times in the app's `timezone`. Celery's default beat keeps its run state in
its schedule file (`celerybeat-schedule`, a shelve), which this reader does not open: the
entries start as if beat started now.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from ..errors import GitbeatError
from .entry import Source, SourceEntry


def read(target: str, root: Path, timezone: str | None) -> Source:
    """The beat_schedule of the app named `target` (MODULE:APP, APP defaulting to `app`)."""
    from celery import Celery, __version__
    from celery.beat import ScheduleEntry

    app = load_app(target, root)
    if not isinstance(app, Celery):
        raise GitbeatError(f"{target}: not a Celery app (it is a {type(app).__name__})")
    zone = timezone or zone_name(app)
    schedule = app.conf.beat_schedule or {}
    if not isinstance(schedule, dict):
        raise GitbeatError(f"{target}: conf.beat_schedule is not a mapping of entries")
    entries = []
    for name, fields in schedule.items():
        if not isinstance(fields, dict) or "task" not in fields or "schedule" not in fields:
            raise GitbeatError(f"{target}: beat_schedule entry {name!r} needs `task` and `schedule`")
        try:
            entry = ScheduleEntry(name=name, app=app, **{k: v for k, v in fields.items() if k != "name"})
        except Exception as error:  # noqa: BLE001 - Celery refuses the entry: said in one line
            raise GitbeatError(f"{target}: beat_schedule entry {name!r}: {type(error).__name__}: {error}") from None
        entries.append(SourceEntry(
            name=str(name), origin=f"beat_schedule[{name!r}] of {target}", task=entry.task,
            schedule=entry.schedule, timezone=zone, args=entry.args, kwargs=entry.kwargs,
            options=dict(entry.options or {}), never_run_note=None,
        ))
    return Source("beat-schedule", target, f"Celery {__version__}", entries,
                  state_note="Celery's default beat keeps run state in its schedule file, which is not read: "
                  "each schedule starts afresh")


def load_app(target: str, root: Path) -> Any:
    """The object `MODULE:APP` names; GitbeatError in one line when it cannot be imported."""
    module_name, _, attribute = target.partition(":")
    if not module_name:
        raise GitbeatError(f"{target!r}: name the app as MODULE:APP, e.g. proj.celery:app")
    for folder in (str(Path.cwd()), str(Path(root).resolve())):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - the user's module: any failure is reported as one line
        raise GitbeatError(f"cannot import {module_name!r}: {type(error).__name__}: {error}") from None
    try:
        return getattr(module, attribute or "app")
    except AttributeError:
        raise GitbeatError(f"{module_name!r} has no attribute {attribute or 'app'!r}") from None


def zone_name(app: Any) -> str:
    """The IANA name of the app's timezone (Celery's default: UTC)."""
    zone = app.timezone
    name = getattr(zone, "key", None) or str(zone)
    return "UTC" if name in ("UTC", "utc") else name
