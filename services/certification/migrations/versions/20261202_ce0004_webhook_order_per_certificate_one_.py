"""webhook order per certificate, one subscription per url, feed writer lock

Revision ID: ce0004
Revises: ce0003
Create Date: 2026-12-02 16:06:59.155373
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ce0004"
down_revision: str | None = "ce0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The feed writer lock (store/feed.py): the statement that takes pg_advisory_xact_lock_shared(4242, 1)
# also sets the transaction-local setting lms.feed_writer, which this trigger checks (reading pg_locks
# here would take every lock-manager partition lock on each insert).
FEED_LOCK_CHECK = """
CREATE FUNCTION change_requires_feed_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('lms.feed_writer', true), '') <> 'on' THEN
        RAISE EXCEPTION 'change rows are written by transactions holding the feed writer lock'
            USING HINT = 'First in the transaction: SELECT set_config(''lms.feed_writer'', ''on'', true),'
                ' pg_advisory_xact_lock_shared(4242, 1)';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    # Deliveries carry the change they send (certificate and feed seq), taken from their payload.
    op.add_column("webhook_delivery", sa.Column("certificate_id", sa.Uuid(), nullable=True))
    op.add_column("webhook_delivery", sa.Column("change_seq", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE webhook_delivery SET certificate_id = CAST(payload->'data'->>'id' AS uuid),"
        " change_seq = CAST(payload->'data'->>'change_seq' AS bigint)"
    )
    op.alter_column("webhook_delivery", "certificate_id", nullable=False)
    op.alter_column("webhook_delivery", "change_seq", nullable=False)
    op.create_index(
        "ix_webhook_delivery_undelivered_order",
        "webhook_delivery",
        ["subscription_id", "certificate_id", "change_seq"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    # One subscription per (owner, url): keep the oldest of any duplicates.
    op.execute(
        "DELETE FROM webhook_subscription s USING webhook_subscription o"
        " WHERE s.owner = o.owner AND s.url = o.url AND (o.created_at, o.id) < (s.created_at, s.id)"
    )
    op.create_unique_constraint(op.f("uq_webhook_subscription_owner_url"), "webhook_subscription", ["owner", "url"])
    op.execute(FEED_LOCK_CHECK)
    op.execute(
        "CREATE TRIGGER change_feed_lock BEFORE INSERT ON change"
        " FOR EACH STATEMENT EXECUTE FUNCTION change_requires_feed_lock()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER change_feed_lock ON change")
    op.execute("DROP FUNCTION change_requires_feed_lock()")
    op.drop_constraint(op.f("uq_webhook_subscription_owner_url"), "webhook_subscription", type_="unique")
    op.drop_index(
        "ix_webhook_delivery_undelivered_order",
        table_name="webhook_delivery",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.drop_column("webhook_delivery", "change_seq")
    op.drop_column("webhook_delivery", "certificate_id")
