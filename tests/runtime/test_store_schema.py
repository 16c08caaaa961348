"""Migrations: from an empty database to head, and the result is exactly schema.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from playbook.runtime import schema
from playbook.runtime.migrations import alembic_config
from playbook.runtime.store import Store, StoreError, normalize_url, sqlite_path
from playbook.vocab.shards import shard_of


def _differences(store: Store, metadata: sa.MetaData) -> list:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, metadata)


def test_migrate_from_empty_equals_the_table_definitions(open_store: Callable[..., Store]) -> None:
    store = open_store()
    assert store.revision() is None
    with pytest.raises(StoreError, match="no tables yet"):
        store.check_schema()
    store.migrate()
    assert store.revision() == store.head() == "0009"
    store.check_schema()
    assert _differences(store, schema.metadata) == []
    names = set(sa.inspect(store.engine).get_table_names())
    assert {t.name for t in schema.metadata.sorted_tables} <= names


def test_the_comparison_would_notice_a_difference(store: Store) -> None:
    """The equality above is not vacuous: a column or index the migrations lack is reported."""
    changed = sa.MetaData(naming_convention=schema.NAMING)
    for table in schema.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["contacts"].append_column(sa.Column("extra", sa.Integer))
    sa.Index("ix_touches_extra", changed.tables["touches"].c.flow)
    kinds = {d[0] if isinstance(d, tuple) else d[0][0] for d in _differences(store, changed)}
    assert {"add_column", "add_index"} <= kinds


def test_migrate_is_idempotent_and_reversible(store: Store) -> None:
    store.migrate()  # already at head: nothing happens
    assert store.revision() == store.head()
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert set(sa.inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.migrate()
    assert _differences(store, schema.metadata) == []


def test_sqlite_connection_settings(tmp_path) -> None:
    store = Store(str(tmp_path / "x.db"))
    try:
        store.migrate()
        with store.engine.connect() as conn:
            pragmas = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
                       ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}  # fmt: skip
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 2, "busy_timeout": 30000}
        with pytest.raises(sa.exc.IntegrityError):  # foreign keys are enforced
            with store.engine.begin() as conn:
                conn.execute(sa.insert(schema.flow_state).values(
                    version="pb-nope", runner="r", item="", value=1, updated_at=store.now()))  # fmt: skip
    finally:
        store.close()


def test_urls() -> None:
    assert normalize_url("playbook.db") == "sqlite:///playbook.db"
    assert normalize_url("/var/x.db") == "sqlite:////var/x.db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert str(sqlite_path("data/p.db")) == "data/p.db"
    assert sqlite_path("postgresql://u@h/db") is None
    with pytest.raises(StoreError, match="unsupported database"):
        Store("mysql://u@h/db")


def test_unreachable_database_is_a_store_error(tmp_path) -> None:
    store = Store(str(tmp_path / "no" / "such" / "dir" / "x.db"))
    with pytest.raises(StoreError, match="unable to open database file"):
        store.migrate()


def test_shards_are_stable_and_spread() -> None:
    assert shard_of("a1", 1) == 0 and shard_of(None, 8) == 0
    assert shard_of("a1", 16) == shard_of("a1", 16)
    assert len({shard_of(f"acct{i}", 8) for i in range(200)}) == 8
