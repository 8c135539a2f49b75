"""The embedded broker: kombu's SQLAlchemy transport on a SQLite file, polled every 0.1 s.

kombu hands every transport option to `create_engine`, so the polling interval is set
on a subclass rather than as an option; the alias makes `gitbeat-sqlite+sqlite:///…`
URLs resolve to it in every process that imports gitbeat.
"""

from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SQLAlchemyTransport

ALIAS = "gitbeat-sqlite"


class Transport(SQLAlchemyTransport):
    polling_interval = 0.1


TRANSPORT_ALIASES[ALIAS] = "gitbeat.embedded:Transport"
