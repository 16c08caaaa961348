"""The daemon's durable state: a SQLite file by default, PostgreSQL by URL.

    store = Store("sqlite:///playbook.db")        # or "postgresql+psycopg://user@host/db"
    store.migrate()                                # create / upgrade the schema (Alembic)
    store.import_records("contacts", records)      # idempotent: inserted / updated / unchanged
    seqs = store.append_events(events, "http")     # the event log, in arrival order
    store.write(journal)                           # engine state changes, one transaction
    state = store.load_state()                     # … and back after a restart
    rows = store.claim_due(now, owner="p1")        # the ledger: pending → sending, compare-and-set

Every method is one transaction. Write transactions on SQLite start with BEGIN IMMEDIATE,
so concurrent writers queue on the busy timeout instead of failing with "database is
locked" when a read lock cannot be upgraded; on PostgreSQL the ledger's compare-and-set
(`UPDATE … WHERE state IN (…) RETURNING`) makes two claimers of one touch end with one
winner. Tables are in schema.py; how values and times are stored is in codec.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine

from playbook.extras import missing_extra
from playbook.runtime import schema as s
from playbook.runtime.approvals import ApprovalRow
from playbook.runtime.codec import dumps, encode
from playbook.runtime.rows import (
    CounterRow,
    EnrolmentRow,
    GroupRow,
    Journal,
    Settlement,
    State,
    StoreStatus,
    TimerRow,
    TouchRow,
    UpsertCounts,
    VersionRow,
)
from playbook.vocab.model import Event, StateEvent

DEFAULT_DB = "playbook.db"
DB_ENV = "PLAYBOOK_DB"
BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another to finish
BATCH = 2000  # rows per statement batch (SQLite allows 32766 parameters a statement)
SETTLED_STATES = ("sent", "failed", "dead", "unknown", "pending")
_ADVISORY = {"events": 0x706C6201, "migrate": 0x706C6202}  # PostgreSQL advisory lock ids


@dataclasses.dataclass
class Logged:
    """What `Store.log_events` did with each event."""

    seqs: list[int | None]  # per event: its seq (a repeat: the first one's); None: not stored (a conflict)
    repeated: list[int] = dataclasses.field(default_factory=list)  # indices: id already taken by the same event
    conflicts: list[int] = dataclasses.field(default_factory=list)  # indices: id taken by a different event

    @property
    def stored(self) -> int:
        """How many events were stored now."""
        return sum(seq is not None for seq in self.seqs) - len(self.repeated)


def event_digest(event: Event) -> str:
    """What makes two events with one id the same event: type, contact, instant and data
    (the id aside), as the store encodes them."""
    data = {k: v for k, v in event.data.items() if k != "id"}
    doc = json.dumps([event.type, event.contact, event.at, encode(data)], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


class StoreError(Exception):
    """The store cannot be used (cannot be opened, unreachable, schema from a newer version)."""


STORE_SHARD = 0  # the store-wide writer's lease: shard 0 of one shard (scale-out adds shards)


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lease: the process's owner id, host and pid, since when, until when."""

    shard: int
    owner: str
    host: str | None
    pid: int | None
    since: dt.datetime | None
    expires_at: dt.datetime | None
    token: int


@dataclasses.dataclass(frozen=True)
class Fence:
    """The lease a store's writes are made under: each write checks, in its own transaction,
    that `owner` still holds `shard` with this `token` (see `Store.fence`)."""

    shard: int
    owner: str
    token: int


class LeaseLost(Exception):
    """A write under a fence found the lease taken by another process: nothing was written."""

    def __init__(self, fence: Fence, holder: Holder | None) -> None:
        who = f"{holder.owner} on {holder.host} (pid {holder.pid})" if holder is not None else "nobody"
        super().__init__(f"the store's lease (shard {fence.shard}, token {fence.token}) is now held by {who}")
        self.fence = fence
        self.holder = holder


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


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_PLAIN = sa.JSON(none_as_null=True)  # a Value column read or written as its stored JSON


def _unwrap(fields: dict[str, Any]) -> dict[str, Any]:
    """Stored fields (encoded) as a dict of encoded values (see codec's "$dict")."""
    return fields["$dict"] if len(fields) == 1 and "$dict" in fields else fields


def _wrap(fields: dict[str, Any]) -> dict[str, Any]:
    return {"$dict": fields} if len(fields) == 1 and next(iter(fields)).startswith("$") else fields


class Store:
    def __init__(self, url: str | None = None, *, busy_timeout: float = BUSY_TIMEOUT,
                 now: Callable[[], dt.datetime] = _utcnow, echo: bool = False,
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
            # A process stopped inside a transaction (SIGSTOP, a frozen VM) would hold its row
            # locks — the lease row too — for as long as it is stopped: PostgreSQL ends such a
            # session after this long, so the next holder is not kept waiting.
            milliseconds = max(1, int(idle_in_transaction * 1000))

            @sa_event.listens_for(self.engine, "connect")
            def _limit_idle(dbapi_conn: Any, record: Any) -> None:
                with dbapi_conn.cursor() as cur:
                    cur.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
                dbapi_conn.commit()

        # Set by the daemon once it holds the writer's lease: from then on every write of
        # this store checks the lease first, in the same transaction (see `_write`).
        self.fence: Fence | None = None

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

    @contextmanager
    def _write(self, lock: str | None = None, *, fenced: bool = True) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn.execution_options(playbook_write=True)
                with conn.begin():
                    if lock is not None and self.dialect == "postgresql":
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY[lock])))
                    if fenced and self.fence is not None:
                        self._check_fence(conn, self.fence)
                    yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StoreError(self._describe(exc)) from exc
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreError(self._describe(exc)) from exc
            raise

    def _check_fence(self, conn: Connection, fence: Fence) -> None:
        """The fencing check, first in a write transaction: the lease row must still name
        our owner and token. On SQLite the transaction holds the write lock (BEGIN
        IMMEDIATE) until it commits; on PostgreSQL the row is locked FOR SHARE, so a
        take-over (an UPDATE of that row) waits for this commit — either way no write of a
        process that lost its lease lands after the new holder took it."""
        t = s.leases
        query = sa.select(t).where(t.c.shard == fence.shard)
        if self.dialect == "postgresql":
            query = query.with_for_update(read=True)
        row = conn.execute(query).first()
        if row is None or row.owner != fence.owner or row.token != fence.token:
            raise LeaseLost(fence, _holder(row) if row is not None and row.owner is not None else None)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if self.dialect == "postgresql":  # one snapshot across the statements
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
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

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]], *,
                keep: Collection[str] = (), where: Any = None) -> None:  # fmt: skip
        """Insert rows, or update the existing ones (all columns but the key and `keep`).
        Rows repeating a key are collapsed first, last one wins (PostgreSQL refuses a
        statement that updates one row twice)."""
        if not rows:
            return
        pk = [c.name for c in table.primary_key]
        unique = list({tuple(r[k] for k in pk): r for r in rows}.values())
        ins = self._insert(table)
        update = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in pk and c.name not in keep}
        stmt = ins.on_conflict_do_update(index_elements=pk, set_=update, where=where)
        for chunk in _chunks(unique):
            conn.execute(stmt, list(chunk))

    def _delete(self, conn: Connection, table: sa.Table, keys: Sequence[Any]) -> None:
        """Delete rows by primary key (a value, or a tuple for a composite key)."""
        if not keys:
            return
        pk = list(table.primary_key)
        if len(pk) == 1:
            for chunk in _chunks(list(keys)):
                conn.execute(table.delete().where(pk[0].in_(chunk)))
            return
        stmt = table.delete().where(*(c == sa.bindparam(f"k_{c.name}") for c in pk))
        conn.execute(stmt, [{f"k_{c.name}": v for c, v in zip(pk, key, strict=True)} for key in keys])

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema -----------------------------------------------------------------------------------
    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic, scripts in playbook/runtime/migrations)."""
        from alembic import command

        from playbook.runtime.migrations import alembic_config

        with self._write(lock="migrate", fenced=False) as conn:
            command.upgrade(alembic_config(conn), revision)

    def revision(self) -> str | None:
        """The schema revision the database is at (None: not created yet)."""
        from alembic.migration import MigrationContext

        with self._read() as conn:
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

    # ---- playbook versions --------------------------------------------------------------------------
    def save_version(self, document: Mapping[str, Any]) -> bool:
        """Keep a compiled playbook (its IR document); True when the version is new."""
        row = {"version": document["version"], "name": document.get("name") or document.get("title") or "",
               "document": dict(document), "created_at": self.now()}  # fmt: skip
        with self._write() as conn:
            stmt = self._insert(s.playbook_versions).values(row).on_conflict_do_nothing()
            return conn.execute(stmt.returning(s.playbook_versions.c.version)).first() is not None

    def activate_version(self, version: str) -> None:
        with self._write() as conn:
            t = s.playbook_versions
            conn.execute(t.update().where(t.c.version == version).values(activated_at=self.now(), retired_at=None))

    def retire_version(self, version: str) -> None:
        with self._write() as conn:
            t = s.playbook_versions
            conn.execute(t.update().where(t.c.version == version).values(retired_at=self.now()))

    def versions(self, *, active: bool | None = None, documents: bool = True) -> list[VersionRow]:
        """Saved versions, oldest first; active=True: activated and not retired."""
        t = s.playbook_versions
        columns = [t.c.version, t.c.name, t.c.document if documents else sa.null(), t.c.created_at,
                   t.c.activated_at, t.c.retired_at]  # fmt: skip
        query = sa.select(*columns).order_by(t.c.created_at, t.c.version)
        if active is not None:
            live = sa.and_(t.c.activated_at.is_not(None), t.c.retired_at.is_(None))
            query = query.where(live if active else sa.not_(live))
        with self._read() as conn:
            return [VersionRow(*row) for row in conn.execute(query)]

    def get_version(self, version: str) -> VersionRow | None:
        t = s.playbook_versions
        with self._read() as conn:
            row = conn.execute(sa.select(t).where(t.c.version == version)).first()
        return VersionRow(*row) if row else None

    # ---- contacts and accounts ------------------------------------------------------------------------
    def import_records(self, kind: str, records: Iterable[Mapping[str, Any]],
                       progress: Callable[[int], None] | None = None) -> UpsertCounts:  # fmt: skip
        """Idempotent import of contact or account records ({"id", …fields}). A record's
        fields overwrite the stored ones and fields it lacks are kept (events may have set
        them: orders, spent, tags…); a record that changes nothing counts as unchanged.
        Committed every BATCH rows: an interrupted import is completed by running it again."""
        table = {"contacts": s.contacts, "accounts": s.accounts}[kind]
        counts = UpsertCounts()
        batch: list[Mapping[str, Any]] = []
        for record in records:
            batch.append(record)
            if len(batch) >= BATCH:
                counts.add(self._import_batch(table, batch))
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            counts.add(self._import_batch(table, batch))
            if progress:
                progress(len(batch))
        return counts

    def _import_batch(self, table: sa.Table, records: list[Mapping[str, Any]]) -> UpsertCounts:
        # Compared and merged in the stored (encoded) form: decoding every stored row and
        # re-encoding both sides was most of the time of a re-import.
        incoming: dict[str, dict[str, Any]] = {}
        for record in records:  # a later record with the same id merges into the earlier one
            fields = {k: encode(v) for k, v in record.items() if k != "id"}
            incoming.setdefault(key_text(record["id"]), {}).update(fields)
        counts = UpsertCounts()
        now = self.now()
        contacts = table is s.contacts
        stored = sa.type_coerce(table.c.fields, _PLAIN)
        with self._write() as conn:
            query = sa.select(table.c.id, stored).where(table.c.id.in_(list(incoming)))
            existing = {rid: _unwrap(fields) for rid, fields in conn.execute(query)}
            inserts, updates = [], []
            for rid, fields in incoming.items():
                old = existing.get(rid)
                if old is None:
                    row = {"id": rid, "fields": _wrap(fields), "updated_at": now}
                    if contacts:
                        row.update(account=_account(fields), deleted=False)
                    inserts.append(row)
                elif all(k in old and type(old[k]) is type(v) and old[k] == v for k, v in fields.items()):
                    counts.unchanged += 1  # exact types: 1, 1.0, True and {"$time": 1} all differ
                else:
                    merged = {**old, **fields}
                    row = {"b_id": rid, "fields": _wrap(merged), "updated_at": now}
                    if contacts:
                        row["account"] = _account(merged)
                    updates.append(row)
            plain = sa.bindparam("fields", type_=_PLAIN)
            if inserts:
                extra = {"account": sa.bindparam("account"), "deleted": sa.bindparam("deleted")} if contacts else {}
                stmt = table.insert().values(id=sa.bindparam("id"), fields=plain,
                                             updated_at=sa.bindparam("updated_at"), **extra)  # fmt: skip
                conn.execute(stmt, inserts)
            if updates:
                values: dict[str, Any] = {"fields": plain, "updated_at": sa.bindparam("updated_at")}
                if contacts:
                    values["account"] = sa.bindparam("account")
                conn.execute(table.update().where(table.c.id == sa.bindparam("b_id")).values(values), updates)
            if inserts or updates:
                self._note_import(conn, now)
        counts.inserted, counts.updated = len(inserts), len(updates)
        return counts

    def _note_import(self, conn: Connection, now: dt.datetime) -> None:
        """Tell a running daemon that contacts or accounts changed from outside (engine_state
        "imported": how many imports so far), so it takes them in without a restart."""
        es = s.engine_state
        current = conn.execute(sa.select(es.c.value).where(es.c.name == IMPORTED)).scalar_one_or_none()
        self._upsert(conn, es, [{"name": IMPORTED, "value": (current or 0) + 1, "updated_at": now}])

    def imports(self) -> int:
        """How many imports changed something so far (0: none)."""
        es = s.engine_state
        with self._read() as conn:
            return conn.execute(sa.select(es.c.value).where(es.c.name == IMPORTED)).scalar_one_or_none() or 0

    def engine_value(self, name: str) -> Any:
        """One value of the engine's bookkeeping (`engine_state`), None when absent."""
        es = s.engine_state
        with self._read() as conn:
            return conn.execute(sa.select(es.c.value).where(es.c.name == name)).scalar_one_or_none()

    def contacts_changed_since(self, since: float) -> tuple[list[dict[str, Any]], set[str], list[dict[str, Any]]]:
        """Contacts (as engine records) and their deleted ids updated at or after `since`
        (epoch seconds), and every account: what a daemon takes in after an import."""
        t = s.contacts
        when = dt.datetime.fromtimestamp(since, dt.UTC)
        with self._read() as conn:
            records, deleted = [], set()
            query = sa.select(t.c.id, t.c.fields, t.c.deleted).where(t.c.updated_at >= when).order_by(t.c.id)
            for cid, fields, gone in conn.execute(query):
                records.append({"id": cid, **fields})
                if gone:
                    deleted.add(cid)
            return records, deleted, self._accounts(conn)

    def load_contacts(self) -> tuple[list[dict[str, Any]], set[str]]:
        """Every contact as an engine record ({"id", …fields}), and the deleted ones' ids."""
        with self._read() as conn:
            return self._contacts(conn)

    def _contacts(self, conn: Connection) -> tuple[list[dict[str, Any]], set[str]]:
        t = s.contacts
        records, deleted = [], set()
        for cid, fields, gone in conn.execute(sa.select(t.c.id, t.c.fields, t.c.deleted).order_by(t.c.id)):
            records.append({"id": cid, **fields})
            if gone:
                deleted.add(cid)
        return records, deleted

    def contact_accounts(self) -> dict[str, str | None]:
        """Every contact not deleted → its account (the indexed column, no fields decoded): what
        a platform sync compares with."""
        t = s.contacts
        with self._read() as conn:
            query = sa.select(t.c.id, t.c.account).where(t.c.deleted == sa.false())
            return {str(cid): account for cid, account in conn.execute(query)}

    def load_accounts(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return self._accounts(conn)

    def _accounts(self, conn: Connection) -> list[dict[str, Any]]:
        t = s.accounts
        return [{"id": aid, **fields} for aid, fields in conn.execute(sa.select(t.c.id, t.c.fields).order_by(t.c.id))]

    # ---- the event log ----------------------------------------------------------------------------------
    def append_events(self, events: Sequence[Event], source: str) -> list[int]:
        """Log events (stored first, processed later: a crash loses none); their sequence
        numbers, in the order given. On PostgreSQL appends are serialised, so sequence
        order is also commit order and a reader never skips past one still committing."""
        if source not in s.EVENT_SOURCES:
            raise ValueError(f"unknown event source {source!r}")
        if not events:
            return []
        if any("id" in e.data for e in events):  # idempotent: a repeated id gives the first event's seq
            logged = self.log_events(events, source)
            if logged.conflicts:
                raise ValueError(f"event {logged.conflicts[0]}: its id is already taken by a different event")
            return [seq for seq in logged.seqs if seq is not None]
        # not fenced: events are inputs, which any process may log (`playbook event` does too)
        with self._write(lock="events", fenced=False) as conn:
            return self._append(conn, events, source)

    def log_events(self, events: Sequence[Event], source: str, ids: Sequence[str | None] | None = None, *,
                   all_or_nothing: bool = False) -> Logged:  # fmt: skip
        """Log events that carry an id once (idempotent intake). An event's id is its
        `data["id"]` unless `ids` gives one per event (None: no id; the HTTP intake names
        the events of a signed request by its signature). An id already taken — by an
        earlier event or an earlier one in `events` — by the same event (same type,
        contact, time and data) is a repeat: acknowledged with the first one's seq and not
        stored again; taken by a different event, it is a conflict and that event is not
        stored (with `all_or_nothing`, then nothing is). Ids are remembered until
        `prune_event_ids` forgets them (the daemon: after `[intake] remember_ids`)."""
        if source not in s.EVENT_SOURCES:
            raise ValueError(f"unknown event source {source!r}")
        if ids is None:
            ids = [e.data.get("id") for e in events]
        if len(ids) != len(events):
            raise ValueError("one id (or None) per event")
        names = [None if i is None else key_text(i) for i in ids]
        digests = [event_digest(e) if i is not None else "" for e, i in zip(events, names, strict=True)]
        logged = Logged([None] * len(events))
        if not events:
            return logged
        t = s.event_ids
        with self._write(lock="events", fenced=False) as conn:  # not fenced: events are inputs (above)
            known: dict[str, tuple[int, str]] = {}  # id -> (seq, digest), stored before
            wanted = sorted({i for i in names if i is not None})
            for chunk in _chunks(wanted):
                query = sa.select(t.c.id, t.c.seq, t.c.digest).where(t.c.id.in_(chunk))
                known.update({i: (seq, digest) for i, seq, digest in conn.execute(query)})
            first: dict[str, int] = {}  # id -> index of the event that takes it now
            store: list[int] = []
            for index, name in enumerate(names):
                if name is None:
                    store.append(index)
                    continue
                digest = known[name][1] if name in known else digests[first[name]] if name in first else None
                if digest is None:
                    first[name] = index
                    store.append(index)
                elif digest == digests[index]:
                    logged.repeated.append(index)
                else:
                    logged.conflicts.append(index)
            if logged.conflicts and all_or_nothing:
                return Logged([None] * len(events), conflicts=logged.conflicts)
            seqs = self._append(conn, [events[i] for i in store], source)
            for index, seq in zip(store, seqs, strict=True):
                logged.seqs[index] = seq
            for index in logged.repeated:
                name = names[index]
                assert name is not None
                logged.seqs[index] = known[name][0] if name in known else logged.seqs[first[name]]
            now = self.now()
            rows = [{"id": name, "seq": logged.seqs[index], "digest": digests[index], "received_at": now}
                    for name, index in first.items()]  # fmt: skip
            for chunk in _chunks(rows):
                conn.execute(sa.insert(t), list(chunk))
        return logged

    def _append(self, conn: Connection, events: Sequence[Event], source: str) -> list[int]:
        now = self.now()
        rows = [{"received_at": now, "at": e.at, "type": e.type, "contact": key_text(e.contact), "data": e.data,
                 "source": source, "status": "new"} for e in events]  # fmt: skip
        stmt = sa.insert(s.events).returning(s.events.c.seq, sort_by_parameter_order=True)
        return [seq for chunk in _chunks(rows) for (seq,) in conn.execute(stmt, list(chunk))]

    def prune_event_ids(self, before: dt.datetime) -> int:
        """Forget the event ids received before `before`; how many."""
        t = s.event_ids
        with self._write() as conn:
            return conn.execute(t.delete().where(t.c.received_at < before)).rowcount

    def next_events(self, limit: int = 1000, after: int = 0) -> list[Event]:
        """The oldest unprocessed events, in arrival order; each Event's seq is its log number."""
        t = s.events
        query = (sa.select(t.c.type, t.c.contact, t.c.at, t.c.data, t.c.seq)
                 .where(t.c.status == "new", t.c.seq > after).order_by(t.c.seq).limit(limit))  # fmt: skip
        with self._read() as conn:
            return [Event(*row) for row in conn.execute(query)]

    def mark_events(self, processed: Iterable[int] = (), rejected: Mapping[int, str] | None = None) -> None:
        with self._write() as conn:
            self._mark_events(conn, list(processed), dict(rejected or {}))

    def _mark_events(self, conn: Connection, processed: list[int], rejected: dict[int, str]) -> None:
        t = s.events
        now = self.now()
        for chunk in _chunks(processed):
            conn.execute(t.update().where(t.c.seq.in_(chunk)).values(status="processed", processed_at=now))
        if rejected:
            stmt = (
                t.update()
                .where(t.c.seq == sa.bindparam("b_seq"))
                .values(status="rejected", processed_at=now, reason=sa.bindparam("b_reason"))
            )
            conn.execute(stmt, [{"b_seq": k, "b_reason": v} for k, v in rejected.items()])

    def event_counts(self) -> dict[str, int]:
        t = s.events
        with self._read() as conn:
            return dict(conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all())

    # ---- engine state: the journal --------------------------------------------------------------------
    def write(self, journal: Journal) -> None:
        """Apply a journal of engine-state changes in one transaction (see `Journal`)."""
        if not journal:
            return
        now = self.now()
        with self._write() as conn:
            j = journal
            self._upsert(conn, s.accounts, [
                {"id": key_text(r["id"]), "fields": {k: v for k, v in r.items() if k != "id"}, "updated_at": now}
                for r in j.accounts
            ])  # fmt: skip
            self._upsert(conn, s.contacts, [
                {"id": key_text(r["id"]), "account": _account(r), "fields": {k: v for k, v in r.items() if k != "id"},
                 "deleted": r["id"] in j.deleted_contacts, "updated_at": now}
                for r in j.contacts
            ])  # fmt: skip
            self._delete(conn, s.enrolments, j.enrolments_removed)
            self._upsert(conn, s.enrolments, [_enrolment(r) for r in j.enrolments])
            self._delete(conn, s.timers, j.timers_removed)
            self._upsert(conn, s.timers, [_timer(r) for r in j.timers])
            self._delete(conn, s.limit_counters, j.counters_removed)
            self._upsert(conn, s.limit_counters, [_counter(r) for r in j.counters])
            touches = s.touches
            self._upsert(conn, touches, [_touch(r, now) for r in j.touches], keep=("created_at",),
                         where=touches.c.state == "held")  # fmt: skip
            self._upsert(conn, s.group_instances, [_group(r) for r in j.groups])
            self._delete(conn, s.flow_state, j.flow_state_removed)
            self._upsert(conn, s.flow_state, [
                {"version": k[0], "runner": k[1], "item": k[2], "value": v, "updated_at": now}
                for k, v in j.flow_state.items()
            ])  # fmt: skip
            self._mark_events(conn, list(j.events_processed), dict(j.events_rejected))
            if j.state_events:
                rows = [{"at": e.at, "type": e.type, "contact": e.contact, "flow": e.flow, "version": e.version,
                         "data": e.data} for e in j.state_events]  # fmt: skip
                for chunk in _chunks(rows):
                    conn.execute(sa.insert(s.state_events), list(chunk))
            self._upsert(conn, s.engine_state, [
                {"name": k, "value": v, "updated_at": now} for k, v in j.engine_state.items()
            ])  # fmt: skip

    def load_state(self, versions: Collection[str] | None = None) -> State:
        """Everything an engine needs to resume, in one snapshot: contacts, accounts and
        the state of the given playbook versions (all when None); timers of no version
        (the day tick) and platform counters always come along. Touches: the held ones."""
        vs = None if versions is None else list(versions)

        def of(column: sa.Column, extra: Any = None) -> Any:
            if vs is None:
                return sa.true()
            cond = column.in_(vs)
            return cond if extra is None else sa.or_(cond, extra)

        with self._read() as conn:
            contacts, deleted = self._contacts(conn)
            accounts = self._accounts(conn)
            e = s.enrolments
            enrolments = [
                EnrolmentRow(
                    r.version,
                    r.journey,
                    r.contact,
                    r.n,
                    r.entered_at,
                    r.status,
                    r.epoch,
                    r.event,
                    r.arms,
                    r.wait,
                    r.touch,
                    r.goal_at,
                    r.segments,
                )  # fmt: skip
                for r in conn.execute(sa.select(e).where(of(e.c.version)).order_by(*e.primary_key))
            ]
            ti = s.timers
            timers = [
                TimerRow(r.seq, r.due, r.phase, r.order_key, r.kind, r.payload, r.version, r.shard, r.account)
                for r in conn.execute(sa.select(ti).where(of(ti.c.version, ti.c.version.is_(None))).order_by(ti.c.seq))
            ]
            c, v = s.limit_counters, s.playbook_versions
            # counters belong to a playbook (all its versions): the given versions' playbooks
            of_playbooks = (
                sa.true()
                if vs is None
                else sa.or_(c.c.scope.in_(sa.select(v.c.name).where(v.c.version.in_(vs))), c.c.scope == "platform")
            )
            counters = [
                CounterRow(*r)
                for r in conn.execute(
                    sa.select(c.c.scope, c.c.rule, c.c.scope_id, c.c.period_start, c.c.period_end, c.c.count)
                    .where(of_playbooks)
                    .order_by(*c.primary_key)
                )
            ]
            to = s.touches
            held = [
                _touch_row(r)
                for r in conn.execute(sa.select(to).where(to.c.state == "held", of(to.c.version)).order_by(to.c.key))
            ]
            g = s.group_instances
            groups = [
                GroupRow(r.version, r.id, r.group_name, r.account, r.opens, r.closes, r.members, r.closed, r.dissolved)
                for r in conn.execute(sa.select(g).where(of(g.c.version)).order_by(*g.primary_key))
            ]
            f = s.flow_state
            flow_state = {
                (r.version, r.runner, r.item): r.value
                for r in conn.execute(sa.select(f).where(of(f.c.version)).order_by(*f.primary_key))
            }
            es = s.engine_state
            engine_state = dict(conn.execute(sa.select(es.c.name, es.c.value)).all())
        return State(contacts, deleted, accounts, enrolments, timers, counters, held, groups, flow_state, engine_state)

    def state_events(self, *, contact: str | None = None, flow: str | None = None,
                     types: Collection[str] | None = None, version: str | None = None) -> list[StateEvent]:  # fmt: skip
        """The state event log (what the engine decided besides touches), in order."""
        t = s.state_events
        query = sa.select(t.c.at, t.c.type, t.c.contact, t.c.flow, t.c.data, t.c.version).order_by(t.c.seq)
        if contact is not None:
            query = query.where(t.c.contact == contact)
        if flow is not None:
            query = query.where(t.c.flow == flow)
        if types is not None:
            query = query.where(t.c.type.in_(list(types)))
        if version is not None:
            query = query.where(t.c.version == version)
        with self._read() as conn:
            return [StateEvent(*row) for row in conn.execute(query)]

    def reserve_seqs(self, count: int, name: str = "timers") -> int:
        """Reserve `count` consecutive sequence numbers (for timer rows); the first of them.
        Several processes sharing a store each take blocks, so their seqs never collide."""
        t = s.sequences
        with self._write() as conn:
            start = sa.select(sa.func.coalesce(sa.func.max(s.timers.c.seq), 0) + 1).scalar_subquery()
            conn.execute(self._insert(t).values(name=name, next_value=start).on_conflict_do_nothing())
            stmt = (t.update().where(t.c.name == name).values(next_value=t.c.next_value + count)
                    .returning(t.c.next_value))  # fmt: skip
            return int(conn.execute(stmt).scalar_one()) - count

    def sent_in(self, name: str, start: int, end: int) -> list[tuple[str, str | None, str | None]]:
        """The touches the versions of playbook `name` let go (ok or deferred) in [start, end):
        (channel, account, contact) — what a limit added by an edit counts from."""
        to, v = s.touches, s.playbook_versions
        query = (
            sa.select(to.c.channel, to.c.account, to.c.contact)
            .where(to.c.version.in_(sa.select(v.c.version).where(v.c.name == name)))
            .where(to.c.outcome.in_(("ok", "deferred")), to.c.at >= start, to.c.at < end)
        )
        with self._read() as conn:
            return [(r.channel, r.account, r.contact) for r in conn.execute(query)]

    # ---- approvals (runtime/approvals.py) ------------------------------------------------------------------
    def request_approval(self, version: str, touches: int, policy: str, summary: Mapping[str, Any]) -> bool:
        """A version waits for approval; True when asked now. A version asked before keeps
        its request or decision, unless it was replaced before a decision (loaded again: it
        is asked again)."""
        a = s.approvals
        row = {"version": version, "state": "pending", "touches": touches, "policy": policy,
               "summary": dict(summary), "requested_at": self.now()}  # fmt: skip
        again = {k: v for k, v in row.items() if k != "version"}
        again.update(decided_at=None, decided_by=None, note=None)
        with self._write() as conn:
            stmt = self._insert(a).values(row)
            stmt = stmt.on_conflict_do_update(index_elements=[a.c.version], set_=again, where=a.c.state == "replaced")
            return conn.execute(stmt.returning(a.c.version)).first() is not None

    def replace_pending(self, keep: Collection[str]) -> list[str]:
        """Pending requests of versions not in `keep` (a newer version was loaded before a
        decision) become `replaced`; returns those versions."""
        a = s.approvals
        with self._write() as conn:
            query = a.update().where(a.c.state == "pending", a.c.version.not_in(list(keep)))
            done = conn.execute(query.values(state="replaced", decided_at=self.now()).returning(a.c.version))
            return sorted(r.version for r in done)

    def decide_approval(self, version: str, state: str, by: str | None, note: str | None) -> ApprovalRow | None:
        """pending → approved or rejected (compare-and-set: one decision per request);
        None when `version` has no pending request."""
        a = s.approvals
        with self._write() as conn:
            query = a.update().where(a.c.version == version, a.c.state == "pending")
            done = conn.execute(query.values(state=state, decided_at=self.now(), decided_by=by, note=note)
                                .returning(*a.c))  # fmt: skip
            row = done.first()
            return None if row is None else ApprovalRow(*row)

    def approvals(self) -> list[ApprovalRow]:
        """Every request and decision, the latest request first."""
        a = s.approvals
        with self._read() as conn:
            rows = conn.execute(sa.select(*a.c).order_by(a.c.requested_at.desc(), a.c.version))
            return [ApprovalRow(*row) for row in rows]

    def prune_counters(self, before: int) -> int:
        """Forget limit counts of periods that ended by `before`; how many rows went."""
        t = s.limit_counters
        with self._write() as conn:
            return conn.execute(t.delete().where(t.c.period_end <= before)).rowcount

    # ---- the ledger --------------------------------------------------------------------------------------
    def claim_due(self, now: int, owner: str, limit: int = 500,
                  accounts: Collection[str] | None = None) -> list[TouchRow]:  # fmt: skip
        """Take up to `limit` touches that are due (pending, or failed and due again) for
        sending: pending → sending, owner set, attempts + 1. Compare-and-set: a touch
        another process took first is not returned. Oldest first: by next_attempt_at, then
        by key on PostgreSQL and in the order the rows were written on SQLite (see
        `_claim_sqlite`); returned sorted by (next_attempt_at, key)."""
        t = s.touches
        due = sa.and_(t.c.state.in_(s.DUE_STATES), t.c.next_attempt_at <= now)
        if accounts is not None:
            due = sa.and_(due, t.c.account.in_(list(accounts)))
        with self._write() as conn:
            if self.dialect == "sqlite":
                rows = self._claim_sqlite(conn, now, owner, limit, due, accounts)
            else:
                pick = sa.select(t.c.key).where(due).order_by(t.c.next_attempt_at, t.c.key).limit(limit)
                pick = pick.with_for_update(skip_locked=True)  # claimers take disjoint rows
                keys = list(conn.execute(pick).scalars())
                rows = self._cas(conn, keys, s.DUE_STATES, "sending", extra=due, owner=owner,
                                 attempts=t.c.attempts + 1)  # fmt: skip
        rows.sort(key=lambda r: (r.next_attempt_at or 0, r.key))
        return rows

    def _claim_sqlite(self, conn: Connection, now: int, owner: str, limit: int, due: Any,
                      accounts: Collection[str] | None) -> list[TouchRow]:  # fmt: skip
        """The claim as one `UPDATE … WHERE rowid IN (SELECT rowid … LIMIT n) RETURNING`.
        The write transaction (BEGIN IMMEDIATE) already keeps other writers out, so picking
        and taking need no round trip between them, and rows are found by rowid (by key,
        through the primary key's index, a claim took a third longer). The picking reads
        the partial index of due rows (`ix_touches_due`) in its own order — next_attempt_at,
        then rowid, the order rows were written — so a claim reads only the rows it takes.
        Its state test is spelled with literals, as in the index's WHERE (SQLite uses a
        partial index only then), and the index is named: without statistics the planner
        prefers `ix_touches_state`, and then every claim read and sorted every due row.
        (Ordering by key, each claim would sort all the rows due in its second.)"""
        t = s.touches
        if accounts is None:
            pick: Any = sa.text(
                f"SELECT rowid FROM touches INDEXED BY ix_touches_due WHERE state IN "
                f"({', '.join(repr(state) for state in s.DUE_STATES)}) AND next_attempt_at <= :now "
                "ORDER BY next_attempt_at, rowid LIMIT :limit"
            ).bindparams(now=now, limit=limit)
        else:  # the planner takes ix_touches_account_due by itself
            d = t.alias("due")
            pick = (
                sa.select(sa.literal_column("rowid"))
                .where(d.c.state.in_(s.DUE_STATES), d.c.next_attempt_at <= now, d.c.account.in_(list(accounts)))
                .order_by(d.c.next_attempt_at, sa.literal_column("rowid"))
                .limit(limit)
            )
        stmt = (
            t.update()
            .where(sa.literal_column("rowid").in_(pick), due)  # `due` again: the compare-and-set, where rows change
            .values(state="sending", owner=owner, attempts=t.c.attempts + 1, updated_at=self.now())
            .returning(t)
        )
        return self._touch_rows(conn.execute(stmt))

    def transition(self, keys: Iterable[str], expect: str | Collection[str], to: str, *,
                   expect_owner: str | None = None, **values: Any) -> list[str]:  # fmt: skip
        """Move touches from a state in `expect` to `to`, compare-and-set; the keys that
        moved. `expect_owner` (when given) must match too; `values` sets other columns
        (owner, error, adapter, adapter_ref, next_attempt_at …)."""
        expected = (expect,) if isinstance(expect, str) else tuple(expect)
        keys = list(keys)
        if not keys:
            return []
        t = s.touches
        with self._write() as conn:
            extra = t.c.owner == expect_owner if expect_owner is not None else None
            return [r.key for r in self._cas(conn, keys, expected, to, extra=extra, **values)]

    def _cas(self, conn: Connection, keys: list[str], expect: Sequence[str], to: str, *, extra: Any = None,
             **values: Any) -> list[TouchRow]:  # fmt: skip
        if to not in s.TOUCH_STATES:
            raise ValueError(f"unknown touch state {to!r}")
        unknown = set(values) - {c.name for c in s.touches.columns}
        if unknown:
            raise ValueError(f"not touch columns: {sorted(unknown)}")
        t = s.touches
        out: list[TouchRow] = []
        for chunk in _chunks(sorted(keys)):
            if self.dialect == "postgresql":
                # lock the rows in key order first: two overlapping claims then queue
                # instead of deadlocking on rows locked in different orders
                conn.execute(sa.select(t.c.key).where(t.c.key.in_(chunk)).order_by(t.c.key).with_for_update())
            cond = [t.c.key.in_(chunk), t.c.state.in_(expect)]
            if extra is not None:
                cond.append(extra)
            stmt = t.update().where(*cond).values(state=to, updated_at=self.now(), **values).returning(t)
            out += self._touch_rows(conn.execute(stmt))
        return out

    @staticmethod
    def _touch_rows(result: Any) -> list[TouchRow]:
        """Ledger rows from a result of whole `touches` rows, read by position (reading
        each row's 28 columns by name, as `_touch_row` does, took longer than a claim's SQL)."""
        names = ["group" if name == "group_id" else name for name in result.keys()]
        order = itemgetter(*(names.index(f.name) for f in dataclasses.fields(TouchRow)))
        return [TouchRow(*order(row)) for row in result]

    def settle(self, results: Sequence[Settlement], owner: str) -> list[str]:
        """Record how claimed touches ended (sent, failed, dead …), each only if it is
        still `sending` and ours; the keys that were not (someone reconciled them)."""
        if not results:
            return []
        for r in results:
            if r.state not in SETTLED_STATES:
                raise ValueError(f"a claimed touch cannot become {r.state!r}")
        t = s.touches
        now = self.now()
        stmt = (
            t.update()
            .where(t.c.state == "sending", t.c.owner == owner)
            .values(
                state=sa.bindparam("b_state"),
                error=sa.bindparam("b_error"),
                adapter=sa.func.coalesce(sa.bindparam("b_adapter"), t.c.adapter),
                adapter_ref=sa.func.coalesce(sa.bindparam("b_ref"), t.c.adapter_ref),
                next_attempt_at=sa.bindparam("b_next"),
                attempts=t.c.attempts - sa.bindparam("b_undo"),
                updated_at=now,
            )  # fmt: skip
        )
        one = stmt.where(t.c.key == sa.bindparam("b_key"))
        many = stmt.where(t.c.key.in_(sa.bindparam("b_keys", expanding=True)))
        # Settlements with the same values — a round's sent touches mostly: one adapter, no
        # error, no ref or one per platform task — go as one `UPDATE … WHERE key IN (…)`,
        # the others as one executemany: a statement per distinct outcome, not per row.
        alike: dict[tuple[Any, ...], list[str]] = {}
        for r in results:
            values = (r.state, r.error, r.adapter, r.adapter_ref, r.next_attempt_at, 0 if r.attempted else 1)
            alike.setdefault(values, []).append(r.key)
        singles: list[dict[str, Any]] = []
        moved = 0
        with self._write() as conn:
            for values, keys in alike.items():
                bound = dict(zip(("b_state", "b_error", "b_adapter", "b_ref", "b_next", "b_undo"), values, strict=True))
                if len(keys) == 1:
                    singles.append({"b_key": keys[0], **bound})
                    continue
                for chunk in _chunks(keys):
                    moved += conn.execute(many, {"b_keys": list(chunk), **bound}).rowcount
            if singles and conn.dialect.supports_sane_multi_rowcount:
                moved += conn.execute(one, singles).rowcount
            else:
                moved += sum(conn.execute(one, p).rowcount for p in singles)
            if moved == len(results):
                return []
            # some did not match: find which (they are not in the state we set, or not ours)
            want = {r.key: r.state for r in results}
            ok: set[str] = set()
            for chunk in _chunks(list(want)):
                found = conn.execute(sa.select(t.c.key, t.c.state, t.c.owner).where(t.c.key.in_(chunk)))
                ok |= {k for k, state, who in found if state == want[k] and who == owner}
            return [r.key for r in results if r.key not in ok]

    def touches(self, *, states: Collection[str] | None = None, keys: Collection[str] | None = None,
                owner: str | None = None, limit: int | None = None) -> list[TouchRow]:  # fmt: skip
        """Ledger rows (by key order), filtered."""
        t = s.touches
        query = sa.select(t).order_by(t.c.key)
        if states is not None:
            query = query.where(t.c.state.in_(list(states)))
        if keys is not None:
            query = query.where(t.c.key.in_(list(keys)))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_touch_row(r) for r in conn.execute(query)]

    def requeue(self, state: str, *, before: int | None = None, keys: Collection[str] | None = None,
                actor: str, now: int) -> list[str]:  # fmt: skip
        """Put touches in `state` (unknown, dead) back to `pending`, due at `now`, by hand:
        only those meant to go out before `before` (their `at`), or only `keys`; the action
        is recorded in `ledger_actions` in the same transaction. The keys that moved.
        Compare-and-set: a running daemon may claim them at once, never twice."""
        if state not in ("unknown", "dead"):
            raise ValueError(f"only unknown or dead touches can be requeued, not {state!r}")
        t = s.touches
        query = sa.select(t.c.key).where(t.c.state == state).order_by(t.c.key)
        if before is not None:
            query = query.where(sa.func.coalesce(t.c.at, t.c.due) < before)
        if keys is not None:
            query = query.where(t.c.key.in_(list(keys)))
        with self._write() as conn:
            found = list(conn.execute(query).scalars())
            moved = [r.key for r in self._cas(conn, found, (state,), "pending", owner=None, next_attempt_at=now,
                                              error=None)] if found else []  # fmt: skip
            criteria = {"state": state, "before": before, "keys": sorted(keys) if keys is not None else None}
            conn.execute(sa.insert(s.ledger_actions).values(at=self.now(), action="requeue", actor=actor,
                                                             criteria=criteria, keys=moved))  # fmt: skip
        return moved

    def ledger_actions(self) -> list[dict[str, Any]]:
        """What operators did to the ledger by hand, oldest first."""
        t = s.ledger_actions
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).order_by(t.c.seq))]

    # ---- receipts ------------------------------------------------------------------------------------
    def awaiting_receipts(self, adapter: str, limit: int = 1000,
                          after: tuple[dt.datetime, str] | None = None) -> list[TouchRow]:  # fmt: skip
        """Touches the adapter handed over (with its reference) that the platform has not
        reported on yet, oldest first; `after` (updated_at, key) of the last row of the
        previous page, so a caller walks through all of them rather than asking about the
        oldest page again and again."""
        t = s.touches
        query = (
            sa.select(t)
            .where(t.c.state == "sent", t.c.receipt.is_(None), t.c.adapter_ref.is_not(None), t.c.adapter == adapter)
            .order_by(t.c.updated_at, t.c.key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(sa.tuple_(t.c.updated_at, t.c.key) > sa.tuple_(*after))
        with self._read() as conn:
            return [_touch_row(r) for r in conn.execute(query)]

    def record_receipts(self, receipts: Sequence[tuple[str, str, int | None]]) -> int:
        """(key, receipt, when) for sent touches still without one; how many were recorded."""
        if not receipts:
            return 0
        t = s.touches
        stmt = (
            t.update()
            .where(t.c.key == sa.bindparam("b_key"), t.c.state == "sent", t.c.receipt.is_(None))
            .values(receipt=sa.bindparam("b_receipt"), receipt_at=sa.bindparam("b_at"))
        )
        params = [{"b_key": k, "b_receipt": r, "b_at": at} for k, r, at in receipts]
        with self._write() as conn:
            return conn.execute(stmt, params).rowcount

    # ---- leases (sharding by account) ----------------------------------------------------------------------
    def acquire_lease(self, shard: int, owner: str, ttl: float) -> bool:
        """Take or renew a shard for `ttl` seconds; False while another owner's lease lasts."""
        t = s.leases
        now = self.now()
        with self._write() as conn:
            conn.execute(self._insert(t).values(shard=shard).on_conflict_do_nothing())
            free = sa.or_(t.c.owner.is_(None), t.c.owner == owner, t.c.expires_at < now)
            acquired = sa.case((t.c.owner == owner, t.c.acquired_at), else_=now)
            stmt = (
                t.update()
                .where(t.c.shard == shard, free)
                .values(owner=owner, acquired_at=acquired, expires_at=now + dt.timedelta(seconds=ttl))
            )
            return conn.execute(stmt).rowcount == 1

    def release_lease(self, shard: int, owner: str) -> bool:
        t = s.leases
        with self._write() as conn:
            stmt = t.update().where(t.c.shard == shard, t.c.owner == owner).values(owner=None, expires_at=None)
            return conn.execute(stmt).rowcount == 1

    # ---- the writer's lease (one writer per store; per shard once scale-out exists) ----------------
    def take_lease(self, owner: str, ttl: float, *, host: str, pid: int,
                   shard: int = STORE_SHARD) -> int | Holder:  # fmt: skip
        """Take the lease for `ttl` seconds if it is free (released, or expired): the new
        fencing token (one more than the last holder's). Otherwise who holds it."""
        t = s.leases
        now = self.now()
        with self._write(fenced=False) as conn:
            conn.execute(self._insert(t).values(shard=shard, token=0).on_conflict_do_nothing())
            query = sa.select(t).where(t.c.shard == shard)
            if self.dialect == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).one()
            if row.owner is not None and row.owner != owner and row.expires_at is not None and row.expires_at >= now:
                return _holder(row)
            token = int(row.token) + 1
            conn.execute(t.update().where(t.c.shard == shard).values(
                owner=owner, token=token, host=host, pid=pid, acquired_at=now, renewed_at=now,
                expires_at=now + dt.timedelta(seconds=ttl)))  # fmt: skip
            return token

    def renew_lease(self, fence: Fence, ttl: float) -> bool:
        """Extend our lease to now + `ttl`; False when it is not ours any more (nothing changed)."""
        t = s.leases
        now = self.now()
        with self._write(fenced=False) as conn:
            stmt = (
                t.update()
                .where(t.c.shard == fence.shard, t.c.owner == fence.owner, t.c.token == fence.token)
                .values(renewed_at=now, expires_at=now + dt.timedelta(seconds=ttl))
            )
            return conn.execute(stmt).rowcount == 1

    def give_up_lease(self, fence: Fence) -> bool:
        """Release our lease at a clean stop, so a standby takes over at once (the token stays)."""
        t = s.leases
        with self._write(fenced=False) as conn:
            stmt = (
                t.update()
                .where(t.c.shard == fence.shard, t.c.owner == fence.owner, t.c.token == fence.token)
                .values(owner=None, expires_at=None, host=None, pid=None)
            )
            return conn.execute(stmt).rowcount == 1

    def lease_holder(self, shard: int = STORE_SHARD) -> Holder | None:
        """Who holds the lease now (None: nobody, or it expired)."""
        t = s.leases
        with self._read() as conn:
            row = conn.execute(sa.select(t).where(t.c.shard == shard)).first()
        if row is None or row.owner is None or row.expires_at is None or row.expires_at < self.now():
            return None
        return _holder(row)

    def leases(self) -> list[tuple[int, str | None, dt.datetime | None]]:
        t = s.leases
        with self._read() as conn:
            return [tuple(r) for r in conn.execute(sa.select(t.c.shard, t.c.owner, t.c.expires_at).order_by(t.c.shard))]

    # ---- status ---------------------------------------------------------------------------------------------
    def status(self, latest: int = 10) -> StoreStatus:
        """Counts for `playbook status`, in one snapshot."""
        to, ev, en, ti, co = s.touches, s.events, s.enrolments, s.timers, s.contacts

        def by(conn: Connection, column: sa.Column) -> dict[str, int]:
            return dict(conn.execute(sa.select(column, sa.func.count()).group_by(column)).all())

        def last(conn: Connection, states: Sequence[str]) -> list[TouchRow]:
            query = sa.select(to).where(to.c.state.in_(states)).order_by(to.c.updated_at.desc(), to.c.key).limit(latest)
            return [_touch_row(r) for r in conn.execute(query)]

        with self._read() as conn:
            timers, next_due = conn.execute(sa.select(sa.func.count(), sa.func.min(ti.c.due))).one()
            contacts, deleted = conn.execute(
                sa.select(sa.func.count(), sa.func.count().filter(co.c.deleted.is_(True)))
            ).one()
            accounts = conn.execute(sa.select(sa.func.count()).select_from(s.accounts)).scalar_one()
            result = StoreStatus(
                touches=by(conn, to.c.state), events=by(conn, ev.c.status), enrolments=by(conn, en.c.status),
                timers=timers, next_due=next_due, contacts=contacts, deleted_contacts=deleted, accounts=accounts,
                versions=[], dead=last(conn, ("dead",)), errors=last(conn, ("failed", "unknown")),
            )  # fmt: skip
            held = (
                sa.select(to.c.error, sa.func.count(), sa.func.min(to.c.next_attempt_at))
                .where(to.c.state == "pending", to.c.error.is_not(None))
                .group_by(to.c.error).order_by(sa.func.count().desc()).limit(latest)
            )  # fmt: skip
            result.held = [(str(error), int(n), nxt) for error, n, nxt in conn.execute(held)]
        result.versions = self.versions(active=True, documents=False)
        return result


IMPORTED = "imported"  # engine_state: see Store._note_import


def key_text(value: Any) -> str:
    """An id as stored in a key column. PostgreSQL text cannot hold NUL (SQLite can): both
    backends refuse it, so a store behaves the same wherever it lives."""
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"an id cannot contain a NUL character: {text!r}")
    return text


def _account(fields: Mapping[str, Any]) -> str | None:
    account = fields.get("account")
    return None if account is None else key_text(account)


# ---- rows ⇄ table dicts ---------------------------------------------------------------------------------------
def _enrolment(r: EnrolmentRow) -> dict[str, Any]:
    return {"version": r.version, "journey": r.journey, "contact": r.contact, "n": r.n, "entered_at": r.entered_at,
            "status": r.status, "epoch": r.epoch, "event": r.event, "arms": r.arms, "wait": r.wait,
            "touch": r.touch, "goal_at": r.goal_at, "segments": r.segments}  # fmt: skip


def _timer(r: TimerRow) -> dict[str, Any]:
    return {"seq": r.seq, "due": r.due, "phase": r.phase, "order_key": r.order, "kind": r.kind,
            "payload": r.payload, "version": r.version, "shard": r.shard, "account": r.account}  # fmt: skip


def _counter(r: CounterRow) -> dict[str, Any]:
    return {"scope": r.scope, "rule": r.rule, "scope_id": r.scope_id, "period_start": r.period_start,
            "period_end": r.period_end, "count": r.count}  # fmt: skip


def _group(r: GroupRow) -> dict[str, Any]:
    return {"version": r.version, "id": r.id, "group_name": r.group, "account": r.account, "opens": r.opens,
            "closes": r.closes, "members": r.members, "closed": r.closed, "dissolved": r.dissolved}  # fmt: skip


def _touch(r: TouchRow, now: dt.datetime) -> dict[str, Any]:
    return {"key": r.key, "version": r.version, "flow": r.flow, "step": r.step, "channel": r.channel,
            "account": r.account, "contact": r.contact, "group_id": r.group, "due": r.due, "at": r.at,
            "content": r.content, "text": r.text, "parts": r.parts, "audience": r.audience, "outcome": r.outcome,
            "reason": r.reason, "state": r.state, "error": r.error, "attempts": r.attempts,
            "next_attempt_at": r.next_attempt_at, "owner": r.owner, "adapter": r.adapter,
            "adapter_ref": r.adapter_ref, "request": r.request, "receipt": r.receipt, "receipt_at": r.receipt_at,
            "created_at": r.created_at or now, "updated_at": now}  # fmt: skip


def _holder(r: Any) -> Holder:
    return Holder(shard=r.shard, owner=r.owner, host=r.host, pid=r.pid, since=r.acquired_at, expires_at=r.expires_at,
                  token=int(r.token))  # fmt: skip


def _touch_row(r: Any) -> TouchRow:
    return TouchRow(key=r.key, version=r.version, flow=r.flow, step=r.step, channel=r.channel, due=r.due,
                    state=r.state, account=r.account, contact=r.contact, group=r.group_id, at=r.at,
                    content=r.content, text=r.text, parts=r.parts, audience=r.audience, outcome=r.outcome,
                    reason=r.reason, error=r.error, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                    owner=r.owner, adapter=r.adapter, adapter_ref=r.adapter_ref, request=r.request,
                    receipt=r.receipt, receipt_at=r.receipt_at, created_at=r.created_at,
                    updated_at=r.updated_at)  # fmt: skip


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases or memory)."""
    parsed = sa.make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)
