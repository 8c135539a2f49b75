"""Database schema: `gitbeat db upgrade` migrates to the newest version (also done on first use)."""

from __future__ import annotations

import argparse

from . import OK, open_store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("upgrade", "version"))


def run(args: argparse.Namespace) -> int:
    if args.action == "version":
        print(open_store(args, readonly=True).schema_version() or "none")
        return OK
    store = open_store(args)
    from ..store import head

    before = store.upgrade()
    if before == head():
        print(f"schema is up to date ({head()})")
    else:
        print(f"schema upgraded from {before or 'nothing'} to {head()}")
    return OK
