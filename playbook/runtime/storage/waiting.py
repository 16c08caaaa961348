"""What the store holds for a daemon's idle shards (scale-out, docs/daemon.md): one query a
loop iteration for every idle shard a process runs, instead of each shard's full turn.

Per shard: its generation (storage/handoff.py: bumped when a contact is handed over to it),
and whether it has unprocessed events (its own, and those a hand-over moved to it), ledger
rows a claim would take now (`pending`, or `failed` whose retry time has come — the
condition of `Ledger.claim_due`, a `playbook requeue` included) or forwards waiting
(storage/forwards.py). Store-wide: the count of imports (storage/contacts.py) and of changes
to approvals (storage/versions.py).

Each per-shard test reads the shard's own range of an index on (shard, …) — the partial
ones of new events (`ix_events_shard_new`) and of due touches (`ix_touches_shard_due`),
`ix_forwards_shard` — up to its first row; for an idle shard that range is empty. It asks
for the first row by (shard, …) of a shard range rather than for any row of `shard = …`:
with EXISTS, LIMIT 1 or a count, PostgreSQL expects a match among the first rows of any
index and may read the index of every shard's new events or due touches instead — the
backlog of the busy shards, again for every idle shard. (Statistics that do not know of a
backlog yet can still mislead it, as they do the daemon's own read of a shard's events.)
The states are spelled as literals, as in the partial indexes' WHERE, so that a generic
plan still uses them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from playbook.runtime import schema as s
from playbook.runtime.storage.contacts import IMPORTED
from playbook.runtime.storage.database import Database
from playbook.runtime.storage.handoff import GENERATION
from playbook.runtime.storage.versions import APPROVALS


@dataclass(frozen=True)
class Waiting:
    """What `waiting` found."""

    generations: dict[int, int]  # shard -> its generation (a shard without a row is missing)
    busy: frozenset[int]  # shards with unprocessed events, touches due or forwards waiting
    imports: int  # store-wide: imports so far (`Store.imports`)
    approvals: int  # store-wide: approvals asked, decided or replaced so far


def _literals(values: Collection[str]) -> list[sa.ColumnElement]:
    return [sa.literal_column(f"'{value}'") for value in values]


def _first(table: sa.Table, shard: sa.ColumnElement, order: sa.Column, *where: sa.ColumnElement) -> sa.ColumnElement:
    """Whether `table` has a row of `shard` that `where` says: its first by (shard, `order`),
    read from the index on those columns up to that row."""
    mine = (table.c.shard >= shard, table.c.shard <= shard)
    first = sa.select(order).where(*mine, *where).order_by(table.c.shard, order).limit(1)
    return first.scalar_subquery().is_not(None)


def waiting(db: Database, shards: Collection[int], now: int) -> Waiting:
    """What the store holds for `shards` at `now` (one statement, one read transaction)."""
    es, ev, to, fw = s.engine_state, s.events, s.touches, s.forwards
    row = es.alias("row")
    events = _first(ev, row.c.shard, ev.c.seq, ev.c.status == sa.literal_column("'new'"))
    due = _first(to, row.c.shard, to.c.next_attempt_at, to.c.state.in_(_literals(s.DUE_STATES)),
                 to.c.next_attempt_at <= now)  # fmt: skip
    forwards = _first(fw, row.c.shard, fw.c.due)
    mine = sa.and_(row.c.name == GENERATION, row.c.shard.in_(list(shards)))
    wide = sa.and_(row.c.shard == 0, row.c.name.in_((IMPORTED, APPROVALS)))
    query = sa.select(row.c.shard, row.c.name, row.c.value, sa.or_(events, due, forwards)).where(sa.or_(mine, wide))
    generations: dict[int, int] = {}
    busy: set[int] = set()
    counts: dict[str, int] = {}
    with db.read() as conn:
        for shard, name, value, work in conn.execute(query):
            if name == GENERATION:
                generations[shard] = int(value or 0)
                if work:
                    busy.add(shard)
            else:
                counts[name] = int(value or 0)
    return Waiting(generations, frozenset(busy), counts.get(IMPORTED, 0), counts.get(APPROVALS, 0))
