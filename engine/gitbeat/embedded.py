"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, polled every 0.1 s.

kombu hands every transport option to `create_engine`, so the polling interval is set
on a subclass rather than as an option. `gitbeat.app` registers the alias that makes
`gitbeat-sqlite+sqlite:///…` URLs resolve to it, without importing it until used.
"""

from __future__ import annotations

from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport


class Transport(SQLAlchemyTransport):
    polling_interval = 0.1

