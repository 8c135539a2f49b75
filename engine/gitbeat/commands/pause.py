"""Pause an applied schedule (break-glass, audited): beat honours it at once, apply keeps it, it may expire."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import gitinfo
from ..durations import parse_duration
from ..errors import UsageError
from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule")
    parser.add_argument("--for", dest="duration", default=None, metavar="DURATION",
                        help="e.g. 2h; default: until resumed")
    parser.add_argument("--note", required=True, help="why: shown by plan, status and the dashboard")


def run(args: argparse.Namespace) -> int:
    from ..operate import pause

    duration = None
    if args.duration is not None:
        try:
            duration = parse_duration(args.duration)
        except ValueError as error:
            raise UsageError(f"--for: {error}") from None
    if not args.note.strip():
        raise UsageError("--note: say why the schedule is paused")
    override = pause(open_store(args), args.name, gitinfo.author(Path(args.config)), args.note.strip(), duration)
    print(f"{args.name}: {override.describe()}")
    return OK
