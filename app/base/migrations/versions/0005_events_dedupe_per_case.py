"""events: exact repeats are found within their case (unique case_no, dup_key)

A repeat is always of the same case, so the uniqueness of dup_key is checked
beside case_no. The old index on dup_key alone took its keys in random order:
at a year of events every insert landed on a random page of an index larger
than the server's buffers. The new index also serves every lookup by case,
so events_case goes. And held events are few (a case without its `received`
yet): only they are indexed, by recorded_at, instead of every event by
(held, recorded_at).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("events_dup_key", type_="unique")
        batch_op.drop_index("events_case")
        batch_op.create_unique_constraint("events_case_dup", ["case_no", "dup_key"])
        batch_op.drop_index("events_held")
        batch_op.create_index(
            "events_held", ["recorded_at"], unique=False, postgresql_where=sa.text("held"), sqlite_where=sa.text("held")
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("events_held")
        batch_op.create_index("events_held", ["held", "recorded_at"], unique=False)
        batch_op.drop_constraint("events_case_dup", type_="unique")
        batch_op.create_index("events_case", ["case_no"], unique=False)
        batch_op.create_unique_constraint("events_dup_key", ["dup_key"])
