"""Show what `apply` would change in the database: add, change, remove, drift; live or restart."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from .. import planview
from ..planner import desired_state
from . import CHANGES, FAILED, OK, open_store, valid_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    parser.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    parser.add_argument("--no-prune", action="store_true", help="plan as `apply --no-prune`: keep removed schedules")


def run(args: argparse.Namespace) -> int:
    config = valid_config(args)
    store = open_store(args, readonly=True)
    plan = store.plan(desired_state(config), datetime.now(UTC), prune=not args.no_prune)
    if not store.ensure_schema():
        print(f"gitbeat: note: nothing is applied to {store.describe()} yet; apply creates gitbeat's tables",
              file=sys.stderr)
    revision = store.latest_revision()
    render = {"text": planview.text, "markdown": planview.markdown, "json": planview.as_json}[args.format]
    sys.stdout.write(render(plan, revision))
    if plan.conflicts:
        return FAILED
    return CHANGES if args.detailed_exitcode and not plan.empty else OK
