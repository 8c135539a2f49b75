"""Pure: the health of a schedule (ok, late, failing, stale, paused) from its spec, its runs and its override.

- paused: disabled in the YAML, or paused by an operator;
- failing: its newest run a worker took failed for good (failed or dead-lettered);
- late: its newest due time, past a grace (1 minute plus its jitter), has no run that started
  (a run just claimed, still queued, is neither: it does not hide a failure, nor start anything);
- stale: `alert_after` is set and it has not succeeded for that long (since it was applied, if never);
- ok: none of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .spec import ScheduleSpec
from .store.operate import Override
from .store.runs import RunStats
from .timing import due_times, next_fire

HEALTH = ("ok", "late", "failing", "stale", "paused")
LATE_GRACE = timedelta(minutes=1)
LOOKBACK = timedelta(days=400)  # how far back a schedule's newest due time is looked for


@dataclass(frozen=True)
class Health:
    """A schedule's health word, why, and what it is judged on."""

    word: str
    reason: str
    next_due: datetime | None
    last_due: datetime | None  # the newest due time past its grace


@dataclass(frozen=True)
class Dues:
    """A schedule's next due time, its newest due time past the grace, and until when both hold."""

    next_due: datetime | None
    last_due: datetime | None
    valid_until: datetime | None  # None: for ever (no due time left)


def dues(spec: ScheduleSpec, anchor: datetime | None, applied_at: datetime, now: datetime) -> Dues:
    """The due times health is judged on; they hold until the next due time or the next one past its grace."""
    timezone = spec.timezone or "UTC"
    next_due = next_fire(spec, timezone, now, anchor)
    grace = LATE_GRACE + timedelta(seconds=spec.jitter or 0)
    recent = due_times(spec, max(applied_at, now - LOOKBACK), now - grace, anchor, 1)
    last_due = recent[-1] if recent else None
    following = next_fire(spec, timezone, last_due, anchor) if last_due else None
    limits = [moment for moment in (next_due, following + grace if following else None) if moment is not None]
    return Dues(next_due, last_due, min(limits) if limits else None)


def judge(
    spec: ScheduleSpec, anchor: datetime | None, applied_at: datetime, stats: RunStats | None,
    override: Override | None, now: datetime, *, known: Dues | None = None,
) -> Health:
    """The health of one schedule now (`known`: its due times, if still valid)."""
    times = known or dues(spec, anchor, applied_at, now)
    next_due = times.next_due if spec.enabled and override is None else None
    last_due = times.last_due
    if override is not None:
        return Health("paused", override.describe(), None, last_due)
    if not spec.enabled:
        return Health("paused", f"disabled in the YAML{': ' + spec.note if spec.note else ''}", None, last_due)
    last = stats.last_started if stats else None
    if last is not None and last.state in ("failed", "dead-lettered"):
        error = f": {last.error_type}: {last.error}" if last.error_type else ""
        return Health("failing", f"its run due {last.due_at:%Y-%m-%d %H:%M:%S}Z {last.state}{error}", next_due,
                      last_due)
    if last_due is not None and not _started(stats, last_due):
        return Health("late", f"its run due {last_due:%Y-%m-%d %H:%M:%S}Z has not started", next_due, last_due)
    if spec.alert_after is not None:
        since = (stats.last_success_at if stats else None) or applied_at
        if now - since > timedelta(seconds=spec.alert_after):
            what = "no successful run" if stats is None or stats.last_success_at is None else "no success"
            return Health("stale", f"{what} since {since:%Y-%m-%d %H:%M:%S}Z (alert_after)", next_due, last_due)
    return Health("ok", "", next_due, last_due)


def _started(stats: RunStats | None, due: datetime) -> bool:
    """Whether the run due at `due`, or a later one, started (a run in progress counts: overlap skips)."""
    last = stats.last_started if stats else None
    if last is None:
        return False
    return last.state in ("started", "retrying") or last.due_at >= due
