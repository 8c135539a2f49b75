"""Environments: each revision records the environment it applied; a database holds one.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from gitbeat.store.migrations.portable import add_column

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("gitbeat_revisions", sa.Column("environment", sa.String(100)))


def downgrade() -> None:
    with op.batch_alter_table("gitbeat_revisions") as table:
        table.drop_column("environment")
