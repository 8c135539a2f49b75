"""The store: schedules with their run state, and the revisions applied.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from gitbeat.store.migrations.portable import JSON_TEXT, MOMENT, create_table, now

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "gitbeat_revisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("applied_at", MOMENT, nullable=False),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("git_dirty", sa.Boolean),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("config_digest", sa.String(64), nullable=False),
        sa.Column("config", JSON_TEXT, nullable=False),
        sa.Column("summary", JSON_TEXT, nullable=False),
    )
    create_table(
        "gitbeat_schedules",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("spec", JSON_TEXT, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("owner", sa.String(50)),
        sa.Column("origin", sa.String(300)),
        sa.Column("revision_id", sa.Integer),
        sa.Column("anchor_at", MOMENT),
        sa.Column("created_at", MOMENT, nullable=False, server_default=now()),
        sa.Column("updated_at", MOMENT, nullable=False, server_default=now()),
        sa.Column("last_run_at", MOMENT),
        sa.Column("run_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_task_id", sa.String(200)),
        sa.Column("next_due_at", MOMENT),
    )


def downgrade() -> None:
    op.drop_table("gitbeat_schedules")
    op.drop_table("gitbeat_revisions")
