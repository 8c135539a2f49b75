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
    from ..app import declare_queues, register_tasks
    from ..live import follow_revisions
    from ..runrecord import record_outcomes
    from ..runtime import configured_app
    from ..settings import database_url

    root = Path(args.config)
    revision, config, app, settings = configured_app(root, args.database)
    register_tasks(app, config, root)
    record_outcomes()
    declare_queues(app)
    follow_revisions(app, root, database_url(settings, root), revision, config, bool(args.queues))
    queues = args.queues or ",".join(config.consumed_queues())
    applied = revision if revision is not None else "(files, none applied)"
    print(f"gitbeat: worker for revision {applied}, queues {queues}", flush=True)
    quiet = ["--quiet"] if args.quiet else []
    app.worker_main([*quiet, "worker", "--loglevel", args.loglevel, "--queues", queues, *celery_arguments(args)])
    return OK
