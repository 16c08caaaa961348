"""SLA escalations decided in the supervisor's shard (scale-out): `forwards`.

A touch one shard's engine decides for an account another shard owns — an SLA's escalation
task for a supervisor — is written to `forwards` in the deciding shard's commit, fenced by
its token like the rest of its journal; the receiving shard's engine reads its rows at each
step, requests them with its own limits, quiet hours and order, and deletes them in the
commit of that step (storage/forwards.py). A store without shards never writes one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "forwards",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("sender", sa.Integer(), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("request", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["version"], ["playbook_versions.version"], name=op.f("fk_forwards_version_playbook_versions")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_forwards")),
    )
    op.create_index("ix_forwards_shard", "forwards", ["shard", "due"])


def downgrade() -> None:
    op.drop_index("ix_forwards_shard", table_name="forwards")
    op.drop_table("forwards")
