"""The report at the end of `gitbeat import`: the proof's figures, then imported, adapted, refused, skipped."""

from __future__ import annotations

from typing import TextIO

from ..spec import ScheduleSpec
from .entry import Source
from .pipeline import Outcome, describe


def timing(spec: ScheduleSpec) -> str:
    """A schedule's timing in a few words: `cron "0 0 * * *" Europe/Berlin`, `every 5m`."""
    from ..durations import format_duration

    if spec.cron is not None:
        return f'cron "{spec.cron}" {spec.timezone}'
    if spec.every is not None:
        return f"every {format_duration(spec.every)}"
    if spec.at is not None:
        return f"at {spec.at.isoformat()}"
    assert spec.solar is not None
    return f"solar {spec.solar.event} at {spec.solar.latitude:g}, {spec.solar.longitude:g}"


def write(source: Source, outcome: Outcome, written: str | None, state: str | None, out: TextIO) -> None:
    """The whole report, for a person."""
    print(f"Read {len(source.entries)} entr{'y' if len(source.entries) == 1 else 'ies'} from {source.kind} at "
          f"{source.where}; the source's fire times computed by {source.library}.", file=out)
    print(f"fire times verified: {outcome.verified} of {outcome.proved}", file=out)
    for item in outcome.imported:
        mark = "ok" if item.proof.ok else "DIFFER"
        print(f"  {mark:6} {item.candidate.name}: {describe(item.proof)}", file=out)
    for name in outcome.differed:
        if name not in {item.candidate.entry.name for item in outcome.imported}:
            print(f"  DIFFER {name}: refused, see below", file=out)
    where = f" into {written}" if written else " (nothing written)"
    print(f"imported: {len(outcome.imported)}{where}", file=out)
    for item in outcome.imported:
        for name, spec in item.specs.items():
            disabled = " (disabled)" if not spec.enabled else ""
            print(f"  + {name}: {spec.task}, {timing(spec)}{disabled}", file=out)
    adapted = [(item.candidate.name, note) for item in outcome.imported for note in item.candidate.notes]
    print(f"adapted: {len({name for name, _ in adapted})}", file=out)
    for name, note in adapted:
        print(f"  ~ {name}: {note}", file=out)
    print(f"refused: {len(outcome.refused)}", file=out)
    for name, why in outcome.refused:
        print(f"  ! {name}: {why}", file=out)
    if outcome.skipped:
        print(f"skipped: {len(outcome.skipped)}", file=out)
        for name, why in outcome.skipped:
            print(f"  - {name}: {why}", file=out)
    if outcome.tasks:
        print(f"tasks declared without a handler: {', '.join(sorted(outcome.tasks))} (your code registers them: list "
              "its modules under `imports` in gitbeat.yaml)", file=out)
    if state:
        print(f"run state: {state} (apply starts the schedules it adds from their last run)", file=out)
    elif source.state_note:
        print(f"run state: {source.state_note}", file=out)
    if written:
        print(f"next: stop the old beat, `gitbeat validate`, `gitbeat apply`, then `gitbeat beat` "
              f"(docs/migration/{source.kind}.md)", file=out)
