"""Limit counters belong to the playbook, not to one version of it; approvals (issue 12).

`limit_counters.scope` was a playbook version and `rule` the rule's position in it, so an
edit (a new version) started every limit from zero. Now `scope` is the playbook
(`playbook_versions.name`, shared by all its versions) and `rule` what the rule counts
("dm per contact per day", `LimitRule.key`): an edited limit goes on with the counts of
its period. Existing rows are converted; rows of two versions of one playbook for the
same rule, contact and period are added up (both versions sent them). An adapter's
quotas ("platform") are all dm per contact; their period is read from the row's span.

`approvals`: the launch gate's requests and decisions, one row per version
(runtime/approvals.py): pending, approved, rejected, or replaced by a newer version
before a decision; who decided, when, with what note.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

DAY = 86400


def _table(rule_type: Any) -> list[Any]:
    return [
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("rule", rule_type, nullable=False),
        sa.Column("scope_id", sa.String(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("period_end", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "rule", "scope_id", "period_start", name=op.f("pk_limit_counters")),
    ]


def _period_of(start: int, end: int) -> str:
    span = end - start
    return "day" if span <= DAY + 3600 else "week" if span <= 7 * DAY + 3600 else "month"


def _document(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value or {})


def upgrade() -> None:
    conn = op.get_bind()
    versions = {}
    for version, name, document in conn.execute(sa.text("SELECT version, name, document FROM playbook_versions")):
        versions[version] = (name, _document(document).get("limits") or [])
    merged: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    rows = conn.execute(sa.text("SELECT scope, rule, scope_id, period_start, period_end, count FROM limit_counters"))
    for scope, rule, scope_id, start, end, count in rows:
        if scope == "platform":
            key = f"dm per contact per {_period_of(start, end)}"
        elif scope in versions and 0 <= rule < len(versions[scope][1]):
            name, limits = versions[scope]
            limit = limits[rule]
            scope, key = name, f"{limit['channel']} per {limit['scope']} per {limit['period']}"
        else:
            continue  # a version the store no longer knows: nothing can count with it
        found = merged.setdefault((scope, key, scope_id, start), {"scope": scope, "rule": key, "scope_id": scope_id,
                                                                 "period_start": start, "period_end": end,
                                                                 "count": 0})  # fmt: skip
        found["count"] += count
    op.drop_index("ix_limit_counters_period_end", table_name="limit_counters")
    op.drop_table("limit_counters")
    table = op.create_table("limit_counters", *_table(sa.String()))
    op.create_index("ix_limit_counters_period_end", "limit_counters", ["period_end"])
    if merged:
        op.bulk_insert(table, list(merged.values()))
    op.create_table(
        "approvals",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("summary", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'approved', 'rejected', 'replaced')", name=op.f("ck_approvals_state")),
        sa.ForeignKeyConstraint(
            ["version"], ["playbook_versions.version"], name=op.f("fk_approvals_version_playbook_versions")
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_approvals")),
    )


def downgrade() -> None:
    op.drop_table("approvals")
    # Counts per playbook cannot be split back into versions: the counters start afresh.
    op.drop_index("ix_limit_counters_period_end", table_name="limit_counters")
    op.drop_table("limit_counters")
    op.create_table("limit_counters", *_table(sa.Integer()))
    op.create_index("ix_limit_counters_period_end", "limit_counters", ["period_end"])
