"""Every applied schedule as an operator sees it: spec, health, last run, override. Used by status, metrics, the API.

An `Overview` kept by a long-lived process (beat's metrics, the API) parses each spec once
per digest and recomputes a schedule's due times only when they change, so a scrape of
10,000 schedules costs two queries and a walk over them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .health import Dues, Health, dues, judge
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


class Overview:
    """The schedules of a store, with what does not change between calls remembered."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._specs: dict[str, tuple[str, ScheduleSpec | None]] = {}  # name -> (digest, spec)
        self._dues: dict[str, tuple[str, Dues]] = {}  # name -> (digest, due times)

    def schedules(self, now: datetime) -> list[ScheduleView]:
        """Each schedule the store holds (a row that does not parse is left out), sorted by name."""
        if not self.store.ensure_schema():
            return []
        stats = RunLedger(self.store).stats()
        overrides = Operations(self.store).overrides(now)
        found = []
        for row in BeatStore(self.store).rows():
            spec = self._spec(row.name, row.digest, row.spec)
            if spec is None:
                continue
            if spec.enabled != row.enabled:  # the row's flag is what beat obeys (drift shows in plan)
                spec = spec.model_copy(update={"enabled": row.enabled})
            anchor = row.anchor_at or row.created_at
            known = self._known_dues(row.name, row.digest, spec, anchor, row.created_at, now)
            override = overrides.get(row.name)
            health = judge(spec, anchor, row.created_at, stats.get(row.name), override, now, known=known)
            found.append(ScheduleView(row.name, spec, anchor, row.created_at, health, stats.get(row.name), override))
        return sorted(found, key=lambda view: view.name)

    def _spec(self, name: str, digest: str, text: str) -> ScheduleSpec | None:
        cached = self._specs.get(name)
        if cached is not None and cached[0] == digest:
            return cached[1]
        try:
            spec: ScheduleSpec | None = ScheduleSpec.model_validate_json(text)
        except ValueError:
            spec = None
        self._specs[name] = (digest, spec)
        return spec

    def _known_dues(self, name: str, digest: str, spec: ScheduleSpec, anchor: datetime, applied_at: datetime,
                    now: datetime) -> Dues:
        cached = self._dues.get(name)
        if cached is not None and cached[0] == digest:
            until = cached[1].valid_until
            if until is None or now < until:
                return cached[1]
        found = dues(spec, anchor, applied_at, now)
        self._dues[name] = (digest, found)
        return found


def schedules(store: Store, now: datetime) -> list[ScheduleView]:
    """The schedules of `store` now (nothing remembered: for a one-off command)."""
    return Overview(store).schedules(now)
