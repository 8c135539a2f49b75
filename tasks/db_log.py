"""Audit logging written by the workers, off the request path."""

from __future__ import annotations

import time

from . import appdb


def log_operation(user_id: int, action: str, detail: str = "") -> None:
    with appdb.connect() as db:
        db.execute(
            "INSERT INTO operation_log (user_id, action, detail, at) VALUES (?, ?, ?, ?)",
            (user_id, action, detail, time.time()),
        )


def log_login(user_id: int, success: bool, ip: str = "") -> None:
    with appdb.connect() as db:
        db.execute(
            "INSERT INTO login_log (user_id, success, ip, at) VALUES (?, ?, ?, ?)",
            (user_id, int(success), ip, time.time()),
        )
