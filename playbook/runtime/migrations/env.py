"""Alembic's environment: migrations run on the connection `Store.migrate()` hands over,
or (developers, `python -m playbook.runtime.migrations`) on one made from the URL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context

from playbook.runtime.codec import UTCDateTime, Value
from playbook.runtime.schema import metadata

config = context.config


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes our column types as what the database holds, so that old
    migrations never depend on today's Python types."""
    if kind == "type" and isinstance(obj, Value):
        return "sa.JSON(none_as_null=True)"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        run(conn)
