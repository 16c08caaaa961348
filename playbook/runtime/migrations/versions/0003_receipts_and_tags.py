"""Receipts and platform tags in the ledger.

- `touches.receipt` / `receipt_at`: what the platform said later about a touch the adapter
  handed over (WeCom: the staff member confirmed the mass-message task, or the customer was
  not a friend any more, or had already received another mass message that day/month).
- channel `tag`: a playbook's own `tag add/remove`, for adapters that keep the platform's
  tags in step (WeCom corp tags), dispatched like any touch — durable, once, retried.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

OLD_CHANNELS = "channel IN ('dm', 'group', 'moment', 'task')"
NEW_CHANNELS = "channel IN ('dm', 'group', 'moment', 'task', 'tag')"


def upgrade() -> None:
    with op.batch_alter_table("touches") as batch:
        batch.add_column(sa.Column("receipt", sa.String(), nullable=True))
        batch.add_column(sa.Column("receipt_at", sa.BigInteger(), nullable=True))
        batch.drop_constraint(op.f("ck_touches_channel"), type_="check")
        batch.create_check_constraint("channel", sa.text(NEW_CHANNELS))
    op.create_index(
        "ix_touches_awaiting_receipt",
        "touches",
        ["adapter", "updated_at"],
        sqlite_where=sa.text("state = 'sent' AND receipt IS NULL AND adapter_ref IS NOT NULL"),
        postgresql_where=sa.text("state = 'sent' AND receipt IS NULL AND adapter_ref IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_touches_awaiting_receipt", table_name="touches")
    with op.batch_alter_table("touches") as batch:
        batch.drop_constraint(op.f("ck_touches_channel"), type_="check")
        batch.create_check_constraint("channel", sa.text(OLD_CHANNELS))
        batch.drop_column("receipt_at")
        batch.drop_column("receipt")
