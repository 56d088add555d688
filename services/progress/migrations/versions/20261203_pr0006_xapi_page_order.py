"""xAPI pages in (stored, seq) order: the activity side table, no official index

Revision ID: pr0006
Revises: pr0005x_xapi_lrs
Create Date: 2026-12-03 07:30:00

``xapi_statement_activity`` holds one row per activity a statement's ``related_activities``
filter matches, keyed by a 64-bit hash of the IRI and the page order, so a filter on one activity
walks its index and stops at the page's end. ``ix_xapi_statement_official`` answered no query.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "pr0006"
down_revision: str | None = "pr0005x_xapi_lrs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_xapi_statement_official", table_name="xapi_statement")
    op.create_table(
        "xapi_statement_activity",
        sa.Column("activity", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("stored", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("activity", "stored", "seq", name=op.f("pk_xapi_statement_activity")),
    )
    # Statements stored before: the same rows the store writes (see ACTIVITY_ROWS there).
    op.execute(
        """
        INSERT INTO xapi_statement_activity (activity, stored, seq, direct)
        SELECT ('x' || left(md5(substr(k, 11)), 16))::bit(64)::bigint, s.stored, s.seq,
               s.keys @> ARRAY['activity:' || substr(k, 11)]
        FROM xapi_statement s, unnest(s.keys) AS k
        WHERE k LIKE 'ractivity:%'
        ON CONFLICT DO NOTHING
        """
    )


def downgrade() -> None:
    op.drop_table("xapi_statement_activity")
    op.create_index(
        "ix_xapi_statement_official",
        "xapi_statement",
        ["official_id"],
        postgresql_where=sa.text("official_id IS NOT NULL"),
    )
