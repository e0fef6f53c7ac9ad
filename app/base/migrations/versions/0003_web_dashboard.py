"""web dashboard: shared secrets, KPI pre-aggregation (daily and monthly), indexes for the board and KPIs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = "status IN ('received', 'correction', 'accepted', 'paused')"


def upgrade() -> None:
    op.create_table(
        "web_secrets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "kpi_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("center_id", sa.Text(), nullable=False),
        sa.Column("dept_id", sa.Text(), nullable=False),
        sa.Column("window_id", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Text(), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "received",
                "completed",
                "on_time",
                "early",
                "timed",
                "used_days",
                "promised_days",
                "corrected",
                "ended",
                "ratings",
                "rating_sum",
                "satisfied",
            )
        ],
        sa.PrimaryKeyConstraint("day", "center_id", "dept_id", "window_id", "staff_id"),
    )
    with op.batch_alter_table("kpi_daily", schema=None) as batch_op:
        batch_op.create_index("kpi_daily_center_day", ["center_id", "day"], unique=False)
        batch_op.create_index("kpi_daily_dept_day", ["dept_id", "day"], unique=False)
    op.create_table(
        "kpi_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("center_id", sa.Text(), nullable=False),
        sa.Column("dept_id", sa.Text(), nullable=False),
        sa.Column("window_id", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Text(), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "received",
                "completed",
                "on_time",
                "early",
                "timed",
                "used_days",
                "promised_days",
                "corrected",
                "ended",
                "ratings",
                "rating_sum",
                "satisfied",
            )
        ],
        sa.PrimaryKeyConstraint("month", "center_id", "dept_id", "window_id", "staff_id"),
    )
    with op.batch_alter_table("kpi_monthly", schema=None) as batch_op:
        batch_op.create_index("kpi_monthly_center_month", ["center_id", "month"], unique=False)
    op.create_table(
        "kpi_state",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("judged_mark", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating_mark", sa.BigInteger(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index("alarms_updated", ["updated_at"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("cases_judged", ["judged_at"], unique=False)
        batch_op.create_index("cases_received", ["received_at"], unique=False)
        batch_op.create_index("cases_completed", ["completed_at"], unique=False)
        batch_op.create_index(
            "cases_open_due", ["promise_due"], unique=False, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in ("cases_open_due", "cases_completed", "cases_received", "cases_judged"):
            batch_op.drop_index(name)
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("alarms_updated")
    op.drop_table("kpi_state")
    op.drop_table("kpi_monthly")
    op.drop_table("kpi_daily")
    op.drop_table("web_secrets")
