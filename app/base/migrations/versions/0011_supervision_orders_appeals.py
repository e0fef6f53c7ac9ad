"""supervision orders (督办单), appeals (申诉), their history and the not_supervised watch

Orders and appeals close the loop an alarm opens: an officer issues an order, the
department answers, the officer accepts or returns it; a department appeals an alarm
and an officer above decides. Every step goes to supervision_history, which the
database keeps append-only like alarm_actions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from app.base.migrations.append_only import append_only

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "supervision_orders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("order_no", sa.Text(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("escalated_to", sa.Text(), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("feedback_due", sa.Date(), nullable=False),
        sa.Column("answered_at", AT, nullable=True),
        sa.Column("issued_by", sa.Text(), nullable=False),
        sa.Column("issued_at", AT, nullable=False),
        sa.Column("accepted_by", sa.Text(), nullable=True),
        sa.Column("accepted_at", AT, nullable=True),
        sa.Column("next_change", AT, nullable=True),
        sa.Column("updated_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_no"),
        sa.UniqueConstraint("year", "sequence", name="supervision_orders_number"),
    )
    op.create_index("supervision_orders_next_change", "supervision_orders", ["next_change"])
    op.create_index("supervision_orders_dept", "supervision_orders", ["dept_id", "state"])
    op.create_index("supervision_orders_center", "supervision_orders", ["center_id", "state"])
    op.create_index("supervision_orders_case", "supervision_orders", ["case_no"])
    op.create_table(
        "order_alarms",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("order_id", "alarm_id"),
    )
    op.create_index("order_alarms_alarm", "order_alarms", ["alarm_id"])
    op.create_table(
        "order_numbers",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "appeals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("at_center", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.Text(), nullable=False),
        sa.Column("filed_at", AT, nullable=False),
        sa.Column("decide_by", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("decided_at", AT, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("updated_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("appeals_alarm", "appeals", ["alarm_id"])
    op.create_index("appeals_dept", "appeals", ["dept_id", "state"])
    op.create_table(
        "supervision_history",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", AT, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("supervision_history_subject", "supervision_history", ["subject", "subject_id"])
    append_only("supervision_history")
    op.create_table(
        "supervision_watch",
        sa.Column("alarm_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("next_change", AT, nullable=True),
        sa.PrimaryKeyConstraint("alarm_id"),
    )
    op.create_index("supervision_watch_next_change", "supervision_watch", ["next_change"])
    op.create_table(
        "supervision_watch_mark",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("updated_mark", AT, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    for table in (
        "supervision_watch_mark",
        "supervision_watch",
        "supervision_history",
        "appeals",
        "order_numbers",
        "order_alarms",
        "supervision_orders",
    ):
        op.drop_table(table)
