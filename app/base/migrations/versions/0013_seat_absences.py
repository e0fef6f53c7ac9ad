"""空岗 (window unattended): the stretches a window's seat was seen empty, and windows closed for the day

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "seat_absences",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("camera_id", sa.Text(), nullable=False),
        sa.Column("window_id", sa.Text(), nullable=True),
        sa.Column("empty_since", AT, nullable=False),
        sa.Column("empty_until", AT, nullable=True),
        sa.Column("before_still", sa.Text(), nullable=True),
        sa.Column("after_still", sa.Text(), nullable=True),
        sa.Column("judged", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("camera_id", "empty_since", name="seat_absences_identity"),
    )
    op.create_index("seat_absences_judged", "seat_absences", ["judged"])
    op.create_table(
        "window_closures",
        sa.Column("window_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed_by", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", AT, nullable=False),
        sa.PrimaryKeyConstraint("window_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("window_closures")
    op.drop_index("seat_absences_judged", table_name="seat_absences")
    op.drop_table("seat_absences")
