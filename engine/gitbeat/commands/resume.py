"""End a pause (audited); the schedule goes on from now: due times missed while paused do not run."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import gitinfo
from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the schedule")
    parser.add_argument("--note", default=None, help="why: recorded in the audit")


def run(args: argparse.Namespace) -> int:
    from ..operate import resume

    if resume(open_store(args), args.name, gitinfo.author(Path(args.config)), args.note):
        print(f"{args.name}: resumed")
    else:
        print(f"{args.name}: was not paused")
    return OK
