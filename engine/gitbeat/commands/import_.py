"""Import schedules from Celery's beat_schedule, django-celery-beat, sqlalchemy-celery-beat or RedBeat into YAML.

Each entry becomes a gitbeat schedule that fires on the same instants: 1,000 of them are
computed by the source's own library and by gitbeat, across DST changes, and compared. One
that differs is listed and not written (unless --allow-mismatch); one that cannot be
expressed is refused with the reason. Writes schedules/imported/<source>.yaml (never over an
existing file without --force) and, with --with-run-state, the source's last runs beside it
for `apply`. Sources: beat-schedule MODULE:APP, django-celery-beat --from-database URL,
sqlalchemy-celery-beat --from-database URL [--schema S], redbeat --from-redis URL.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ..errors import FAILED, OK, GitbeatError, UsageError
from ..importers import OUTPUTS, read_source
from ..loader import Config, load_config
from ..sources import display_path

SOURCES = tuple(OUTPUTS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", choices=SOURCES, help="where the schedules are now")
    parser.add_argument("app", nargs="?", metavar="MODULE:APP",
                        help="beat-schedule: the Celery app, e.g. proj.celery:app")
    parser.add_argument("--from-database", metavar="URL",
                        help="django-celery-beat / sqlalchemy-celery-beat: its database")
    parser.add_argument("--schema", metavar="S", help="sqlalchemy-celery-beat: the schema of its tables")
    parser.add_argument("--from-redis", metavar="URL", help="redbeat: its Redis")
    parser.add_argument("--key-prefix", metavar="P", default=None, help="redbeat: its key prefix (default redbeat:)")
    parser.add_argument("--timezone", metavar="TZ", default=None,
                        help="the Celery app's timezone: redbeat's crontabs (default UTC); overrides beat-schedule's")
    parser.add_argument("--out", metavar="FILE", type=Path, default=None,
                        help="the YAML file to write (default schedules/imported/<source>.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="write schedules whose fire times differ too (the differences go in their comment)")
    parser.add_argument("--with-run-state", action="store_true",
                        help="carry each last run and run count over: apply starts the schedules from them")


def run(args: argparse.Namespace) -> int:
    from ..importers import pipeline, report
    from ..importers.writer import document
    from ..runstate import entry, state_path

    _check_arguments(args)
    root = Path(args.config)
    out = args.out if args.out is not None else root / "schedules" / "imported" / OUTPUTS[args.source]
    state = state_path(out)
    for path in (out, state) if args.with_run_state else (out,):
        if path.exists() and not args.force:
            raise UsageError(f"{display_path(path)} exists; pass --force to overwrite it")
    if args.timezone is not None:
        from ..timing import zone

        try:
            zone(args.timezone)
        except (ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError: below
            raise UsageError(f"--timezone: unknown timezone {args.timezone!r}") from None
        except KeyError:
            raise UsageError(f"--timezone: unknown timezone {args.timezone!r}") from None
    source = read_source(args.source, args, root)
    config = _config(root)
    now = datetime.now(UTC)
    replacing = display_path(out) if out.exists() else None
    outcome = pipeline.run(source, config, now=now, with_run_state=args.with_run_state,
                           allow_mismatch=args.allow_mismatch, replacing=replacing)
    written = state_written = None
    if outcome.imported:
        header = [f"Imported by `gitbeat import {args.source}` from {source.where} on {now:%Y-%m-%d %H:%M} UTC.",
                  f"Each schedule's fire times were computed both by {source.library}, and by gitbeat, and compared."]
        text = document(header, outcome.tasks, outcome.queues, [item.block for item in outcome.imported], out, root)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        written = display_path(out)
        carried = {name: entry(spec, item.candidate.entry.last_run_at, item.candidate.entry.run_count)
                   for item in outcome.imported if item.candidate.entry.last_run_at is not None
                   for name, spec in item.specs.items() if name == item.candidate.name}
        if args.with_run_state and carried:
            data = {"source": args.source, "imported_at": now.isoformat(), "schedules": carried}
            state.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            state_written = f"{len(carried)} schedule(s) in {display_path(state)}"
    report.write(source, outcome, written, state_written, sys.stdout)
    return OK if outcome.imported and not outcome.refused else FAILED


def _check_arguments(args: argparse.Namespace) -> None:
    """Each source's own options, and none of another's, as one line."""
    needs = {"beat-schedule": ("app", "MODULE:APP"), "django-celery-beat": ("from_database", "--from-database URL"),
             "sqlalchemy-celery-beat": ("from_database", "--from-database URL"), "redbeat": ("from_redis",
                                                                                          "--from-redis URL")}
    attribute, spelled = needs[args.source]
    if not getattr(args, attribute):
        raise UsageError(f"gitbeat import {args.source} needs {spelled}")
    foreign = {"app": "MODULE:APP", "from_database": "--from-database", "from_redis": "--from-redis",
               "schema": "--schema", "key_prefix": "--key-prefix"}
    allowed = {attribute} | ({"schema"} if args.source == "sqlalchemy-celery-beat" else set()) | (
        {"key_prefix"} if args.source == "redbeat" else set())
    for name, shown in foreign.items():
        if getattr(args, name) and name not in allowed:
            raise UsageError(f"{shown} does not apply to gitbeat import {args.source}")


def _config(root: Path) -> Config:
    """The config as it is (names taken, tasks and queues declared); an empty one where there is none yet."""
    try:
        config, _ = load_config(root)
    except GitbeatError:
        return Config(root=root)
    return config
