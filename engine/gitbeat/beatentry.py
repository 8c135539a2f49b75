"""One schedule as beat holds it (RedBeat's Entry): its spec as stored, its cursor, when it fires next."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from .sending import task_id
from .spec import ScheduleSpec
from .store.beat import ScheduleRow
from .timing import next_fire


@dataclass(slots=True)  # 100,000 of them in a big beat
class Entry:
    """One schedule as beat holds it: its spec as stored, its cursor and its place in the heap.

    The spec is kept as its JSON text and parsed when the entry fires: 10,000 parsed
    specs would hold ~30 MB that a waiting beat does not need.
    """

    name: str
    text: str
    digest: str
    anchor: datetime
    after: datetime  # due times up to here are handled
    last_task_id: str | None
    version: int = 0
    due: datetime | None = None  # the next due time
    fire_at: float = 0.0  # when to send it: due plus this due's jitter

    @property
    def spec(self) -> ScheduleSpec:
        return ScheduleSpec.model_validate_json(self.text)

    @classmethod
    def from_row(cls, row: ScheduleRow) -> tuple[Entry, ScheduleSpec]:
        spec = ScheduleSpec.model_validate_json(row.spec)  # a row that does not parse is refused here
        anchor = row.anchor_at or row.created_at
        return cls(row.name, row.spec, row.digest, anchor, row.last_due_at or anchor, row.last_task_id), spec

    def advance(self, spec: ScheduleSpec) -> None:
        """Compute the next due time after the cursor and when to send it."""
        self.due = next_fire(spec, spec.timezone or "UTC", self.after, self.anchor)
        if self.due is None:
            return
        offset = 0.0
        if spec.jitter:
            # Seeded by the due time: every beat, and a restart, picks the same delay.
            offset = random.Random(task_id(self.name, self.due)).uniform(0, spec.jitter)
            following = next_fire(spec, spec.timezone or "UTC", self.due, self.anchor)
            if following is not None:  # never past the next run
                offset = min(offset, max((following - self.due).total_seconds() - 0.001, 0.0))
        self.fire_at = self.due.timestamp() + offset


def internal_entry(name: str, spec: ScheduleSpec, now: datetime) -> Entry:
    """An entry gitbeat adds itself (Celery's backend cleanup): no schedule row, claimed by its run id alone."""
    text = spec.model_dump_json()
    return Entry(name, text, "", now, now, None)
