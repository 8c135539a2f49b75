"""Print a saved plan (`plan --out FILE`) as text, Markdown or JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import planview
from . import OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", type=Path, metavar="FILE", help="a plan saved with `gitbeat plan --out FILE`")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from ..savedplan import load

    saved = load(args.plan)
    render = {"text": planview.text, "markdown": planview.markdown, "json": planview.as_json}[args.format]
    sys.stdout.write(render(saved.plan, saved.against))
    return OK
