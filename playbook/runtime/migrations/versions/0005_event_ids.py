"""Event ids taken by the intake (idempotent events): a repeated id is acknowledged, not
stored again, for as long as the id is remembered (`[intake] remember_ids`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_ids",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_ids")),
    )
    op.create_index("ix_event_ids_received_at", "event_ids", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_event_ids_received_at", table_name="event_ids")
    op.drop_table("event_ids")
