"""The event log: events stored first and processed later, so a crash loses none
(`append`), logged once by id for idempotent intake (`log`), read back in arrival order
(`unprocessed`) and marked processed or rejected (`mark`, or `mark_in` inside a journal's
transaction). On PostgreSQL appends are serialised by an advisory lock, so sequence order
is also commit order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s
from playbook.runtime.codec import encode
from playbook.runtime.storage.database import Database, chunks, key_text
from playbook.runtime.storage.routing import routes, shard_count
from playbook.vocab.model import Event


@dataclasses.dataclass
class Logged:
    """What `EventLog.log` (`Store.log_events`) did with each event."""

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


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, events: Sequence[Event], source: str) -> list[int]:
        """Log events (stored first, processed later: a crash loses none); their sequence
        numbers, in the order given. On PostgreSQL appends are serialised, so sequence
        order is also commit order and a reader never skips past one still committing."""
        if source not in s.EVENT_SOURCES:
            raise ValueError(f"unknown event source {source!r}")
        if not events:
            return []
        if any("id" in e.data for e in events):  # idempotent: a repeated id gives the first event's seq
            logged = self.log(events, source)
            if logged.conflicts:
                raise ValueError(f"event {logged.conflicts[0]}: its id is already taken by a different event")
            return [seq for seq in logged.seqs if seq is not None]
        # not fenced: events are inputs, which any process may log (`playbook event` does too)
        with self.db.write(lock="events", fenced=False) as conn:
            return self._append(conn, events, source)

    def log(self, events: Sequence[Event], source: str, ids: Sequence[str | None] | None = None, *,
            all_or_nothing: bool = False) -> Logged:  # fmt: skip
        """Log events that carry an id once (idempotent intake). An event's id is its
        `data["id"]` unless `ids` gives one per event (None: no id; the HTTP intake names
        the events of a signed request by its signature). An id already taken — by an
        earlier event or an earlier one in `events` — by the same event (same type,
        contact, time and data) is a repeat: acknowledged with the first one's seq and not
        stored again; taken by a different event, it is a conflict and that event is not
        stored (with `all_or_nothing`, then nothing is). Ids are remembered until
        `prune_ids` forgets them (the daemon: after `[intake] remember_ids`)."""
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
        with self.db.write(lock="events", fenced=False) as conn:  # not fenced: events are inputs (above)
            known: dict[str, tuple[int, str]] = {}  # id -> (seq, digest), stored before
            wanted = sorted({i for i in names if i is not None})
            for chunk in chunks(wanted):
                query = sa.select(t.c.id, t.c.seq, t.c.digest).where(t.c.id.in_(chunk))
                known.update({i: (seq, digest) for i, seq, digest in conn.execute(query)})
            store, first = _sort_by_id(names, digests, known, logged)
            if logged.conflicts and all_or_nothing:
                return Logged([None] * len(events), conflicts=logged.conflicts)
            seqs = self._append(conn, [events[i] for i in store], source)
            for index, seq in zip(store, seqs, strict=True):
                logged.seqs[index] = seq
            for index in logged.repeated:
                name = names[index]
                assert name is not None
                logged.seqs[index] = known[name][0] if name in known else logged.seqs[first[name]]
            now = self.db.now()
            rows = [{"id": name, "seq": logged.seqs[index], "digest": digests[index], "received_at": now}
                    for name, index in first.items()]  # fmt: skip
            for chunk in chunks(rows):
                conn.execute(sa.insert(t), list(chunk))
        return logged

    def _append(self, conn: Connection, events: Sequence[Event], source: str) -> list[int]:
        now = self.db.now()
        shards = routes(conn, events, shard_count(self.db, conn))  # each to its contact's shard
        rows = [{"received_at": now, "at": e.at, "type": e.type, "contact": key_text(e.contact), "data": e.data,
                 "source": source, "status": "new", "shard": shard}
                for e, shard in zip(events, shards, strict=True)]  # fmt: skip
        stmt = sa.insert(s.events).returning(s.events.c.seq, sort_by_parameter_order=True)
        return [seq for chunk in chunks(rows) for (seq,) in conn.execute(stmt, list(chunk))]

    def prune_ids(self, before: dt.datetime) -> int:
        """Forget the event ids received before `before`; how many."""
        t = s.event_ids
        with self.db.write() as conn:
            return conn.execute(t.delete().where(t.c.received_at < before)).rowcount

    def unprocessed(self, limit: int = 1000, after: int = 0) -> list[Event]:
        """The oldest unprocessed events, in arrival order; each Event's seq is its log number."""
        t = s.events
        query = (sa.select(t.c.type, t.c.contact, t.c.at, t.c.data, t.c.seq)
                 .where(t.c.status == "new", t.c.seq > after, self.db.in_shard(t.c.shard))
                 .order_by(t.c.seq).limit(limit))  # fmt: skip
        with self.db.read() as conn:
            return [Event(*row) for row in conn.execute(query)]

    def mark(self, processed: Iterable[int] = (), rejected: Mapping[int, str] | None = None) -> None:
        with self.db.write() as conn:
            mark_in(conn, self.db.now(), list(processed), dict(rejected or {}))

    def counts(self) -> dict[str, int]:
        t = s.events
        with self.db.read() as conn:
            return dict(conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status)).all())


def _sort_by_id(names: Sequence[str | None], digests: Sequence[str], known: Mapping[str, tuple[int, str]],
                logged: Logged) -> tuple[list[int], dict[str, int]]:  # fmt: skip
    """Which events to store (their indices) and which id each of them takes now (id ->
    index); the repeats and conflicts (against `known`, the ids stored before, and the
    earlier events of this batch) go into `logged`."""
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
    return store, first


def mark_in(conn: Connection, now: dt.datetime, processed: list[int], rejected: dict[int, str]) -> None:
    """Mark events processed or rejected (with why), inside the caller's transaction."""
    t = s.events
    for chunk in chunks(processed):
        conn.execute(t.update().where(t.c.seq.in_(chunk)).values(status="processed", processed_at=now))
    if rejected:
        stmt = (
            t.update()
            .where(t.c.seq == sa.bindparam("b_seq"))
            .values(status="rejected", processed_at=now, reason=sa.bindparam("b_reason"))
        )
        conn.execute(stmt, [{"b_seq": k, "b_reason": v} for k, v in rejected.items()])
