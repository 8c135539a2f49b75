"""Run a Celery worker for the applied config (the files when none is applied); arguments after `--` go to Celery."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import OK, celery_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", "-l", default="INFO")
    parser.add_argument("--quiet", "-q", action="store_true", help="no startup banner (gitbeat dev restarts this way)")
    parser.add_argument("--queues", "-Q", default=None, help="comma-separated queues (default: every declared queue)")
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then arguments for `celery worker`")


def run(args: argparse.Namespace) -> int:
    from ..app import declare_queues
    from ..runtime import configured_app
    from ..settings import database_url
    from ..workers import prepare_worker

    root = Path(args.config)
    revision, config, app, settings = configured_app(root, args.database)
    prepare_worker(app, root, database_url(settings, root), revision, config)
    declare_queues(app)  # here, before Celery starts: a broker that is away is one line
    applied = revision if revision is not None else "(files, none applied)"
    print(f"gitbeat: worker for revision {applied}, queues {args.queues or ','.join(config.consumed_queues())}",
          flush=True)
    quiet = ["--quiet"] if args.quiet else []
    chosen = ["--queues", args.queues] if args.queues else []  # else every declared queue but dead-letter ones
    app.worker_main([*quiet, "worker", "--loglevel", args.loglevel, *chosen, *celery_arguments(args)])
    return OK
