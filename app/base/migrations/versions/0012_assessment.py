"""the monthly efficiency assessment (月度效能测评): months, scores, manual adjustments

A month is a draft until locked, then never changes (late data is carried into the next
open month); manual adjustments are append-only like every audit trail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from app.base.migrations.append_only import append_only

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assessment_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("rules_version", sa.Text(), nullable=False),
        sa.Column("rules_text", sa.Text(), nullable=False),
        sa.Column("computed_at", AT, nullable=False),
        sa.Column("locked_by", sa.Text(), nullable=True),
        sa.Column("locked_at", AT, nullable=True),
        sa.Column("published_by", sa.Text(), nullable=True),
        sa.Column("published_at", AT, nullable=True),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_table(
        "assessment_scores",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("center_id", sa.Text(), nullable=False),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("deductions", sa.Float(), nullable=False),
        sa.Column("late", sa.Float(), nullable=False),
        sa.Column("adjustments", sa.Float(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("late_from", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("month", "unit"),
    )
    op.create_index("assessment_scores_center", "assessment_scores", ["month", "center_id"])
    op.create_table(
        "assessment_adjustments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("assessment_adjustments_month", "assessment_adjustments", ["month"])
    append_only("assessment_adjustments")


def downgrade() -> None:
    for table in ("assessment_adjustments", "assessment_scores", "assessment_months"):
        op.drop_table(table)
