"""Which shard a row belongs to, and the store's count of shards.

A shard is everything of the staff accounts that hash to it (`vocab.shards.shard_of`).
A contact's shard is its **route**: the `shard` of its `contacts` row once it has one;
before that (its first events came before any import or commit), the shard of its
latest stored event; on first sight, the shard of the event's `account`, else 0. An
event is stored with its contact's route, so the engine of that shard takes it.

The count is recorded once (engine_state, shard 0, "shards") when a daemon first starts
with `[daemon] shards`; a store without one is a one-shard store (every row shard 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.i18n import t
from playbook.runtime import schema as s
from playbook.runtime.storage.database import Database, chunks, key_text
from playbook.runtime.storage.handoff import generation_rows
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of

SHARDS = "shards"  # engine_state (shard 0): the store's count of shards


class ShardCountRefused(Exception):
    """The configuration asks for another count of shards than the store has: the store is
    not re-sharded silently (or a store on SQLite was asked for more than one)."""


def recorded_count(conn: Connection) -> int | None:
    es = s.engine_state
    value = conn.execute(sa.select(es.c.value).where(es.c.shard == 0, es.c.name == SHARDS)).scalar_one_or_none()
    return None if value is None else int(value)


def shard_count(db: Database, conn: Connection | None = None) -> int:
    """The store's count of shards (1 when none is recorded), read in `conn` or a read of its
    own. Kept once it is recorded: it never changes afterwards."""
    if db.shard_count is not None:
        return db.shard_count
    if conn is None:
        with db.read() as own:
            count = recorded_count(own)
    else:
        count = recorded_count(conn)
    db.shard_count = count
    return count or 1


def record_count(db: Database, count: int) -> None:
    """Record the count of shards at a daemon's start, or refuse another count than the
    recorded one. A store without a count whose engine never ran (only imported contacts
    and events waiting) takes any count: its contacts and waiting events are routed now.
    One that ran is a one-shard store."""
    if count < 1:
        raise ShardCountRefused(t("[daemon] shards must be 1 or more, not {n}", n=count))
    if count > 1 and db.dialect == "sqlite":
        raise ShardCountRefused(t("[daemon] shards = {n}: scale-out needs PostgreSQL; a SQLite store has one shard "
                                  "(leave shards at 1, or use a postgresql:// store)", n=count))  # fmt: skip
    with db.write(fenced=False) as conn:
        have = recorded_count(conn)
        if have is None and count > 1 and _has_run(conn):
            have = 1
        if have is not None and have != count:
            raise ShardCountRefused(t("the store has {have} shards and the configuration asks for {want} ([daemon] "
                                      "shards): a store is never re-sharded; set shards = {have}", have=have,
                                      want=count))  # fmt: skip
        if have is None:
            if count > 1:
                _route_all(conn, count)
                db.upsert(conn, s.engine_state, generation_rows(db, count))
            db.upsert(conn, s.engine_state, [{"shard": 0, "name": SHARDS, "value": count, "updated_at": db.now()}])
    db.shard_count = count


def _has_run(conn: Connection) -> bool:
    """Whether an engine has written state (a timeline, touches, enrolments) in this store."""
    return any(conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first() is not None
               for table in (s.timers, s.touches, s.enrolments))  # fmt: skip


def _route_all(conn: Connection, count: int) -> None:
    """Imported contacts and the events waiting for them, into their shards (a store whose
    engine never ran, at the first start with `count` shards)."""
    co, ev = s.contacts, s.events
    rows = [{"b_id": cid, "b_shard": shard_of(account, count)} for cid, account in conn.execute(
        sa.select(co.c.id, co.c.account))]  # fmt: skip
    stmt = co.update().where(co.c.id == sa.bindparam("b_id")).values(shard=sa.bindparam("b_shard"))
    for chunk in chunks(rows):
        conn.execute(stmt, list(chunk))
    waiting = [Event(type_, contact, at, data, seq) for type_, contact, at, data, seq in conn.execute(
        sa.select(ev.c.type, ev.c.contact, ev.c.at, ev.c.data, ev.c.seq).order_by(ev.c.seq))]  # fmt: skip
    shards = routes(conn, waiting, count)
    stmt = ev.update().where(ev.c.seq == sa.bindparam("b_seq")).values(shard=sa.bindparam("b_shard"))
    moves = [{"b_seq": e.seq, "b_shard": shard} for e, shard in zip(waiting, shards, strict=True) if shard]
    for chunk in chunks(moves):
        conn.execute(stmt, list(chunk))


def routes(conn: Connection, events: Sequence[Event], count: int) -> list[int]:
    """The shard each event goes to (its contact's route; see the module's docstring), in
    order: a contact seen first in this batch keeps the shard its first event gave it."""
    if count <= 1 or not events:
        return [0] * len(events)
    ids = sorted({key_text(e.contact) for e in events})
    known = contact_routes(conn, ids)
    out = []
    for event in events:
        cid = key_text(event.contact)
        if cid not in known:
            known[cid] = first_sight(event.data, count)
        out.append(known[cid])
    return out


def contact_routes(conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """The stored routes of these contacts: their row's shard, else their latest event's."""
    co, ev = s.contacts, s.events
    known: dict[str, int] = {}
    for chunk in chunks(list(ids)):
        known.update(
            (cid, shard) for cid, shard in conn.execute(sa.select(co.c.id, co.c.shard).where(co.c.id.in_(chunk)))
        )
    missing = [cid for cid in ids if cid not in known]
    for chunk in chunks(missing):
        latest = (sa.select(ev.c.contact, sa.func.max(ev.c.seq).label("seq")).where(ev.c.contact.in_(chunk))
                  .group_by(ev.c.contact).subquery())  # fmt: skip
        query = sa.select(ev.c.contact, ev.c.shard).join(latest, ev.c.seq == latest.c.seq)
        known.update((cid, shard) for cid, shard in conn.execute(query))
    return known


def first_sight(fields: Mapping[str, Any], count: int) -> int:
    """A contact's shard when nothing is stored of it yet: its account's (none: 0)."""
    account = fields.get("account")
    return shard_of(None if account is None else key_text(account), count)
