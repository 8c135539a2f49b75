"""Show the next fire times of a schedule, in its timezone and in UTC."""

from __future__ import annotations

import argparse
import difflib
import sys
from datetime import UTC, datetime
from itertools import islice

from ..errors import FAILED, OK, StoreError, UnknownScheduleError
from ..loader import load_config, render_path
from ..planview import describe
from ..report import write_text
from ..spec import ScheduleSpec
from ..timing import fire_times, zone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule's name")
    parser.add_argument("-n", type=int, default=5, metavar="N", help="how many fire times (default 5)")


def run(args: argparse.Namespace) -> int:
    from . import environment

    config, diagnostics = load_config(args.config, env=environment(args))
    schedule = config.schedules.get(args.name)
    if schedule is None:
        if ("schedules", args.name) in config.broken:
            prefix = render_path(("schedules", args.name))
            write_text([d for d in diagnostics if d.path.startswith(prefix)], sys.stderr)
            return FAILED
        close = difflib.get_close_matches(args.name, list(config.schedules), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownScheduleError(f"no schedule named {args.name!r}{hint}")
    tz_name = config.timezone_of(schedule)
    tz = zone(tz_name)
    now = datetime.now(UTC)
    header = f"{args.name}: {describe(schedule)}, timezone {tz_name}"
    if not schedule.enabled:
        header += " (disabled" + (f": {schedule.note})" if schedule.note else ")")
    print(header)
    anchor = None
    if schedule.every is not None and schedule.start_at is None:
        anchor, where = _applied_anchor(args, schedule)
        print(f"  (every counts from {where})")
    times = list(islice(fire_times(schedule, tz_name, now, anchor), max(args.n, 0)))
    for moment in times:
        local = moment.astimezone(tz)
        print(f"  {local:%Y-%m-%d %H:%M:%S %Z} ({local:%z})   {moment:%Y-%m-%d %H:%M:%S} UTC")
    if not times and args.n > 0:
        print("  no more fire times")
    return OK


def _applied_anchor(args: argparse.Namespace, schedule: ScheduleSpec) -> tuple[datetime | None, str]:
    """Where an `every` without start_at counts from: its anchor in the store when applied with the same timing."""
    from ..planner import TIMING_FIELDS
    from . import open_store

    try:
        store = open_store(args, readonly=True)
        try:
            row = store.stored_schedule(args.name)
        finally:
            store.engine.dispose()
    except StoreError as error:
        print(f"gitbeat: note: {error}", file=sys.stderr)
        return None, "the first apply; the store cannot be read, so shown from now"
    if row is None or row.anchor_at is None or not row.managed:
        return None, "the first apply; shown from now"
    stored = row.fields()
    wanted = schedule.model_dump(mode="json")
    if any(stored.get(field) != wanted.get(field) for field in TIMING_FIELDS):
        return None, "the next apply, which changes its timing; shown from now"
    return row.anchor_at, f"its anchor {row.anchor_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, set when first applied"
