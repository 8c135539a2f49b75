"""Email: queue a message in the outbox."""

from __future__ import annotations

import time

from . import appdb


def send(to: str, subject: str, body: str) -> dict[str, object]:
    if "@" not in to:
        raise ValueError(f"not an email address: {to!r}")
    with appdb.connect() as db:
        db.execute(
            "INSERT INTO outbox (channel, recipient, body, at) VALUES ('email', ?, ?, ?)",
            (to, f"{subject}\n\n{body}", time.time()),
        )
    return {"status": "queued", "to": to}
