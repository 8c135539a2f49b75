"""The store: the only package that talks SQL (tables, the apply and beat repositories, leadership, migrations)."""

from __future__ import annotations

from .apply import NOTIFY_CHANNEL, Revision, RevisionMeta, Store
from .database import APPLY_LOCK, Database, head
from .tables import OWNER, VERSION_TABLE

__all__ = [
    "APPLY_LOCK", "NOTIFY_CHANNEL", "OWNER", "VERSION_TABLE", "Database", "Revision", "RevisionMeta", "Store", "head",
]
