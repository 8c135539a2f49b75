"""Check the config: schema, cross-references, imports, and what will not work as written."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from .. import report
from ..checks import check_config
from ..errors import Diagnostic
from ..loader import Config, load_config
from . import FAILED, OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json", "github"), default="text")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--no-imports", action="store_true", help="do not import handlers and exception classes")


def collect(config_root: Path, *, imports: bool = True) -> tuple[Config, list[Diagnostic]]:
    """Load and check the config under `config_root`: every diagnostic, sorted."""
    config, diagnostics = load_config(config_root)
    registered: set[str] | None = None
    if imports:
        from ..imports import check_imports

        imported = check_imports(config)
        diagnostics += imported.diagnostics
        registered = imported.registered
    diagnostics += check_config(config, registered, datetime.now(UTC))
    return config, sorted(set(diagnostics))


def run(args: argparse.Namespace) -> int:
    config, diagnostics = collect(args.config, imports=not args.no_imports)
    errors, warnings = report.summary(diagnostics)
    valid = errors == 0 and not (args.strict and warnings)
    if args.format == "json":
        report.write_json(diagnostics, config.files, valid, sys.stdout)
    elif args.format == "github":
        report.write_github(diagnostics, sys.stdout)
    else:
        report.write_text(diagnostics, sys.stderr)
        counts = (
            f"{report.plural(len(config.queues), 'queue')}, {report.plural(len(config.tasks), 'task')}, "
            f"{report.plural(len(config.schedules), 'schedule')} in {report.plural(len(config.files), 'file')}"
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
