"""exchange row checks: where the re-reading of exchange rows taken in stands

ingest/row_checks.py re-reads recent exchange rows, newest first, and compares
them with what was taken in, to notice rows that upstream systems changed or
deleted afterwards (the contract says append-only; they do "fix" rows). This
table holds its place in each exchange table; what it finds goes to the
quality log.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_row_checks",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("pass_top", sa.BigInteger(), nullable=False),
        sa.Column("checked_down_to", sa.BigInteger(), nullable=False),
        sa.Column("pass_began", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("last_pass_began", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_pass_ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_pass_rows", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("exchange_row_checks")
