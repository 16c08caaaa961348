"""A contact handed over to another shard, and each shard engine's generation.

When an event or an import moves a contact to an account of another shard, the shard that
decided it hands the contact over in the same transaction as its journal (`hand_over`):
the contact's row, enrolments, segment matches and SLA watches (`flow_state` rows named by
it), held touches, contact-scoped limit counts, the timeline items that name it (numbered
again after the other shard's own) and its unprocessed events move to the other shard;
group memberships and account-scoped counts stay where they were made, ledger rows
already decided are sent by the shard that decided them, and a supervisor's escalation
task about the contact (held, or forwarded: storage/forwards.py) stays with the
supervisor's account. The other shard's generation is
bumped first: its engine's next commit finds another generation than it was built at and is
refused (`ShardMoved`, nothing written), and its owner builds it again from the store.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s
from playbook.runtime.rows import Handoff
from playbook.runtime.storage.database import Database, chunks

GENERATION = "generation"  # engine_state, per shard: bumped when a contact is handed over to it


class ShardMoved(Exception):
    """A shard's engine is older than its store: a contact was handed over to the shard
    since the engine was built. Nothing was written; build the engine again."""


def generation_of(conn: Connection, db: Database, shard: int, *, lock: bool = False) -> int:
    es = s.engine_state
    query = sa.select(es.c.value).where(es.c.shard == shard, es.c.name == GENERATION)
    if lock and db.dialect == "postgresql":
        query = query.with_for_update(read=True)  # a hand-over to this shard waits for our commit
    return int(conn.execute(query).scalar_one_or_none() or 0)


def check_generation(conn: Connection, db: Database, shard: int, expected: int) -> None:
    """First in a shard engine's write: refuse it when a contact was handed over meanwhile."""
    if generation_of(conn, db, shard, lock=True) != expected:
        raise ShardMoved(f"shard {shard} took a contact over since its engine was built")


def generation_rows(db: Database, count: int) -> list[dict[str, Any]]:
    """Every shard's generation row at 0 (made when the count is recorded, so a check always
    finds a row to lock)."""
    return [{"shard": shard, "name": GENERATION, "value": 0, "updated_at": db.now()} for shard in range(count)]


def hand_over(conn: Connection, db: Database, shard: int, cid: str, handoff: Handoff) -> None:
    """Move contact `cid` from `shard` to `handoff.shard`, inside the caller's transaction."""
    to = handoff.shard
    es = s.engine_state
    now = db.now()
    # the receiving shard's generation first: its in-flight commit finishes before we go on, later ones are refused
    db.upsert(conn, es, [{"shard": to, "name": GENERATION, "value": generation_of(conn, db, to) + 1,
                          "updated_at": now}])  # fmt: skip
    ti = s.timers
    top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(ti.c.seq), 0)).where(ti.c.shard == to)).scalar_one()
    for i, seq in enumerate(sorted(handoff.timers)):  # numbered after the receiving shard's own items
        conn.execute(ti.update().where(ti.c.shard == shard, ti.c.seq == seq).values(shard=to, seq=int(top) + 1 + i))
    co, en, fs, to_, ev = s.contacts, s.enrolments, s.flow_state, s.touches, s.events
    conn.execute(co.update().where(co.c.id == cid, co.c.shard == shard).values(shard=to))
    conn.execute(en.update().where(en.c.contact == cid, en.c.shard == shard).values(shard=to))
    named = sa.or_(fs.c.runner.like("journey:%"), fs.c.runner.like("sla:%"))  # items that are contacts
    conn.execute(fs.update().where(fs.c.shard == shard, fs.c.item == cid, named).values(shard=to))
    for chunk in chunks(handoff.held):  # its held touches (not a supervisor's escalation task about it)
        conn.execute(to_.update().where(to_.c.key.in_(chunk), to_.c.state == "held", to_.c.shard == shard)
                     .values(shard=to))  # fmt: skip
    conn.execute(ev.update().where(ev.c.contact == cid, ev.c.status == "new").values(shard=to))
    c = s.limit_counters
    for chunk in chunks(handoff.counters):
        for scope, rule, scope_id, start in chunk:
            conn.execute(c.update().where(c.c.scope == scope, c.c.rule == rule, c.c.scope_id == scope_id,
                                          c.c.period_start == start, c.c.shard == shard).values(shard=to))  # fmt: skip
