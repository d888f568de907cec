"""Capability status: append-only event store (rows can never be updated or
deleted: triggers refuse it on both backends), the latest-status projection,
and a card revision on microgrids.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "events are append-only: UPDATE and DELETE are refused"


def upgrade() -> None:
    with op.batch_alter_table("microgrids") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "event_streams",
        sa.Column("stream_id", sa.Uuid(), nullable=False),
        sa.Column("last_sequence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream_id", name=op.f("pk_event_streams")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("stream_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("stream_id", "sequence", name=op.f("uq_events_stream_id_sequence")),
        sa.UniqueConstraint(
            "stream_id", "idempotency_key", name=op.f("uq_events_stream_id_idempotency_key")
        ),
    )
    op.create_index(
        "ix_events_stream_subject_sequence", "events", ["stream_id", "subject", "sequence"]
    )
    op.create_table(
        "capability_latest",
        sa.Column("microgrid_id", sa.Uuid(), nullable=False),
        sa.Column("capability", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Boolean(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_event_ref", sa.String(length=200), nullable=False),
        sa.Column("source_device_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("microgrid_id", "capability", name=op.f("pk_capability_latest")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'restrict_violation';
            END $$""")
        op.execute("""
            CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION events_append_only()""")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events
                BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
    op.drop_table("capability_latest")
    op.drop_index("ix_events_stream_subject_sequence", table_name="events")
    op.drop_table("events")
    op.drop_table("event_streams")
    with op.batch_alter_table("microgrids") as batch:
        batch.drop_column("revision")
