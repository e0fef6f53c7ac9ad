"""transactional outbox of alarm changes

Every alarm change is written to alarm_outbox in the same transaction as the
change itself; the relay (app/base/outbox.py) puts it on the Redis stream
supervise:alarms when Redis is reachable, exactly once, and alarm_outbox_relay
holds the relay's last stream entry id and its lease. The escalation sweep's mark
is forgotten, so that its records become those of the new rule.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("stream_ms", sa.BigInteger(), nullable=True),
        sa.Column("stream_seq", sa.BigInteger(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "alarm_outbox_pending",
        "alarm_outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "alarm_outbox_sent",
        "alarm_outbox",
        ["stream_ms", "stream_seq"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL AND stream_ms IS NOT NULL"),
        sqlite_where=sa.text("published_at IS NULL AND stream_ms IS NOT NULL"),
    )
    op.create_index("alarm_outbox_published", "alarm_outbox", ["published_at"], unique=False)
    op.create_table(
        "alarm_outbox_relay",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.execute("INSERT INTO alarm_outbox_relay (name, last_ms, last_seq) VALUES ('alarms', 0, 0)")
    # Escalation records no longer depend on when the first sweep ran (app/escalation.py): the
    # next sweep looks at every alarm once, as on a new database, closed history included.
    op.execute("DELETE FROM escalation_sweep")


def downgrade() -> None:
    op.drop_table("alarm_outbox_relay")
    op.drop_index("alarm_outbox_published", table_name="alarm_outbox")
    op.drop_index("alarm_outbox_sent", table_name="alarm_outbox")
    op.drop_index("alarm_outbox_pending", table_name="alarm_outbox")
    op.drop_table("alarm_outbox")
