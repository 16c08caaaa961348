"""Store fixtures: every store test runs on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL: `PLAYBOOK_TEST_PG_URL` (default postgresql+psycopg://postgres@127.0.0.1:5432/test,
then the same as user root). The session gets its own database, each test its own schema
inside it (search_path), and both are dropped afterwards. When no server answers, the
PostgreSQL tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from playbook.runtime.store import Store, normalize_url

PG_ENV = "PLAYBOOK_TEST_PG_URL"
PG_DEFAULTS = ("postgresql+psycopg://postgres@127.0.0.1:5432/test", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _admin_url() -> tuple[sa.URL | None, str]:
    """A URL that answers, or None and why not."""
    candidates = [os.environ[PG_ENV]] if os.environ.get(PG_ENV) else list(PG_DEFAULTS)
    reasons = []
    for candidate in candidates:
        url = sa.make_url(normalize_url(candidate))
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return url, ""
        except Exception as exc:  # any failure to connect means: skip, and say why
            reasons.append(f"{url.render_as_string(hide_password=True)}: {str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    return None, "; ".join(reasons)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[sa.URL]:
    """A fresh database for this test session (dropped at the end)."""
    admin, why = _admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL is not reachable ({why}); set {PG_ENV} to run the PostgreSQL store tests")
    name = f"playbook_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database (no tables yet) of the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'playbook.db'}"
        return
    database: sa.URL = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        base = database.render_as_string(hide_password=False)
        yield f"{base}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.fixture
def open_store(store_url: str) -> Iterator[Callable[..., Store]]:
    """Open more stores (connections) on the test's database; all closed afterwards."""
    opened: list[Store] = []

    def make(**kwargs: object) -> Store:
        store = Store(store_url, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., Store]) -> Store:
    """A migrated, empty store."""
    s = open_store()
    s.migrate()
    return s
