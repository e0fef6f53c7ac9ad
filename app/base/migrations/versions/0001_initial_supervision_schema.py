"""initial supervision schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27

alarm_actions is the officers' audit trail: triggers on both backends refuse
any UPDATE or DELETE, so nobody can edit history through the database either.
"""

import sqlalchemy as sa
from alembic import op

from app.base.migrations.append_only import append_only as _append_only

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alarm_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alarm_actions", schema=None) as batch_op:
        batch_op.create_index("alarm_actions_alarm", ["alarm_id"], unique=False)

    op.create_table(
        "alarms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("window_id", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Text(), nullable=True),
        sa.Column("camera_id", sa.Text(), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("urged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "case_no", "subject", name="alarms_identity"),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index("alarms_case", ["case_no"], unique=False)
        batch_op.create_index("alarms_center", ["center_id", "state"], unique=False)
        batch_op.create_index("alarms_state", ["state", "fired_at"], unique=False)

    op.create_table(
        "cases",
        sa.Column("case_no", sa.Text(), nullable=False),
        sa.Column("item_code", sa.Text(), nullable=False),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("window_id", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Text(), nullable=True),
        sa.Column("applicant_phone", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("deemed_accepted", sa.Boolean(), nullable=False),
        sa.Column("promise_due", sa.Date(), nullable=True),
        sa.Column("statutory_due", sa.Date(), nullable=True),
        sa.Column("paused_days", sa.Integer(), nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("early", sa.Boolean(), nullable=True),
        sa.Column("used_days", sa.Integer(), nullable=True),
        sa.Column("promised_days", sa.Integer(), nullable=True),
        sa.Column("corrections", sa.Integer(), nullable=False),
        sa.Column("next_change", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clocks", sa.JSON(), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("cases_center", ["center_id", "received_at"], unique=False)
        batch_op.create_index("cases_dept", ["dept_id"], unique=False)
        batch_op.create_index("cases_next_change", ["next_change"], unique=False)
        batch_op.create_index("cases_phone", ["applicant_phone"], unique=False)

    op.create_table(
        "events",
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("case_no", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_system", sa.Text(), nullable=True),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("window_id", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Text(), nullable=True),
        sa.Column("item_code", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dup_key", sa.Text(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        sa.UniqueConstraint("dup_key", name="events_dup_key"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("events_case", ["case_no"], unique=False)
        batch_op.create_index("events_held", ["held", "recorded_at"], unique=False)

    op.create_table(
        "ingest_cursor",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("seen_above", sa.JSON(), nullable=False),
        sa.Column("gaps", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "quality_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("row", sa.JSON(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", "reason", name="quality_once"),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("case_no", sa.Text(), nullable=True),
        sa.Column("center_id", sa.Text(), nullable=True),
        sa.Column("dept_id", sa.Text(), nullable=True),
        sa.Column("window_id", sa.Text(), nullable=True),
        sa.Column("staff_id", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_by", sa.Text(), nullable=True),
        sa.Column("follow_up_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "source_id", name="ratings_source"),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ratings_window", ["window_id", "rated_at"], unique=False)

    _append_only("alarm_actions")


def downgrade() -> None:

    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ratings_window")

    op.drop_table("ratings")
    op.drop_table("quality_log")
    op.drop_table("ingest_cursor")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("events_held")
        batch_op.drop_index("events_case")

    op.drop_table("events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("cases_phone")
        batch_op.drop_index("cases_next_change")
        batch_op.drop_index("cases_dept")
        batch_op.drop_index("cases_center")

    op.drop_table("cases")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("alarms_state")
        batch_op.drop_index("alarms_center")
        batch_op.drop_index("alarms_case")

    op.drop_table("alarms")
    with op.batch_alter_table("alarm_actions", schema=None) as batch_op:
        batch_op.drop_index("alarm_actions_alarm")

    op.drop_table("alarm_actions")
