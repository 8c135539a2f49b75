"""Check the config: schema, cross-references, imports, and what will not work as written."""

from __future__ import annotations

import argparse
import sys

from .. import report
from ..validation import collect
from . import FAILED, OK, environment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--no-imports", action="store_true", help="do not import handlers and exception classes")


def run(args: argparse.Namespace) -> int:
    from ..loader import environments

    env = environment(args)
    config, diagnostics = collect(args.config, imports=not args.no_imports, env=env)
    files = list(config.files)
    if env is None:  # the base and every environment: an overlay's mistake fails CI too
        for other in environments(args.config):
            merged, found = collect(args.config, imports=not args.no_imports, env=other)
            diagnostics = sorted(set(diagnostics) | set(found))
            files += [name for name in merged.files if name not in files]
    errors, warnings = report.summary(diagnostics)
    valid = errors == 0 and not (args.strict and warnings)
    if args.format == "json":
        report.write_json(diagnostics, files, valid, sys.stdout)
    elif args.format == "github":
        report.write_github(diagnostics, sys.stdout)
    else:
        report.write_text(diagnostics, sys.stderr)
        counts = (
            f"{report.plural(len(config.queues), 'queue')}, {report.plural(len(config.tasks), 'task')}, "
            f"{report.plural(len(config.schedules), 'schedule')} in {report.plural(len(files), 'file')}"
        )
        if valid:
            extra = f" ({report.plural(warnings, 'warning')})" if warnings else ""
            print(f"ok: {counts}{extra}")
        else:
            print(
                f"gitbeat: {report.plural(errors, 'error')}, {report.plural(warnings, 'warning')}; {counts}",
                file=sys.stderr,
            )
    return OK if valid else FAILED
