"""server-side sessions and login throttling

web_sessions: one row per logged-in browser (the cookie's token digest), so logout and a
password, role or scope change end a session at once in every web process.
web_login_failures: failed logins of the last window by name and address, which the
login throttle counts (audit_log keeps every attempt for good).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote_addr", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("web_sessions_user", "web_sessions", ["user_id"])
    op.create_index("web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_table(
        "web_login_failures",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("remote_addr", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("web_login_failures_name", "web_login_failures", ["name", "at"])
    op.create_index("web_login_failures_addr", "web_login_failures", ["remote_addr", "at"])
    op.create_index("web_login_failures_at", "web_login_failures", ["at"])


def downgrade() -> None:
    op.drop_table("web_login_failures")
    op.drop_table("web_sessions")
