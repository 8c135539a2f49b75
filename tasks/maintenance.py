"""Maintenance: expire old sessions."""

from __future__ import annotations

import time

from . import appdb


def cleanup_sessions() -> int:
    """Delete sessions past their expiry; return how many went."""
    with appdb.connect() as db:
        return db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),)).rowcount
