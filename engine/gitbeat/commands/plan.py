"""Show what `apply` would change: against the database, or against the config at a git ref (no database).

Add, change, remove, drift; live or restart for running workers; each changed schedule's
next fire times before and after, and any run the apply itself starts. `--out FILE` saves
the plan for `gitbeat apply FILE`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from .. import planview
from ..errors import ConfigError, UsageError
from ..planner import Current, Desired, StoredSchedule, desired_state, diff
from . import CHANGES, FAILED, OK, environment, open_store, valid_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    parser.add_argument("--no-prune", action="store_true", help="plan as `apply --no-prune`: keep removed schedules")
    parser.add_argument("--base", metavar="REF", help="plan against the config at this git ref: no database")
    parser.add_argument("--out", metavar="FILE", type=Path, help="save the plan for `gitbeat apply FILE`")


def run(args: argparse.Namespace) -> int:
    # The config is not kept: its YAML documents would stay in memory while the store is read.
    desired = desired_state(valid_config(args))
    now = datetime.now(UTC)
    if args.base:
        if args.out:
            raise UsageError("--out saves a plan against the database, which --base does not read: drop one of them")
        plan = diff(desired, _at_ref(args, args.base), now, prune=not args.no_prune)
        against: str | int | None = args.base
    else:
        store = open_store(args, readonly=True)
        plan = store.plan(desired, now, prune=not args.no_prune)
        if not store.ensure_schema():
            print(f"gitbeat: note: nothing is applied to {store.describe()} yet; apply creates gitbeat's tables",
                  file=sys.stderr)
        if args.out:
            from ..savedplan import save

            revision, state = store.state()  # a digest of every row: read only for a plan to save
            save(args.out, plan, revision, config_digest=desired.digest(), environment=desired.environment,
                 prune=not args.no_prune, state=state)
        else:
            revision = store.latest_revision()
        against = revision
    render = {"text": planview.text, "markdown": planview.markdown, "json": planview.as_json}[args.format]
    sys.stdout.write(render(plan, against))
    if plan.conflicts:
        return FAILED
    return CHANGES if args.detailed_exitcode and not plan.empty else OK


def _at_ref(args: argparse.Namespace, ref: str) -> Current:
    """The config at `ref` as if it were applied: what a merged pull request's base runs (handlers not imported)."""
    from ..validation import collect

    config, diagnostics = collect(Path(args.config), env=environment(args), ref=ref)
    if any(d.severity == "error" for d in diagnostics):
        raise ConfigError(diagnostics)
    base: Desired = desired_state(config)
    schedules = {
        name: StoredSchedule(name, item.text, item.digest, item.spec.enabled, True)
        for name, item in base.schedules.items()
    }
    return Current(schedules, base.tasks, base.queues, base.project)
