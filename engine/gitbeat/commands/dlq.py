"""Dead letters: `list` what failed for good, `replay` it to its queue, or `purge` it."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from . import OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "replay", "purge"))
    parser.add_argument("queue", help="a queue with dead_letter, or its dead-letter queue")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--traceback", action="store_true", help="list: show each traceback")


def run(args: argparse.Namespace) -> int:
    from .. import deadletters
    from ..app import broker_errors
    from ..runtime import configured_app

    _, config, app, _ = configured_app(Path(args.config), args.database)
    queue = deadletters.resolve_queue(args.queue, config)
    with broker_errors(app, f"{args.action} {queue}"):
        return _act(args, app, queue)


def _act(args: argparse.Namespace, app: object, queue: str) -> int:
    from .. import deadletters

    if args.action == "purge":
        print(f"purged {deadletters.purge(app, queue)} message(s) from {queue}")
    elif args.action == "replay":
        print(f"replayed {deadletters.replay(app, queue)} message(s) from {queue}")
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
