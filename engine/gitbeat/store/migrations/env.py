"""Alembic environment: migrate on the connection gitbeat hands over."""

from alembic import context

from gitbeat.store import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
