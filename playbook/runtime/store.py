"""The daemon's durable state: a SQLite file by default, PostgreSQL by URL.

    store = Store("sqlite:///playbook.db")        # or "postgresql+psycopg://user@host/db"
    store.migrate()                                # create / upgrade the schema (Alembic)
    store.import_records("contacts", records)      # idempotent: inserted / updated / unchanged
    seqs = store.append_events(events, "http")     # the event log, in arrival order
    store.write(journal)                           # engine state changes, one transaction
    state = store.load_state()                     # … and back after a restart
    rows = store.claim_due(now, owner="p1")        # the ledger: pending → sending, compare-and-set

`Store` is a façade over the parts in playbook/runtime/storage/, each one table family on
one `Database` (connections, transactions, the fencing check):

    store.database         storage/database.py   transactions, upserts, schema (Alembic)
    store.event_log        storage/eventlog.py   events in, idempotent by id, marked processed
    store.journal          storage/journal.py    engine state: journals written, state loaded back
    store.ledger           storage/ledger.py     touches: claim, settle, requeue, receipts
    store.shard_leases     storage/leases.py     leases and the writer's fencing token
    store.contacts         storage/contacts.py   contacts and accounts imported and loaded
    store.playbook_versions storage/versions.py  playbook versions and their approvals
    store.forwards         storage/forwards.py   touches one shard decided for another's account
                           storage/waiting.py    what the store holds for a daemon's idle shards

Every method is one transaction. Write transactions on SQLite start with BEGIN IMMEDIATE,
so concurrent writers queue on the busy timeout instead of failing with "database is
locked" when a read lock cannot be upgraded; on PostgreSQL the ledger's compare-and-set
(`UPDATE … WHERE state IN (…) RETURNING`) makes two claimers of one touch end with one
winner. Tables are in schema.py; how values and times are stored is in codec.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from playbook.runtime import schema as s
from playbook.runtime.approvals import ApprovalRow
from playbook.runtime.rows import (
    ForwardRow,
    Journal,
    Settlement,
    State,
    StoreStatus,
    TouchRow,
    UpsertCounts,
    VersionRow,
)
from playbook.runtime.storage.contacts import IMPORTED, Contacts
from playbook.runtime.storage.database import (
    BATCH,
    BUSY_TIMEOUT,
    DB_ENV,
    DEFAULT_DB,
    Database,
    StoreError,
    default_url,
    key_text,
    normalize_url,
    sqlite_path,
    utcnow,
)
from playbook.runtime.storage.eventlog import EventLog, Logged, event_digest
from playbook.runtime.storage.fencing import STORE_SHARD, Fence, Holder, LeaseLost
from playbook.runtime.storage.forwards import Forwards
from playbook.runtime.storage.handoff import GENERATION, ShardMoved
from playbook.runtime.storage.journal import StateJournal
from playbook.runtime.storage.leases import Leases
from playbook.runtime.storage.ledger import SETTLED_STATES, Ledger, touch_row
from playbook.runtime.storage.routing import ShardCountRefused, record_count, shard_count
from playbook.runtime.storage.versions import PlaybookVersions
from playbook.runtime.storage.waiting import Waiting, waiting
from playbook.vocab.model import Event, StateEvent

__all__ = [
    "BATCH", "BUSY_TIMEOUT", "DB_ENV", "DEFAULT_DB", "IMPORTED", "SETTLED_STATES", "STORE_SHARD", "Fence", "Holder",
    "GENERATION", "LeaseLost", "Logged", "ShardCountRefused", "ShardMoved", "Store", "StoreError", "default_url", "event_digest", "key_text", "normalize_url",
    "sqlite_path",
]  # fmt: skip




class Store:
    def __init__(self, url: str | None = None, *, busy_timeout: float = BUSY_TIMEOUT,
                 now: Callable[[], dt.datetime] = utcnow, echo: bool = False,
                 idle_in_transaction: float | None = None, read_only: bool = False) -> None:  # fmt: skip
        self._parts(Database(url, busy_timeout=busy_timeout, now=now, echo=echo,
                             idle_in_transaction=idle_in_transaction, read_only=read_only))  # fmt: skip

    def _parts(self, database: Database) -> None:
        self.database = database
        self.event_log = EventLog(self.database)
        self.journal = StateJournal(self.database)
        self.ledger = Ledger(self.database)
        self.shard_leases = Leases(self.database)
        self.contacts = Contacts(self.database)
        self.playbook_versions = PlaybookVersions(self.database)
        self.forwards = Forwards(self.database)

    # ---- the database ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.database.url

    @property
    def dialect(self) -> str:
        return self.database.dialect

    @property
    def engine(self) -> Engine:
        return self.database.engine

    @property
    def now(self) -> Callable[[], dt.datetime]:
        """The bookkeeping clock (created_at, received_at, leases); tests pass their own."""
        return self.database.now

    @property
    def fence(self) -> Fence | None:
        """The lease this store's writes are made under: set by the daemon once it holds the
        writer's lease; from then on every write checks it first, in its own transaction."""
        return self.database.fence

    @fence.setter
    def fence(self, fence: Fence | None) -> None:
        self.database.fence = fence

    def close(self) -> None:
        self.database.close()

    # ---- shards (storage/routing.py) ------------------------------------------------------------
    def view(self, shard: int) -> Store:
        """This store as one shard's engine and dispatcher see it (the same connections):
        its reads find that shard's rows, its engine state is written under it, and its
        writes are fenced by that shard's own lease (`fence`). Not to be closed by itself."""
        view = object.__new__(Store)
        view._parts(self.database.view(shard))
        return view

    @property
    def shard(self) -> int | None:
        """The shard this store is a view of (None: the whole store)."""
        return self.database.shard

    def shard_count(self) -> int:
        """The store's count of shards (1 until a daemon recorded another)."""
        return shard_count(self.database)

    def waiting(self, shards: Collection[int], now: int) -> Waiting:
        """What the store holds for `shards` at `now`, in one query: their generations, which
        have events, touches due or forwards waiting, and the store-wide counts of imports and
        approval changes (storage/waiting.py: the daemon's idle shards)."""
        return waiting(self.database, shards, now)

    def record_shards(self, count: int) -> None:
        """Record the count of shards at a daemon's start; `ShardCountRefused` for another
        count than the recorded one (a store is never re-sharded) or more than one on SQLite."""
        record_count(self.database, count)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self, revision: str = "head") -> None:
        self.database.migrate(revision)

    def revision(self) -> str | None:
        return self.database.revision()

    @staticmethod
    def head() -> str:
        return Database.head()

    def check_schema(self) -> None:
        self.database.check_schema()

    # ---- playbook versions and approvals (storage/versions.py) ------------------------------------
    def save_version(self, document: Mapping[str, Any]) -> bool:
        return self.playbook_versions.save_version(document)

    def activate_version(self, version: str) -> None:
        self.playbook_versions.activate_version(version)

    def retire_version(self, version: str) -> None:
        self.playbook_versions.retire_version(version)

    def make_current(self, versions: Collection[str]) -> None:
        self.playbook_versions.make_current(versions)

    def versions(self, *, active: bool | None = None, documents: bool = True) -> list[VersionRow]:
        return self.playbook_versions.versions(active=active, documents=documents)

    def get_version(self, version: str) -> VersionRow | None:
        return self.playbook_versions.get_version(version)

    def request_approval(self, version: str, touches: int, policy: str, summary: Mapping[str, Any]) -> bool:
        return self.playbook_versions.request_approval(version, touches, policy, summary)

    def replace_pending(self, keep: Collection[str]) -> list[str]:
        return self.playbook_versions.replace_pending(keep)

    def decide_approval(self, version: str, state: str, by: str | None, note: str | None) -> ApprovalRow | None:
        return self.playbook_versions.decide_approval(version, state, by, note)

    def approvals(self) -> list[ApprovalRow]:
        return self.playbook_versions.approvals()

    # ---- contacts and accounts (storage/contacts.py) ------------------------------------------------
    def import_records(self, kind: str, records: Iterable[Mapping[str, Any]],
                       progress: Callable[[int], None] | None = None) -> UpsertCounts:  # fmt: skip
        return self.contacts.import_records(kind, records, progress)

    def imports(self) -> int:
        return self.contacts.imports()

    def contacts_changed_since(self, since: float) -> tuple[list[dict[str, Any]], set[str], list[dict[str, Any]]]:
        return self.contacts.contacts_changed_since(since)

    def load_contacts(self) -> tuple[list[dict[str, Any]], set[str]]:
        return self.contacts.load_contacts()

    def contact_accounts(self) -> dict[str, str | None]:
        return self.contacts.contact_accounts()

    def load_accounts(self) -> list[dict[str, Any]]:
        return self.contacts.load_accounts()

    # ---- the event log (storage/eventlog.py) --------------------------------------------------------
    def append_events(self, events: Sequence[Event], source: str) -> list[int]:
        return self.event_log.append(events, source)

    def log_events(self, events: Sequence[Event], source: str, ids: Sequence[str | None] | None = None, *,
                   all_or_nothing: bool = False) -> Logged:  # fmt: skip
        return self.event_log.log(events, source, ids, all_or_nothing=all_or_nothing)

    def prune_event_ids(self, before: dt.datetime) -> int:
        return self.event_log.prune_ids(before)

    def next_events(self, limit: int = 1000, after: int = 0) -> list[Event]:
        return self.event_log.unprocessed(limit, after)

    def mark_events(self, processed: Iterable[int] = (), rejected: Mapping[int, str] | None = None) -> None:
        self.event_log.mark(processed, rejected)

    def event_counts(self) -> dict[str, int]:
        return self.event_log.counts()

    # ---- engine state: the journal (storage/journal.py) ---------------------------------------------
    def write(self, journal: Journal) -> None:
        self.journal.write(journal)

    def load_state(self, versions: Collection[str] | None = None) -> State:
        return self.journal.load_state(versions)

    def state_events(self, *, contact: str | None = None, flow: str | None = None,
                     types: Collection[str] | None = None, version: str | None = None) -> list[StateEvent]:  # fmt: skip
        return self.journal.state_events(contact=contact, flow=flow, types=types, version=version)

    def reserve_seqs(self, count: int, name: str = "timers") -> int:
        return self.journal.reserve_seqs(count, name)

    def prune_counters(self, before: int) -> int:
        return self.journal.prune_counters(before)

    def engine_value(self, name: str) -> Any:
        return self.journal.engine_value(name)

    # ---- touches forwarded between shards (storage/forwards.py) ---------------------------------------
    def waiting_forwards(self) -> list[ForwardRow]:
        return self.forwards.waiting()

    def late_forwards(self, before: dt.datetime) -> dict[int, int]:
        return self.forwards.late(before)

    # ---- the ledger (storage/ledger.py) --------------------------------------------------------------
    def claim_due(self, now: int, owner: str, limit: int = 500,
                  accounts: Collection[str] | None = None) -> list[TouchRow]:  # fmt: skip
        return self.ledger.claim_due(now, owner, limit, accounts)

    def transition(self, keys: Iterable[str], expect: str | Collection[str], to: str, *,
                   expect_owner: str | None = None, **values: Any) -> list[str]:  # fmt: skip
        return self.ledger.transition(keys, expect, to, expect_owner=expect_owner, **values)

    def settle(self, results: Sequence[Settlement], owner: str) -> list[str]:
        return self.ledger.settle(results, owner)

    def touches(self, *, states: Collection[str] | None = None, keys: Collection[str] | None = None,
                owner: str | None = None, limit: int | None = None) -> list[TouchRow]:  # fmt: skip
        return self.ledger.touches(states=states, keys=keys, owner=owner, limit=limit)

    def requeue(self, state: str, *, before: int | None = None, keys: Collection[str] | None = None,
                actor: str, now: int) -> list[str]:  # fmt: skip
        return self.ledger.requeue(state, before=before, keys=keys, actor=actor, now=now)

    def ledger_actions(self) -> list[dict[str, Any]]:
        return self.ledger.ledger_actions()

    def awaiting_receipts(self, adapter: str, limit: int = 1000,
                          after: tuple[dt.datetime, str] | None = None) -> list[TouchRow]:  # fmt: skip
        return self.ledger.awaiting_receipts(adapter, limit, after)

    def record_receipts(self, receipts: Sequence[tuple[str, str, int | None]]) -> int:
        return self.ledger.record_receipts(receipts)

    def sent_in(self, name: str, start: int, end: int) -> list[tuple[str, str | None, str | None]]:
        return self.ledger.sent_in(name, start, end)

    # ---- leases (storage/leases.py) ------------------------------------------------------------------
    def acquire_lease(self, shard: int, owner: str, ttl: float) -> bool:
        return self.shard_leases.acquire(shard, owner, ttl)

    def release_lease(self, shard: int, owner: str) -> bool:
        return self.shard_leases.release(shard, owner)

    def take_lease(self, owner: str, ttl: float, *, host: str, pid: int,
                   shard: int = STORE_SHARD) -> int | Holder:  # fmt: skip
        return self.shard_leases.take(owner, ttl, host=host, pid=pid, shard=shard)

    def renew_lease(self, fence: Fence, ttl: float) -> bool:
        return self.shard_leases.renew(fence, ttl)

    def give_up_lease(self, fence: Fence) -> bool:
        return self.shard_leases.give_up(fence)

    def lease_holder(self, shard: int = STORE_SHARD) -> Holder | None:
        return self.shard_leases.holder(shard)

    def leases(self) -> list[tuple[int, str | None, dt.datetime | None]]:
        return self.shard_leases.all()

    def heartbeat(self, owner: str, ttl: float, *, host: str, pid: int) -> None:
        self.shard_leases.heartbeat(owner, ttl, host=host, pid=pid)

    def leave(self, owner: str) -> None:
        self.shard_leases.leave(owner)

    def processes(self, *, live: bool = True) -> list[Any]:
        return self.shard_leases.processes(live=live)

    def forget_processes(self, before: dt.datetime) -> int:
        return self.shard_leases.forget_processes(before)

    def free_shards(self, count: int) -> list[int]:
        return self.shard_leases.free(count)

    def lease_rows(self) -> list[Any]:
        return self.shard_leases.rows()

    # ---- status ---------------------------------------------------------------------------------------------
    def status(self, latest: int = 10) -> StoreStatus:
        """Counts for `playbook status`, in one snapshot."""
        to, ev, en, ti, co = s.touches, s.events, s.enrolments, s.timers, s.contacts

        def by(conn: Connection, column: sa.Column) -> dict[str, int]:
            return dict(conn.execute(sa.select(column, sa.func.count()).group_by(column)).all())

        def last(conn: Connection, states: Sequence[str]) -> list[TouchRow]:
            query = sa.select(to).where(to.c.state.in_(states)).order_by(to.c.updated_at.desc(), to.c.key).limit(latest)
            return [touch_row(r) for r in conn.execute(query)]

        with self.database.read() as conn:
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
