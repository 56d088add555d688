"""outbox

Revision ID: ce0001
Revises:
Create Date: 2026-11-21 19:48:04.423885
"""

from collections.abc import Sequence

from alembic import op

from services.common.migrations import create_outbox_table, drop_outbox_table

revision: str = "ce0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_table(op)


def downgrade() -> None:
    drop_outbox_table(op)
