"""The initial schema: playbook versions, contacts and accounts, the event log, the
engine's state (enrolments, timers, limit counters, group instances, flow state), the
touch ledger, shard leases and sequences.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Written out rather than imported from playbook.runtime: a migration must keep meaning
# what it meant when it was written.
JSON = sa.JSON(none_as_null=True)
UTC = sa.DateTime(timezone=True)
ROWID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DUE = sa.text("state IN ('pending', 'failed')")
NEW = sa.text("status = 'new'")


def _version(nullable: bool = False) -> sa.Column:
    return sa.Column("version", sa.String(), nullable=nullable)


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["version"], ["playbook_versions.version"], name=op.f(f"fk_{table}_version_playbook_versions")
    )


def upgrade() -> None:
    op.create_table(
        "playbook_versions",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("activated_at", UTC, nullable=True),
        sa.Column("retired_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_playbook_versions")),
    )
    op.create_index("ix_playbook_versions_name", "playbook_versions", ["name"])

    op.create_table(
        "accounts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index("ix_contacts_account", "contacts", ["account"])

    op.create_table(
        "events",
        sa.Column("seq", ROWID, autoincrement=True, nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("status", sa.String(), server_default="new", nullable=False),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint("source IN ('http', 'file', 'cli', 'adapter', 'simulated')", name=op.f("ck_events_source")),
        sa.CheckConstraint("status IN ('new', 'processed', 'rejected')", name=op.f("ck_events_status")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_new", "events", ["seq"], sqlite_where=NEW, postgresql_where=NEW)
    op.create_index("ix_events_contact", "events", ["contact", "at"])
    op.create_index("ix_events_type", "events", ["type", "at"])

    op.create_table(
        "enrolments",
        _version(),
        sa.Column("journey", sa.String(), nullable=False),
        sa.Column("contact", sa.String(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("entered_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("epoch", sa.Integer(), server_default="0", nullable=False),
        sa.Column("event", JSON, nullable=True),
        sa.Column("arms", JSON, nullable=False),
        sa.Column("wait", sa.String(), nullable=True),
        sa.Column("touch", sa.String(), nullable=True),
        sa.Column("goal_at", sa.BigInteger(), nullable=True),
        sa.Column("segments", JSON, nullable=False),
        sa.CheckConstraint("status IN ('active', 'done', 'exited')", name=op.f("ck_enrolments_status")),
        _version_fk("enrolments"),
        sa.PrimaryKeyConstraint("version", "journey", "contact", "n", name=op.f("pk_enrolments")),
    )
    op.create_index("ix_enrolments_contact", "enrolments", ["contact"])
    op.create_index("ix_enrolments_status", "enrolments", ["version", "journey", "status"])

    op.create_table(
        "timers",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("phase", sa.SmallInteger(), nullable=False),
        sa.Column("order_key", JSON, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _version(nullable=True),
        sa.Column("shard", sa.Integer(), server_default="0", nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        _version_fk("timers"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_timers")),
    )
    op.create_index("ix_timers_due", "timers", ["due"])
    op.create_index("ix_timers_shard", "timers", ["shard", "due"])

    op.create_table(
        "limit_counters",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("rule", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "rule", "scope_id", "period_start", name=op.f("pk_limit_counters")),
    )
    op.create_index("ix_limit_counters_period_end", "limit_counters", ["period_end"])

    op.create_table(
        "touches",
        sa.Column("key", sa.String(), nullable=False),
        _version(),
        sa.Column("flow", sa.String(), nullable=False),
        sa.Column("step", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("group_id", sa.String(), nullable=True),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=True),
        sa.Column("content", sa.String(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parts", JSON, nullable=True),
        sa.Column("audience", JSON, nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("adapter", sa.String(), nullable=True),
        sa.Column("adapter_ref", sa.String(), nullable=True),
        sa.Column("request", JSON, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint("channel IN ('dm', 'group', 'moment', 'task')", name=op.f("ck_touches_channel")),
        sa.CheckConstraint(
            "state IN ('held', 'pending', 'sending', 'sent', 'failed', 'skipped', 'unknown', 'dead')",
            name=op.f("ck_touches_state"),
        ),
        _version_fk("touches"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_touches")),
    )
    op.create_index("ix_touches_due", "touches", ["next_attempt_at"], sqlite_where=DUE, postgresql_where=DUE)
    op.create_index(
        "ix_touches_account_due", "touches", ["account", "next_attempt_at"], sqlite_where=DUE, postgresql_where=DUE
    )
    op.create_index("ix_touches_state", "touches", ["state"])
    op.create_index("ix_touches_flow", "touches", ["version", "flow", "state"])
    op.create_index("ix_touches_contact", "touches", ["contact"])

    op.create_table(
        "group_instances",
        _version(),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("group_name", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("opens", sa.BigInteger(), nullable=False),
        sa.Column("closes", sa.BigInteger(), nullable=False),
        sa.Column("members", JSON, nullable=False),
        sa.Column("closed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dissolved", sa.Boolean(), server_default=sa.false(), nullable=False),
        _version_fk("group_instances"),
        sa.PrimaryKeyConstraint("version", "id", name=op.f("pk_group_instances")),
    )
    op.create_index("ix_group_instances_open", "group_instances", ["version", "group_name", "dissolved"])
    op.create_index("ix_group_instances_account", "group_instances", ["account"])

    op.create_table(
        "flow_state",
        _version(),
        sa.Column("runner", sa.String(), nullable=False),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("value", JSON, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        _version_fk("flow_state"),
        sa.PrimaryKeyConstraint("version", "runner", "item", name=op.f("pk_flow_state")),
    )

    op.create_table(
        "leases",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("acquired_at", UTC, nullable=True),
        sa.Column("expires_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_leases")),
    )

    op.create_table(
        "sequences",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sequences")),
    )


def downgrade() -> None:
    for table in ("sequences", "leases", "flow_state", "group_instances", "touches", "limit_counters", "timers",
                  "enrolments", "events", "contacts", "accounts", "playbook_versions"):  # fmt: skip
        op.drop_table(table)  # dropping a table drops its indexes
