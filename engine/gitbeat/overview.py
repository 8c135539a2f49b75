"""Every applied schedule as an operator sees it: spec, health, last run, override. Used by status, metrics, the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .health import Health, judge
from .spec import ScheduleSpec
from .store import Store
from .store.beat import BeatStore
from .store.operate import Operations, Override
from .store.runs import RunLedger, RunStats


@dataclass(frozen=True)
class ScheduleView:
    name: str
    spec: ScheduleSpec
    anchor: datetime | None
    applied_at: datetime
    health: Health
    stats: RunStats | None
    override: Override | None

    @property
    def timezone(self) -> str:
        return self.spec.timezone or "UTC"


def schedules(store: Store, now: datetime) -> list[ScheduleView]:
    """Each schedule the store holds (a row that does not parse is left out), sorted by name."""
    if not store.ensure_schema():
        return []
    stats = RunLedger(store).stats()
    overrides = Operations(store).overrides(now)
    found = []
    for row in BeatStore(store).rows():
        try:
            spec = ScheduleSpec.model_validate_json(row.spec)
        except ValueError:
            continue
        if spec.enabled != row.enabled:  # the row's flag is what beat obeys (drift shows in plan)
            spec = spec.model_copy(update={"enabled": row.enabled})
        anchor = row.anchor_at or row.created_at
        override = overrides.get(row.name)
        health = judge(spec, anchor, row.created_at, stats.get(row.name), override, now)
        found.append(ScheduleView(row.name, spec, anchor, row.created_at, health, stats.get(row.name), override))
    return sorted(found, key=lambda view: view.name)
