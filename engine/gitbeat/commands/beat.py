"""Run Celery beat with gitbeat's scheduler; arguments after `--` go to Celery."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import OK, celery_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", "-l", default="INFO")
    parser.add_argument("--quiet", "-q", action="store_true", help="no startup banner")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics on this port (default: $GITBEAT_METRICS_PORT, else none)")
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then arguments for `celery beat`")


def run(args: argparse.Namespace) -> int:
    from ..runtime import configured_app

    app = configured_app(Path(args.config), args.database).app
    if args.metrics_port is not None:
        app.conf.gitbeat_metrics_port = args.metrics_port
    quiet = ["--quiet"] if args.quiet else []
    app.start([*quiet, "beat", "--scheduler", "gitbeat.scheduler:Scheduler", "--loglevel", args.loglevel,
               *celery_arguments(args)])
    return OK
