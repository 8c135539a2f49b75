"""Serve the HTTP API (/api/v1, OpenAPI at /docs) and the dashboard (/) with uvicorn.

Without GITBEAT_API_TOKENS the server answers anyone who reaches it, so it binds 127.0.0.1
only, and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UsageError
from . import OK

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="default: 0.0.0.0 with tokens, 127.0.0.1 without")
    parser.add_argument("--port", type=int, default=8000)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..api import create_app
    from ..api.auth import parse_tokens
    from ..settings import load_settings

    root = Path(args.config)
    settings = load_settings(root, args.database)
    tokens = parse_tokens(settings.api_tokens, settings.api_tokens_file)
    host = args.host or ("0.0.0.0" if tokens else "127.0.0.1")
    if not tokens and host not in LOOPBACK:
        raise UsageError(f"--host {host}: without GITBEAT_API_TOKENS the server answers anyone, so it binds "
                         "127.0.0.1 only; set tokens to serve other hosts")
    if not tokens:
        print("gitbeat serve: no API token is set (GITBEAT_API_TOKENS): anyone on this machine may read and "
              f"operate; listening on 127.0.0.1:{args.port} only", file=sys.stderr, flush=True)
    else:
        print(f"gitbeat serve: {len(tokens)} token(s); listening on {host}:{args.port}", file=sys.stderr, flush=True)
    uvicorn.run(create_app(root, settings), host=host, port=args.port, log_level="info", access_log=False)
    return OK
