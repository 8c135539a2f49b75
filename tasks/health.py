"""Health: check the app database answers and write a heartbeat file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from . import appdb


def check() -> dict[str, object]:
    with appdb.connect() as db:
        db.execute("SELECT 1").fetchone()
    heartbeat = Path(os.environ.get("EXAMPLE_HEARTBEAT", ".gitbeat/heartbeat.json"))
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    status = {"status": "ok", "at": time.time(), "pid": os.getpid()}
    # Atomically: a reader sees the previous heartbeat or this one, never a half-written file.
    partial = heartbeat.with_name(f".{heartbeat.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(status))
    os.replace(partial, heartbeat)
    return status
