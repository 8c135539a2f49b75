"""Beat: the due-time cursor of each schedule, and the beat processes with their roles.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from gitbeat.store.migrations.portable import MOMENT, add_column, create_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("gitbeat_schedules", sa.Column("last_due_at", MOMENT))
    create_table(
        "gitbeat_beats",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("heartbeat_at", MOMENT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gitbeat_beats")
    with op.batch_alter_table("gitbeat_schedules") as table:
        table.drop_column("last_due_at")
