"""escalation recorded: one 'escalated' audit entry per alarm, and the sweep's mark

An alarm left unacknowledged past the control room's limit is written to
alarm_actions by app/escalation.py. A partial unique index lets only one
'escalated' entry per alarm in, whichever of several processes sweeps first;
escalation_sweep remembers how far the sweep has looked.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain CREATE INDEX, never a batch (a batch may copy the table on SQLite and lose its append-only triggers).
    op.create_index(
        "alarm_actions_escalated_once",
        "alarm_actions",
        ["alarm_id"],
        unique=True,
        postgresql_where=sa.text("action = 'escalated'"),
        sqlite_where=sa.text("action = 'escalated'"),
    )
    op.create_table(
        "escalation_sweep",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("fired_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("after_id", sa.BigInteger(), nullable=False),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("escalation_sweep")
    op.drop_index("alarm_actions_escalated_once", table_name="alarm_actions")
