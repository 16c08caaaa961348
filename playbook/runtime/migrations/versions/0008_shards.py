"""Scale-out (issue 18): every row of an engine's state names its shard; the processes.

A shard is everything of the staff accounts that hash to it (`vocab.shards.shard_of`):
their contacts, enrolments, limit counts, group instances, runners' state, held touches,
ledger rows, the events for their contacts and each shard engine's own bookkeeping. One
process runs one engine per shard it holds and loads only those shards' rows.

- `shard` (default 0) on contacts, events, enrolments, limit_counters, touches,
  group_instances, flow_state and engine_state; in the key of `flow_state` (a rotation's
  cycle and an SLA's base, item "", are per engine), `engine_state` (each shard's clock) and
  `timers` (each shard's engine numbers its own timeline items).
  An existing store has every row in shard 0: it is a one-shard store.
- `processes`: the daemon processes of a deployment, each renewing its row while alive;
  the live ones share the shards between them (runtime/lease.py).

The count of shards is recorded in `engine_state` (shard 0, "shards") at the first start
of a daemon; another count is refused then.

Revision ID: 0008
Revises: 0006 (the lead chains it after the reason-codes revision when merging)
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

UTC = sa.DateTime(timezone=True)
DUE = "state IN ('pending', 'failed')"
NEW = "status = 'new'"
PLAIN = ("contacts", "events", "enrolments", "limit_counters", "touches", "group_instances")


def _shard() -> sa.Column:
    return sa.Column("shard", sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    for table in PLAIN:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_shard())
    for table, key in (("flow_state", ["shard", "version", "runner", "item"]), ("engine_state", ["shard", "name"])):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_shard())
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
    with op.batch_alter_table("timers") as batch:  # each shard's engine numbers its own items
        batch.drop_constraint("pk_timers", type_="primary")
        batch.create_primary_key("pk_timers", ["shard", "seq"])
    op.create_index("ix_contacts_shard", "contacts", ["shard", "updated_at"])
    op.create_index("ix_events_shard_new", "events", ["shard", "seq"], sqlite_where=sa.text(NEW),
                    postgresql_where=sa.text(NEW))  # fmt: skip
    op.create_index("ix_enrolments_shard", "enrolments", ["shard"])
    op.create_index("ix_limit_counters_shard", "limit_counters", ["shard"])
    op.create_index("ix_touches_shard_due", "touches", ["shard", "next_attempt_at"], sqlite_where=sa.text(DUE),
                    postgresql_where=sa.text(DUE))  # fmt: skip
    op.create_index("ix_touches_shard_state", "touches", ["shard", "state"])
    op.create_index("ix_group_instances_shard", "group_instances", ["shard"])
    op.create_table(
        "processes",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("renewed_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_processes")),
    )


def downgrade() -> None:
    op.drop_table("processes")
    for name, table in (("ix_group_instances_shard", "group_instances"), ("ix_touches_shard_state", "touches"),
                        ("ix_touches_shard_due", "touches"), ("ix_limit_counters_shard", "limit_counters"),
                        ("ix_enrolments_shard", "enrolments"), ("ix_events_shard_new", "events"),
                        ("ix_contacts_shard", "contacts")):  # fmt: skip
        op.drop_index(name, table_name=table)
    conn = op.get_bind()
    # back to one engine: what other shards' engines kept under the same key is dropped
    conn.execute(sa.text("DELETE FROM engine_state WHERE shard <> 0"))
    conn.execute(sa.text("DELETE FROM flow_state WHERE shard <> 0 AND item = ''"))
    conn.execute(sa.text("DELETE FROM timers WHERE shard <> 0"))
    with op.batch_alter_table("timers") as batch:
        batch.drop_constraint("pk_timers", type_="primary")
        batch.create_primary_key("pk_timers", ["seq"])
    for table, key in (("flow_state", ["version", "runner", "item"]), ("engine_state", ["name"])):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("shard")
    for table in PLAIN:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("shard")
