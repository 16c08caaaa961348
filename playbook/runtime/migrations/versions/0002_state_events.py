"""What the engine decided besides touches (enter, exit, tag, goal, group opened/closed,
SLA met/late/missed, schedule firings missed while down), for `report` and `explain`; and
the engine's own bookkeeping (its clock, when it started).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON(none_as_null=True)
UTC = sa.DateTime(timezone=True)
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "state_events",
        sa.Column("seq", ROWID, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("flow", sa.String(), nullable=True),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_state_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_state_events_contact", "state_events", ["contact", "at"])
    op.create_index("ix_state_events_flow", "state_events", ["version", "flow", "type"])
    op.create_table(
        "engine_state",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_engine_state")),
    )


def downgrade() -> None:
    op.drop_table("engine_state")
    op.drop_table("state_events")
