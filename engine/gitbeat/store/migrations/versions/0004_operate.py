"""Operating without a pull request: overrides (a pause that beat honours, apply keeps) and the audit of every action.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from gitbeat.store.migrations.portable import MOMENT, create_index, create_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "gitbeat_overrides",
        sa.Column("schedule", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("until", MOMENT),
        sa.Column("note", sa.String(500), nullable=False),
    )
    create_table(
        "gitbeat_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("schedule", sa.String(200)),
        sa.Column("note", sa.String(500)),
        sa.Column("detail", sa.Text, nullable=False),
    )
    create_index("gitbeat_audit_at", "gitbeat_audit", ["at"])


def downgrade() -> None:
    op.drop_table("gitbeat_audit")
    op.drop_table("gitbeat_overrides")
