"""completion SMS outbox and inbox; due-instant index of rating alarms

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_change", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ratings_next_change", ["next_change"], unique=False)
        batch_op.create_index("ratings_center_rated", ["center_id", "rated_at"], unique=False)
        batch_op.create_index("ratings_rated", ["rated_at"], unique=False)
        batch_op.create_index("ratings_case", ["case_no"], unique=False)
    op.create_table(
        "sms_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway", sa.Text(), nullable=True),
        sa.Column("gateway_ref", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_no", "purpose", name="sms_outbox_once"),
    )
    with op.batch_alter_table("sms_outbox", schema=None) as batch_op:
        batch_op.create_index("sms_outbox_due", ["state", "not_before"], unique=False)
        batch_op.create_index("sms_outbox_phone", ["phone", "sent_at"], unique=False)
    op.create_table(
        "sms_inbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("outbox_id", sa.BigInteger(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("rating_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", name="sms_inbox_message"),
    )
    with op.batch_alter_table("sms_inbox", schema=None) as batch_op:
        batch_op.create_index("sms_inbox_case", ["case_no"], unique=False)
        batch_op.create_index("sms_inbox_received", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("sms_inbox")
    op.drop_table("sms_outbox")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        for name in ("ratings_case", "ratings_rated", "ratings_center_rated", "ratings_next_change"):
            batch_op.drop_index(name)
        batch_op.drop_column("next_change")
