"""Dead letters: `list` what failed for good, `replay` it to its queue, or `purge` it (dead-letter queues only)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import UsageError
from . import OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "replay", "purge"))
    parser.add_argument("queue", help="a queue with dead_letter, or its dead-letter queue")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--traceback", action="store_true", help="list: show each traceback")
    parser.add_argument("--id", action="append", default=[], metavar="TASK_ID", help="replay/purge: only this task id")
    parser.add_argument("--task", default=None, metavar="NAME", help="replay/purge: only tasks of this name")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="replay/purge: at most N messages")
    parser.add_argument("--yes", action="store_true", help="purge without asking")


def run(args: argparse.Namespace) -> int:
    from .. import deadletters
    from ..app import broker_errors
    from ..runtime import configured_app

    _, config, app, _ = configured_app(Path(args.config), args.database)
    queue = deadletters.resolve_queue(args.queue, config)  # before anything touches the broker
    selection = deadletters.Selection(frozenset(args.id), args.task, args.limit)
    with broker_errors(app, f"{args.action} {queue}"):
        return _act(args, app, queue, selection)


def _confirm(queue: str, selection: Any) -> None:
    what = "every message" if selection.everything else "the selected messages"
    if not sys.stdin.isatty():
        raise UsageError(f"purge drops {what} of {queue} for good: add --yes to confirm")
    answer = input(f"Drop {what} of {queue} for good? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("purge cancelled; nothing was dropped")


def _act(args: argparse.Namespace, app: Any, queue: str, selection: Any) -> int:
    from .. import deadletters

    if args.action == "purge":
        if not args.yes:
            _confirm(queue, selection)
        print(f"purged {deadletters.purge(app, queue, selection)} message(s) from {queue}")
    elif args.action == "replay":
        print(f"replayed {deadletters.replay(app, queue, selection)} message(s) from {queue}")
    else:
        letters = deadletters.list_letters(app, queue)
        if args.format == "json":
            print(json.dumps({"version": 1, "queue": queue, "letters": [asdict(x) for x in letters]}, indent=2))
            return OK
        print(f"{queue}: {len(letters)} message(s)")
        for letter in letters:
            print(f"- {letter.id or '-'} {letter.task or '(no task name)'}{tuple(letter.args)!r} "
                  f"kwargs={letter.kwargs!r} from {letter.queue}, "
                  f"{letter.retries} retries: {letter.exception or '(no exception recorded)'}")
            if args.traceback and letter.traceback:
                print("    " + letter.traceback.rstrip().replace("\n", "\n    "))
    return OK
