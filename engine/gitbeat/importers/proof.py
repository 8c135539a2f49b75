"""The fire-time proof: the source's own library and gitbeat's timing, instant by instant.

For each imported entry, 1,000 fire instants are computed both ways, from the same last
run, in windows that cross the next DST changes of the schedule's timezone: one window
from the last run (or now), and one leading into each DST change the first does not reach
(each shifted onto an interval's anchor lattice, so both sides count from the same runs).
gitbeat's side reads the specs parsed back from the YAML written, all of an entry's
schedules merged. Instants must be equal; solar ones, from two models of the sun, within a
tolerance the report states.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from statistics import median

from ..spec import ScheduleSpec
from ..timing import dst_transitions, fire_times, zone
from .sourcetimes import SourceError, source_times
from .translate import Candidate

PROOF_COUNT = 1000
SHOWN = 5  # mismatches listed per schedule


@dataclass
class Proof:
    """What the comparison found for one entry."""

    compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None
    transitions: int = 0  # DST changes of its timezone inside the windows compared
    largest: float = 0.0  # seconds: the largest difference within the tolerance
    tolerance: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.mismatches


def gitbeat_times(specs: dict[str, ScheduleSpec], after: datetime, anchor: datetime, count: int) -> list[datetime]:
    """The first `count` fire instants of all `specs` together after `after`, as gitbeat's beat computes them."""
    streams: list[Iterator[datetime]] = []
    for spec in specs.values():
        assert spec.timezone is not None
        streams.append(islice(fire_times(spec, spec.timezone, after, anchor), count))
    return list(islice(heapq.merge(*streams), count))


def prove(candidate: Candidate, specs: dict[str, ScheduleSpec], count: int = PROOF_COUNT) -> Proof:
    """Compare the entry's source instants with gitbeat's for `specs` (the YAML written, parsed back)."""
    entry, origin = candidate.entry, candidate.origin
    proof = Proof(tolerance=candidate.tolerance)
    windows, ahead = _windows(candidate, specs, count)
    for start, size in windows:
        try:
            source = [t for t in source_times(entry.schedule, entry.rules, start, size) if t > start]
        except SourceError as error:
            proof.mismatches.append(f"the source's library cannot compute its fire times: {error}")
            return proof
        ours = ahead[:size] if start == origin else gitbeat_times(specs, start, origin, size)
        _compare(proof, source, ours, entry.timezone)
        if entry.rules.one_off:
            break  # one run: nothing to compare after it
    transitions = [t for t, _, _ in dst_transitions(zone(entry.timezone), origin, days=400 * 3)]
    if proof.first is not None and proof.last is not None:
        proof.transitions = sum(proof.first <= t <= proof.last for t in transitions)
    return proof


def _windows(
    candidate: Candidate, specs: dict[str, ScheduleSpec], count: int
) -> tuple[list[tuple[datetime, int]], list[datetime]]:
    """(start, instants) of each window: from the origin, then into each DST change the first does not reach;
    and gitbeat's instants from the origin, computed on the way."""
    origin = candidate.origin
    ahead = gitbeat_times(specs, origin, origin, 1 if candidate.entry.rules.one_off else count)
    if candidate.entry.rules.one_off or len(ahead) < count:
        return [(origin, count)], ahead  # one run, or the schedule ends: the whole of it is compared
    changes = [t for t, _, _ in dst_transitions(zone(candidate.entry.timezone), origin, days=400) if t > ahead[-1]]
    if not changes:
        return [(origin, count)], ahead
    size = count // (len(changes) + 1)
    gaps = [(b - a).total_seconds() for a, b in pairwise(ahead[:size])]
    lead = timedelta(seconds=median(gaps) * size / 2 if gaps else 86400)
    windows = [(origin, count - size * len(changes))]
    for change in changes:
        windows.append((_on_lattice(candidate, max(change - lead, origin)), size))
    return windows, ahead


def _on_lattice(candidate: Candidate, moment: datetime) -> datetime:
    """An `every`'s window starts on one of its runs (anchor + k periods), as a source's last run would be."""
    if candidate.period is None:
        return moment
    step, base = timedelta(seconds=candidate.period), candidate.anchor or candidate.origin
    return base + ((moment - base) // step) * step if moment > base else moment


def _compare(proof: Proof, source: list[datetime], ours: list[datetime], zone_name: str) -> None:
    for theirs, mine in zip(source, ours, strict=False):
        difference = abs((theirs - mine).total_seconds())
        if difference > proof.tolerance:
            if len(proof.mismatches) < SHOWN:
                proof.mismatches.append(f"the source fires {_local(theirs, zone_name)}, gitbeat "
                                        f"{_local(mine, zone_name)}")
            elif len(proof.mismatches) == SHOWN:
                proof.mismatches.append("…")
        else:
            proof.largest = max(proof.largest, difference)
        proof.compared += 1
        proof.first = min(proof.first or theirs, theirs)
        proof.last = max(proof.last or theirs, theirs)
    if len(source) != len(ours):
        longer, which = (source, "the source") if len(source) > len(ours) else (ours, "gitbeat")
        extra = longer[min(len(source), len(ours))]
        proof.mismatches.append(f"{which} fires once more, {_local(extra, zone_name)} ({len(source)} instants by the "
                                f"source, {len(ours)} by gitbeat)")


def _local(moment: datetime, zone_name: str) -> str:
    local = moment.astimezone(zone(zone_name))
    text = f"{local:%Y-%m-%d %H:%M:%S}"
    if local.microsecond:
        text += f".{local.microsecond:06d}"
    return f"{text} {local.tzname()} ({moment.astimezone(UTC):%H:%M:%S}Z)"
