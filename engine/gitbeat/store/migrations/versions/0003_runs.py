"""The run ledger: one row per run of a schedule, written by beat when it claims it and by the worker around it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from gitbeat.store.migrations.portable import DOUBLE, MOMENT, create_index, create_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "gitbeat_runs",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("due_at", MOMENT, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("revision_id", sa.Integer),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("claimed_at", MOMENT, nullable=False),
        sa.Column("sent_at", MOMENT),
        sa.Column("started_at", MOMENT),
        sa.Column("finished_at", MOMENT),
        sa.Column("worker", sa.String(300)),
        sa.Column("attempt", sa.String(100)),
        sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("runtime", DOUBLE),
        sa.Column("error_type", sa.String(200)),
        sa.Column("error", sa.String(500)),
        sa.Column("note", sa.String(500)),
    )
    create_index("gitbeat_runs_schedule_due", "gitbeat_runs", ["schedule", "due_at"])
    # The outbox: runs claimed but not yet known to be in the broker.
    create_index(  # MySQL has no partial index: there it covers every row
        "gitbeat_runs_unsent", "gitbeat_runs", ["claimed_at"],
        postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("gitbeat_runs")
