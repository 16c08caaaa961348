"""One writer per store: the lease's fencing token and holder; the ledger's manual actions.

- `leases.token`: bumped each time a process takes the lease; every write of deciding,
  dispatching and reconciling checks it in its own transaction, so a process that lost the
  lease (paused past its expiry, then resumed) cannot write. `host`, `pid`, `renewed_at`:
  who holds it, for the message a second `playbook run` prints. The store-wide lease is
  shard 0 (one shard); scale-out adds rows per shard.
- `ledger_actions`: `playbook requeue` and any later hand-made change to the ledger, recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

JSON = sa.JSON(none_as_null=True)
UTC = sa.DateTime(timezone=True)
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(sa.Column("token", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("host", sa.String(), nullable=True))
        batch.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("renewed_at", UTC, nullable=True))
    op.create_table(
        "ledger_actions",
        sa.Column("seq", ROWID, autoincrement=True, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("criteria", JSON, nullable=False),
        sa.Column("keys", JSON, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_actions")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("ledger_actions")
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("renewed_at")
        batch.drop_column("pid")
        batch.drop_column("host")
        batch.drop_column("token")
