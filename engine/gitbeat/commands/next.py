"""Show the next fire times of a schedule, in its timezone and in UTC."""

from __future__ import annotations

import argparse
import difflib
import sys
from datetime import UTC, datetime
from itertools import islice

from ..errors import UnknownScheduleError
from ..loader import load_config, render_path
from ..planview import describe
from ..report import write_text
from ..timing import fire_times, zone
from . import FAILED, OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule's name")
    parser.add_argument("-n", type=int, default=5, metavar="N", help="how many fire times (default 5)")


def run(args: argparse.Namespace) -> int:
    config, diagnostics = load_config(args.config)
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
    if schedule.every is not None and schedule.start_at is None:
        print("  (every counts from the first apply; shown from now)")
    times = list(islice(fire_times(schedule, tz_name, now), max(args.n, 0)))
    if not times and args.n > 0:
        print("  no more fire times")
    for moment in times:
        local = moment.astimezone(tz)
        print(f"  {local:%Y-%m-%d %H:%M:%S %Z} ({local:%z})   {moment:%Y-%m-%d %H:%M:%S} UTC")
    return OK
