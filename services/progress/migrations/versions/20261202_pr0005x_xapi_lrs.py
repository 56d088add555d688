"""xAPI LRS: statement filter keys, documents, activities, attachments

Revision ID: pr0005x_xapi_lrs
Revises: pr0004
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "pr0005x_xapi_lrs"
down_revision: str | None = "pr0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("xapi_statement", "actor_name", new_column_name="official_id", nullable=True)
    op.drop_index("ix_xapi_statement_actor", table_name="xapi_statement")
    op.create_index(
        "ix_xapi_statement_official",
        "xapi_statement",
        ["official_id"],
        postgresql_where=sa.text("official_id IS NOT NULL"),
    )
    op.drop_column("xapi_statement", "object_id")
    op.add_column("xapi_statement", sa.Column("keys", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False))
    # Statements stored before: official account actors on activity objects.
    op.execute(
        """
        UPDATE xapi_statement SET keys = ARRAY[
            'actor:account:' || (statement #>> '{actor,account,homePage}') || '|' || official_id,
            'agent:account:' || (statement #>> '{actor,account,homePage}') || '|' || official_id,
            'ragent:account:' || (statement #>> '{actor,account,homePage}') || '|' || official_id,
            'verb:' || verb_id,
            'activity:' || (statement #>> '{object,id}'),
            'ractivity:' || (statement #>> '{object,id}')]
        """
    )
    op.create_index(
        "ix_xapi_statement_keys",
        "xapi_statement",
        ["keys"],
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.create_table(
        "xapi_document",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("activity_id", sa.Text(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=False),
        sa.Column("registration", sa.String(length=36), nullable=False),
        sa.Column("doc_id", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('state', 'activity_profile', 'agent_profile')", name=op.f("ck_xapi_document_kind")
        ),
        sa.PrimaryKeyConstraint(
            "kind", "activity_id", "agent", "registration", "doc_id", name=op.f("pk_xapi_document")
        ),
    )
    op.create_table(
        "xapi_activity",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_xapi_activity")),
    )
    op.create_table(
        "xapi_attachment",
        sa.Column("sha2", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha2", name=op.f("pk_xapi_attachment")),
    )


def downgrade() -> None:
    op.drop_table("xapi_attachment")
    op.drop_table("xapi_activity")
    op.drop_table("xapi_document")
    op.drop_index("ix_xapi_statement_keys", table_name="xapi_statement")
    op.drop_column("xapi_statement", "keys")
    op.add_column("xapi_statement", sa.Column("object_id", sa.Text(), server_default="", nullable=False))
    op.alter_column("xapi_statement", "object_id", server_default=None)
    op.drop_index("ix_xapi_statement_official", table_name="xapi_statement")
    op.execute("DELETE FROM xapi_statement WHERE official_id IS NULL")
    op.alter_column("xapi_statement", "official_id", new_column_name="actor_name", nullable=False)
    op.create_index("ix_xapi_statement_actor", "xapi_statement", ["actor_name"], unique=False)
