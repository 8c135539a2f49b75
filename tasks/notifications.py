"""Notifications: an async handler, as the seed guide's send_notification."""

from __future__ import annotations

import asyncio
import time

from . import appdb


async def send(user_id: int, message: str) -> dict[str, object]:
    """Store the notification in the outbox; the sleep stands for the push service's I/O."""
    await asyncio.sleep(0.01)
    with appdb.connect() as db:
        db.execute(
            "INSERT INTO outbox (channel, recipient, body, at) VALUES ('push', ?, ?, ?)",
            (str(user_id), message, time.time()),
        )
    return {"status": "sent", "user_id": user_id}
