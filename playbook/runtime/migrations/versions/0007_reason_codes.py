"""Reasons kept as a code and its arguments, not only as English text (issue 17).

`touches` and `state_events` get `reason_code` (the code, e.g. "quiet_hours", "several")
and `reason_args` (its arguments as JSON; a reason among them, as an exit's `why` or the
parts of several, as `{"code": …, "args": {…}}`) beside the English text they keep as it
is (`touches.reason`, a state event's `data.reason`). Held requests keep their reasons in
their JSON in the same form. Existing rows are left as they are: with no code, their
text is read back through the templates (runtime/codec.py `stored_reason`), so nothing is
rewritten in a store of any size.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("touches", "state_events")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("reason_code", sa.String(), nullable=True))
            batch.add_column(sa.Column("reason_args", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("reason_args")
            batch.drop_column("reason_code")
