"""Alembic migrations of the store; run by `gitbeat db upgrade` and on first use."""
