"""Run a Celery worker for the applied config (the files when none is applied); arguments after `--` go to Celery."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--loglevel", "-l", default="INFO")
    parser.add_argument("--queues", "-Q", default=None, help="comma-separated queues (default: every declared queue)")
    parser.add_argument("celery_args", nargs=argparse.REMAINDER, help="-- then arguments for `celery worker`")


def run(args: argparse.Namespace) -> int:
    from ..app import consumed_queues, create_app, declare_queues, register_tasks
    from ..runtime import applied_config
    from ..settings import load_settings

    root = Path(args.config)
    settings = load_settings(root, args.database)
    revision, config = applied_config(root, settings)
    app = create_app(root, settings, config)
    register_tasks(app, config, root)
    declare_queues(app)
    queues = args.queues or ",".join(consumed_queues(config))
    extra = [a for a in args.celery_args if a != "--"]
    print(f"gitbeat: worker for revision {revision if revision is not None else '(files, none applied)'}, queues {queues}",
          flush=True)
    app.worker_main(["worker", "--loglevel", args.loglevel, "--queues", queues, *extra])
    return OK
