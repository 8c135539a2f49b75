"""Statistics: recount each user's operations and logins."""

from __future__ import annotations

import time

from . import appdb


def sync_user_stats() -> int:
    """Rebuild user_stats from the logs; return the number of users."""
    with appdb.connect() as db:
        db.execute("DELETE FROM user_stats")
        db.execute(
            """
            INSERT INTO user_stats (user_id, operations, logins, at)
            SELECT user_id, SUM(ops), SUM(logins), ? FROM (
                SELECT user_id, 1 AS ops, 0 AS logins FROM operation_log
                UNION ALL SELECT user_id, 0, 1 FROM login_log WHERE success = 1
            ) GROUP BY user_id
            """,
            (time.time(),),
        )
        return db.execute("SELECT COUNT(*) FROM user_stats").fetchone()[0]
