"""Run an applied schedule's due times in a past range, oldest first, as `backfill` runs (audited).

Each due time keeps its run id, so a due time that ran, or a backfill repeated, is not
sent again. Times without an offset are in the schedule's timezone.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from .. import gitinfo
from ..errors import UsageError
from ..timing import as_local, zone
from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule")
    parser.add_argument("--from", dest="start", required=True, metavar="TIME", help="e.g. 2026-12-01T00:00")
    parser.add_argument("--to", dest="end", required=True, metavar="TIME", help="inclusive")
    parser.add_argument("--dry-run", action="store_true", help="list the due times, send nothing")
    parser.add_argument("--limit", type=int, default=1000, help="refuse a range with more due times (default 1000)")
    parser.add_argument("--note", default=None, help="why: recorded in the audit")


def _moment(text: str, option: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text[:40]!r} is not a date and time such as 2026-12-01T00:00") from None
    return as_local(moment, zone(timezone))


def run(args: argparse.Namespace) -> int:
    from ..operate import applied_schedule, backfill
    from ..runtime import configured_app

    root = Path(args.config)
    store = open_store(args, readonly=args.dry_run)
    timezone = applied_schedule(store, args.name).spec.timezone or "UTC"
    start, end = _moment(args.start, "--from", timezone), _moment(args.end, "--to", timezone)
    app = None if args.dry_run else configured_app(root, args.database).app
    done = backfill(store, app, args.name, start, end, gitinfo.author(root), args.note, limit=args.limit)
    tz = zone(timezone)
    for moment in done.due:
        print(f"  {moment.astimezone(tz):%Y-%m-%d %H:%M:%S %Z}")
    if args.dry_run:
        print(f"{len(done.due)} due time(s) of {args.name} in the range; nothing sent (--dry-run)")
    elif done.deferred:
        print(f"backfilled {args.name}: {len(done.sent)} run(s) recorded, not sent yet: {done.deferred}; "
              f"{done.already} already ran or were sent")
    else:
        print(f"backfilled {args.name}: {len(done.sent)} run(s) sent, {done.already} already ran or were sent")
    return OK
