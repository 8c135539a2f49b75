"""Run Celery beat with gitbeat's scheduler; arguments after `--` go to Celery."""

from __future__ import annotations

import argparse
from pathlib import Path



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", "-l", default="INFO")
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then arguments for `celery beat`")


def run(args: argparse.Namespace) -> int:
    from ..app import create_app
    from ..runtime import applied_config
    from ..settings import load_settings

    root = Path(args.config)
    settings = load_settings(root, args.database)
    _, config = applied_config(root, settings)
    app = create_app(root, settings, config)
    extra = [a for a in args.celery_args if a != "--"]
    app.start(["beat", "--scheduler", "gitbeat.scheduler:Scheduler", "--loglevel", args.loglevel, *extra])
    return 0
