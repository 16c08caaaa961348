"""Touches one shard's engine decides for an account another shard owns (`forwards`).

An SLA's escalation is a task for a supervisor's account: it counts against the
supervisor's limits, which are kept in the supervisor's shard only. So the customer's shard
does not request it; it forwards it (`Engine.forward`): the row is written in the same
transaction as that shard's journal (`send`), fenced by its token like every write of it,
and routed by the rule every row follows — the shard of the account it is for. The
receiving shard's engine reads its rows at each step (`Forwards.waiting`), requests them
with its own limits, quiet hours and order, and deletes them in the commit of that step
(`take`): a crash before that commit leaves them to be read again, and the ledger row with
the same key, written in that commit, is the record that it was taken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s
from playbook.runtime.rows import ForwardRow
from playbook.runtime.storage.database import Database, chunks
from playbook.runtime.storage.routing import shard_count
from playbook.vocab.shards import shard_of


def send(conn: Connection, db: Database, rows: Sequence[ForwardRow], sender: int) -> None:
    """Write forwarded touches, each to its account's shard, inside the sender's journal
    transaction (a key already waiting is left as it is)."""
    if not rows:
        return
    count, now = shard_count(db, conn), db.now()
    values = [{"key": r.key, "shard": shard_of(r.account, count), "sender": sender, "due": r.due,
               "version": r.version, "account": r.account, "contact": r.contact, "request": _request(r),
               "created_at": now} for r in rows]  # fmt: skip
    stmt = db.insert(s.forwards).on_conflict_do_nothing(index_elements=["key"])
    for chunk in chunks(values):
        conn.execute(stmt, list(chunk))


def take(conn: Connection, shard: int, keys: Sequence[str]) -> None:
    """The receiving shard's step requested these: they go, inside its journal transaction."""
    fw = s.forwards
    for chunk in chunks(list(keys)):
        conn.execute(fw.delete().where(fw.c.shard == shard, fw.c.key.in_(chunk)))


def _request(row: ForwardRow) -> dict[str, Any]:
    return {"flow": row.flow, "step": row.step, "step_order": row.step_order, "priority": row.priority,
            "text": row.text}  # fmt: skip


def _row(r: Any) -> ForwardRow:
    q = r.request
    return ForwardRow(r.key, r.due, r.version, r.account, r.contact, q["flow"], q["step"], q["step_order"],
                      q["priority"], q["text"])  # fmt: skip


class Forwards:
    def __init__(self, db: Database) -> None:
        self.db = db

    def waiting(self) -> list[ForwardRow]:
        """The forwarded touches waiting for this shard's engine, by (due, key)."""
        fw = s.forwards
        query = sa.select(fw).where(fw.c.shard == self.db.own_shard).order_by(fw.c.due, fw.c.key)
        with self.db.read() as conn:
            return [_row(r) for r in conn.execute(query)]

    def late(self, before: dt.datetime) -> dict[int, int]:
        """Forwarded touches written before `before` and not taken yet, by receiving shard
        (`playbook status`: a shard nobody runs, or one that cannot take them)."""
        fw = s.forwards
        query = sa.select(fw.c.shard, sa.func.count()).where(fw.c.created_at < before).group_by(fw.c.shard)
        with self.db.read() as conn:
            return {int(shard): int(n) for shard, n in conn.execute(query)}
