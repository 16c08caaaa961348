"""One database — a SQLite file by default, PostgreSQL by URL — and its transactions:
what every part of the store (event log, journal, ledger, leases, contacts, versions)
writes and reads through.

Every `write()` and `read()` is one transaction. Write transactions on SQLite start with
BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout instead of failing with
"database is locked" when a read lock cannot be upgraded. A write under a fence (see
`fencing.py`) checks the lease first, in the same transaction. The schema is Alembic's
(scripts in playbook/runtime/migrations), tables are in schema.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

from playbook.extras import missing_extra
from playbook.runtime import schema as s
from playbook.runtime.codec import dumps
from playbook.runtime.storage.fencing import Fence, check_fence

DEFAULT_DB = "playbook.db"
DB_ENV = "PLAYBOOK_DB"
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another to finish
BATCH = 2000  # rows per statement batch (SQLite allows 32766 parameters a statement)
_ADVISORY = {"events": 0x706C6201, "migrate": 0x706C6202}  # PostgreSQL advisory lock ids


class StoreError(Exception):
    """The store cannot be used (cannot be opened, unreachable, schema from a newer version)."""


def default_url() -> str:
    """`PLAYBOOK_DB` if set, else playbook.db in the current directory."""
    return os.environ.get(DB_ENV) or DEFAULT_DB


def normalize_url(url: str) -> str:
    """A database URL from what users type: a file path means SQLite; a plain
    postgresql:// URL means psycopg 3 (SQLAlchemy would otherwise pick psycopg2)."""
    if "://" not in url:
        return "sqlite:///" + url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases or memory)."""
    parsed = sa.make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size` (one statement each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def key_text(value: Any) -> str:
    """An id as stored in a key column. PostgreSQL text cannot hold NUL (SQLite can): both
    backends refuse it, so a store behaves the same wherever it lives."""
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"an id cannot contain a NUL character: {text!r}")
    return text


class Database:
    def __init__(self, url: str | None = None, *, busy_timeout: float = BUSY_TIMEOUT,
                 now: Callable[[], dt.datetime] = utcnow, echo: bool = False,
                 idle_in_transaction: float | None = None, read_only: bool = False) -> None:  # fmt: skip
        self.url = normalize_url(url or default_url())
        self.now = now  # bookkeeping clock (created_at, received_at, leases); tests pass their own
        try:
            parsed = sa.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"not a database URL: {url}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database '{self.dialect}': use sqlite:///FILE or postgresql+psycopg://…")
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": dumps}
        if self.dialect == "sqlite":
            memory = parsed.database in (None, "", ":memory:")
            if read_only and not memory:
                # a store on a read-only disk: opened as an immutable file (no lock, no WAL
                # index to create), for `status` and the other readers while it cannot be written
                path = Path(parsed.database).resolve().as_posix()
                parsed = parsed.set(database=f"file:{path}?mode=ro&immutable=1", query={"uri": "true"})
            # timeout is sqlite3's busy timeout; connections may move between threads in the pool
            kwargs["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
            if memory:
                kwargs["poolclass"] = sa.pool.StaticPool  # one database, shared
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = sa.create_engine(parsed, **kwargs)
        except ImportError as exc:  # the database's driver is an optional extra: say which to install
            hint = missing_extra(exc)
            if hint is None:
                raise
            raise StoreError(hint) from exc
        if self.dialect == "sqlite":
            self._sqlite_setup(busy_timeout, memory or read_only)
        elif idle_in_transaction:
            self._limit_idle_in_transaction(idle_in_transaction)
        # Set by the daemon once it holds the writer's lease: from then on every write of
        # this store checks the lease first, in the same transaction (see `write`).
        self.fence: Fence | None = None
        # A shard's view (`view`): reads see that shard's rows only and writes of engine
        # state are filed under it. None: the whole store (writes of engine state: shard 0).
        self.shard: int | None = None
        self.shard_count: int | None = None  # the store's count of shards once read (storage/routing.py)

    def view(self, shard: int) -> Database:
        """This database seen as one shard (same connections): reads filtered to the shard's
        rows, engine state written under it, writes fenced by its own lease (`fence`)."""
        view = copy.copy(self)
        view.shard, view.fence = shard, None
        return view

    @property
    def own_shard(self) -> int:
        """The shard engine state is written under."""
        return 0 if self.shard is None else self.shard

    def in_shard(self, column: sa.Column) -> Any:
        """The condition "this row is in our shard" (always true for the whole store)."""
        return sa.true() if self.shard is None else column == self.shard

    # ---- connections and transactions ---------------------------------------------------------
    def _sqlite_setup(self, busy_timeout: float, memory: bool) -> None:
        @sa_event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")  # a committed ledger row survives power loss
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.close()

        @sa_event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front: waiting for it honours the busy
            # timeout, whereas upgrading a read transaction later fails at once when
            # another writer got in between.
            write = conn.get_execution_options().get("playbook_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def _limit_idle_in_transaction(self, seconds: float) -> None:
        # A process stopped inside a transaction (SIGSTOP, a frozen VM) would hold its row
        # locks — the lease row too — for as long as it is stopped: PostgreSQL ends such a
        # session after this long, so the next holder is not kept waiting.
        milliseconds = max(1, int(seconds * 1000))

        @sa_event.listens_for(self.engine, "connect")
        def _limit_idle(dbapi_conn: Any, record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
            dbapi_conn.commit()

    @contextmanager
    def write(self, lock: str | None = None, *, fenced: bool = True) -> Iterator[Connection]:
        """One write transaction; `lock` names a PostgreSQL advisory lock taken first
        (appends to the event log, migrations); `fenced`: check our lease first."""
        with self._unusable_as_store_error(), self.engine.connect() as conn:
            conn.execution_options(playbook_write=True)
            with conn.begin():
                if lock is not None and self.dialect == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY[lock])))
                if fenced and self.fence is not None:
                    check_fence(conn, self.fence, self.dialect)
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (on PostgreSQL one snapshot across its statements)."""
        with self._unusable_as_store_error(), self.engine.connect() as conn:
            if self.dialect == "postgresql":  # one snapshot across the statements
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def _unusable_as_store_error(self) -> Iterator[None]:
        """A database that cannot be used (unreachable, locked past the busy timeout, its
        connection lost) raises a StoreError that says where and why; other errors pass."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StoreError(self._describe(exc)) from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreError(self._describe(exc)) from exc
            raise

    def _describe(self, exc: sa.exc.DBAPIError) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if reason == "database is locked":  # say whose lock, and which setting waits for it
            reason += (" (another process held the file's write lock longer than the busy timeout, "
                       "[daemon] busy_timeout)")  # fmt: skip
        return f"{where}: {reason}"

    # ---- statements both dialects spell differently ---------------------------------------------
    def insert(self, table: sa.Table) -> Any:
        """An INSERT with the dialect's ON CONFLICT clauses."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]], *,
               keep: Collection[str] = (), where: Any = None) -> None:  # fmt: skip
        """Insert rows, or update the existing ones (all columns but the key and `keep`).
        Rows repeating a key are collapsed first, last one wins (PostgreSQL refuses a
        statement that updates one row twice)."""
        if not rows:
            return
        pk = [c.name for c in table.primary_key]
        unique = list({tuple(r[k] for k in pk): r for r in rows}.values())
        ins = self.insert(table)
        update = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in pk and c.name not in keep}
        stmt = ins.on_conflict_do_update(index_elements=pk, set_=update, where=where)
        for chunk in chunks(unique):
            conn.execute(stmt, list(chunk))

    def count_up(self, conn: Connection, name: str, now: dt.datetime | None = None) -> None:
        """Raise a store-wide count of `engine_state` (shard 0's row `name`: imports, approval
        changes) by one, inside the caller's transaction. A daemon takes what changed when the
        count is not the one it saw, so two writers counting at once must make two counts: on
        PostgreSQL the row is made if missing and locked before it is read (on SQLite the write
        transaction already keeps other writers out)."""
        es = s.engine_state
        now = self.now() if now is None else now
        query = sa.select(es.c.value).where(es.c.shard == 0, es.c.name == name)
        if self.dialect == "postgresql":
            conn.execute(self.insert(es).values(shard=0, name=name, value=0, updated_at=now).on_conflict_do_nothing())
            query = query.with_for_update()
        current = conn.execute(query).scalar_one_or_none()
        self.upsert(conn, es, [{"shard": 0, "name": name, "value": (current or 0) + 1, "updated_at": now}])

    def delete(self, conn: Connection, table: sa.Table, keys: Sequence[Any]) -> None:
        """Delete rows by primary key (a value, or a tuple for a composite key)."""
        if not keys:
            return
        pk = list(table.primary_key)
        if len(pk) == 1:
            for chunk in chunks(list(keys)):
                conn.execute(table.delete().where(pk[0].in_(chunk)))
            return
        stmt = table.delete().where(*(c == sa.bindparam(f"k_{c.name}") for c in pk))
        conn.execute(stmt, [{f"k_{c.name}": v for c, v in zip(pk, key, strict=True)} for key in keys])

    def close(self) -> None:
        self.engine.dispose()

    # ---- schema -----------------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic, scripts in playbook/runtime/migrations)."""
        from alembic import command

        from playbook.runtime.migrations import alembic_config

        with self.write(lock="migrate", fenced=False) as conn:
            command.upgrade(alembic_config(conn), revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None: not created yet)."""
        from alembic.migration import MigrationContext

        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def head() -> str:
        """The newest schema revision this version of playbook knows."""
        from alembic.script import ScriptDirectory

        from playbook.runtime.migrations import alembic_config

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head is not None
        return head

    def check_schema(self) -> None:
        """Refuse a database whose schema is not the one this code knows."""
        current, head = self.revision(), self.head()
        if current is None:
            raise StoreError("the store has no tables yet (run `playbook import` or start the daemon once)")
        if current != head:
            raise StoreError(f"the store's schema is at revision {current}, this playbook knows {head}")
