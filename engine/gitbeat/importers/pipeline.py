"""Import a source's entries: translate each, write it as YAML, read that back, prove its fire times.

An entry is imported when gitbeat, reading the YAML written for it, fires on the instants the
source's own library computes (or when `--allow-mismatch` says to write it anyway, with the
differences in its comment); otherwise it is refused with the differences listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ..loader import Config
from ..spec import ScheduleSpec
from .entry import Source
from .proof import PROOF_COUNT, Proof, prove
from .translate import Candidate, Context, Refused, Skipped, translate
from .writer import parse, schedule_block

REGISTERED = ("not declared in the config: a task your code registers; list the module that registers it under "
              "`imports` in gitbeat.yaml (`gitbeat validate` says which are missing)")


@dataclass
class Imported:
    candidate: Candidate
    proof: Proof
    block: str  # its YAML, comments included
    specs: dict[str, ScheduleSpec]  # as read back

    @property
    def names(self) -> list[str]:
        return list(self.candidate.specs)


@dataclass
class Outcome:
    """What the import of one source came to."""

    imported: list[Imported] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (the source's name, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # tasks to declare, and why
    queues: dict[str, dict[str, object]] = field(default_factory=dict)  # queues to declare
    differed: list[str] = field(default_factory=list)  # entries whose fire times differ (refused or allowed)

    @property
    def verified(self) -> int:
        return sum(item.proof.ok for item in self.imported)

    @property
    def proved(self) -> int:
        return len(self.imported) + sum(name not in {i.candidate.entry.name for i in self.imported}
                                         for name in self.differed)


def run(source: Source, config: Config, *, now: datetime, with_run_state: bool, allow_mismatch: bool,
        replacing: str | None = None, count: int = PROOF_COUNT) -> Outcome:
    """Translate and prove every entry of `source`; `replacing` is the file being overwritten (its names are free)."""
    taken = {name for (section, name), origin in config.origins.items()
             if section == "schedules" and origin.display != replacing}
    queues = {name for (section, name), origin in config.origins.items()
              if section == "queues" and origin.display != replacing}
    declared_tasks = {name for (section, name), origin in config.origins.items()
                      if section == "tasks" and origin.display != replacing}
    context = Context(now=now, with_run_state=with_run_state, taken=taken,
                      known_queues=queues | {config.project.default_queue})
    outcome = Outcome()
    for entry in source.entries:
        try:
            candidate = translate(entry, context)
        except Skipped as why:
            outcome.skipped.append((entry.name, str(why)))
            continue
        except Refused as why:
            outcome.refused.append((entry.name, str(why)))
            continue
        plain = "".join(schedule_block(name, data, []) for name, data in candidate.specs.items())
        try:
            specs = parse(plain, config.project.timezone)
        except (ValidationError, ValueError) as error:
            outcome.refused.append((entry.name, f"gitbeat cannot read it as written: {_first_error(error)}"))
            continue
        proof = prove(candidate, specs, count)
        if not proof.ok:
            outcome.differed.append(entry.name)
        if not proof.ok and not allow_mismatch:
            outcome.refused.append((entry.name, "fire times differ: " + "; ".join(proof.mismatches)))
            continue
        comments = [entry.origin, _verdict(proof), *(f"adapted: {note}" for note in candidate.notes)]
        block = "".join(schedule_block(name, data, comments if i == 0 else [f"with {candidate.name}: {entry.origin}"])
                        for i, (name, data) in enumerate(candidate.specs.items()))
        outcome.imported.append(Imported(candidate, proof, block, dict(specs)))
        context.taken.update(candidate.specs)
        task = entry.task
        if task not in declared_tasks:
            outcome.tasks.setdefault(task, REGISTERED)
        if candidate.queue is not None and candidate.queue[0] not in context.known_queues:
            outcome.queues[candidate.queue[0]] = candidate.queue[1]
            context.known_queues.add(candidate.queue[0])
    return outcome


def _verdict(proof: Proof) -> str:
    if not proof.ok:
        return "fire times DIFFER (written with --allow-mismatch): " + "; ".join(proof.mismatches)
    return "fire times verified: " + describe(proof)


def describe(proof: Proof) -> str:
    """`1,000 instants equal, 2026-05-08 to 2029-02-01, across 6 DST changes`."""
    text = f"{proof.compared:,} instant{'s' if proof.compared != 1 else ''} "
    text += f"within {proof.tolerance:g}s (at most {proof.largest:.1f}s apart)" if proof.tolerance else "equal"
    if proof.first is not None and proof.last is not None:
        text += f", {proof.first:%Y-%m-%d}" + (f" to {proof.last:%Y-%m-%d}" if proof.last != proof.first else "")
    if proof.transitions:
        text += f", across {proof.transitions} DST change{'s' if proof.transitions != 1 else ''}"
    return text


def _first_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(error).splitlines()[0]

