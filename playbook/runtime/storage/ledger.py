"""The ledger: one row per touch, moved through its states by compare-and-set — claimed
(`claim_due`: pending → sending), settled (`settle`), moved by hand (`requeue`, recorded in
`ledger_actions`), its platform receipts recorded; and what a playbook let go in a period
(`sent_in`). On PostgreSQL `UPDATE … WHERE state IN (…) RETURNING` makes two claimers of
one touch end with one winner; on SQLite the write transaction keeps other writers out."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.runtime import schema as s
from playbook.runtime.codec import stored_reason
from playbook.runtime.rows import Settlement, TouchRow
from playbook.runtime.storage.database import Database, chunks

SETTLED_STATES = ("sent", "failed", "dead", "unknown", "pending")


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        if self.db.shard is not None:  # a shard's view claims that shard's rows only
            due = sa.and_(due, t.c.shard == self.db.shard)
        with self.db.write() as conn:
            if self.db.dialect == "sqlite":
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
        if accounts is None and self.db.shard is None:
            pick: Any = sa.text(
                f"SELECT rowid FROM touches INDEXED BY ix_touches_due WHERE state IN "
                f"({', '.join(repr(state) for state in s.DUE_STATES)}) AND next_attempt_at <= :now "
                "ORDER BY next_attempt_at, rowid LIMIT :limit"
            ).bindparams(now=now, limit=limit)
        else:  # the planner takes ix_touches_account_due / ix_touches_shard_due by itself
            d = t.alias("due")
            mine = [d.c.account.in_(list(accounts))] if accounts is not None else []
            if self.db.shard is not None:
                mine.append(d.c.shard == self.db.shard)
            pick = (
                sa.select(sa.literal_column("rowid"))
                .where(d.c.state.in_(s.DUE_STATES), d.c.next_attempt_at <= now, *mine)
                .order_by(d.c.next_attempt_at, sa.literal_column("rowid"))
                .limit(limit)
            )
        stmt = (
            t.update()
            .where(sa.literal_column("rowid").in_(pick), due)  # `due` again: the compare-and-set, where rows change
            .values(state="sending", owner=owner, attempts=t.c.attempts + 1, updated_at=self.db.now())
            .returning(t)
        )
        return touch_rows(conn.execute(stmt))

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
        with self.db.write() as conn:
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
        for chunk in chunks(sorted(keys)):
            if self.db.dialect == "postgresql":
                # lock the rows in key order first: two overlapping claims then queue
                # instead of deadlocking on rows locked in different orders
                conn.execute(sa.select(t.c.key).where(t.c.key.in_(chunk)).order_by(t.c.key).with_for_update())
            cond = [t.c.key.in_(chunk), t.c.state.in_(expect)]
            if extra is not None:
                cond.append(extra)
            stmt = t.update().where(*cond).values(state=to, updated_at=self.db.now(), **values).returning(t)
            out += touch_rows(conn.execute(stmt))
        return out

    def settle(self, results: Sequence[Settlement], owner: str) -> list[str]:
        """Record how claimed touches ended (sent, failed, dead …), each only if it is
        still `sending` and ours; the keys that were not (someone reconciled them)."""
        if not results:
            return []
        for r in results:
            if r.state not in SETTLED_STATES:
                raise ValueError(f"a claimed touch cannot become {r.state!r}")
        t = s.touches
        now = self.db.now()
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
        with self.db.write() as conn:
            for values, keys in alike.items():
                bound = dict(zip(("b_state", "b_error", "b_adapter", "b_ref", "b_next", "b_undo"), values, strict=True))
                if len(keys) == 1:
                    singles.append({"b_key": keys[0], **bound})
                    continue
                for chunk in chunks(keys):
                    moved += conn.execute(many, {"b_keys": list(chunk), **bound}).rowcount
            if singles and conn.dialect.supports_sane_multi_rowcount:
                moved += conn.execute(one, singles).rowcount
            else:
                moved += sum(conn.execute(one, p).rowcount for p in singles)
            return [] if moved == len(results) else _not_settled(conn, results, owner)

    def touches(self, *, states: Collection[str] | None = None, keys: Collection[str] | None = None,
                owner: str | None = None, limit: int | None = None) -> list[TouchRow]:  # fmt: skip
        """Ledger rows (by key order), filtered."""
        t = s.touches
        query = sa.select(t).where(self.db.in_shard(t.c.shard)).order_by(t.c.key)
        if states is not None:
            query = query.where(t.c.state.in_(list(states)))
        if keys is not None:
            query = query.where(t.c.key.in_(list(keys)))
        if owner is not None:
            query = query.where(t.c.owner == owner)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as conn:
            return [touch_row(r) for r in conn.execute(query)]

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
        with self.db.write() as conn:
            found = list(conn.execute(query).scalars())
            moved = [r.key for r in self._cas(conn, found, (state,), "pending", owner=None, next_attempt_at=now,
                                              error=None)] if found else []  # fmt: skip
            criteria = {"state": state, "before": before, "keys": sorted(keys) if keys is not None else None}
            conn.execute(sa.insert(s.ledger_actions).values(at=self.db.now(), action="requeue", actor=actor,
                                                             criteria=criteria, keys=moved))  # fmt: skip
        return moved

    def ledger_actions(self) -> list[dict[str, Any]]:
        """What operators did to the ledger by hand, oldest first."""
        t = s.ledger_actions
        with self.db.read() as conn:
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
            .where(t.c.state == "sent", t.c.receipt.is_(None), t.c.adapter_ref.is_not(None), t.c.adapter == adapter,
                   self.db.in_shard(t.c.shard))
            .order_by(t.c.updated_at, t.c.key)
            .limit(limit)
        )
        if after is not None:
            query = query.where(sa.tuple_(t.c.updated_at, t.c.key) > sa.tuple_(*after))
        with self.db.read() as conn:
            return [touch_row(r) for r in conn.execute(query)]

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
        with self.db.write() as conn:
            return conn.execute(stmt, params).rowcount

    def sent_in(self, name: str, start: int, end: int) -> list[tuple[str, str | None, str | None]]:
        """The touches the versions of playbook `name` let go (ok or deferred) in [start, end):
        (channel, account, contact) — what a limit added by an edit counts from; the contact
        None for a touch that counts for its account only (an SLA's escalation task)."""
        to, v = s.touches, s.playbook_versions
        query = (
            sa.select(to.c.channel, to.c.account, to.c.contact, to.c.request)
            .where(to.c.version.in_(sa.select(v.c.version).where(v.c.name == name)))
            .where(to.c.outcome.in_(("ok", "deferred")), to.c.at >= start, to.c.at < end, self.db.in_shard(to.c.shard))
        )
        with self.db.read() as conn:
            return [(r.channel, r.account, None if (r.request or {}).get("account_only") else r.contact)
                    for r in conn.execute(query)]  # fmt: skip


def _not_settled(conn: Connection, results: Sequence[Settlement], owner: str) -> list[str]:
    """The settlements that did not match (their touches are not in the state we set, or
    not ours): what `settle` reports when fewer rows moved than it settled."""
    t = s.touches
    want = {r.key: r.state for r in results}
    ok: set[str] = set()
    for chunk in chunks(list(want)):
        found = conn.execute(sa.select(t.c.key, t.c.state, t.c.owner).where(t.c.key.in_(chunk)))
        ok |= {k for k, state, who in found if state == want[k] and who == owner}
    return [r.key for r in results if r.key not in ok]


def touch_rows(result: Any) -> list[TouchRow]:
    """Ledger rows from a result of whole `touches` rows, read by position (reading
    each row's 28 columns by name, as `touch_row` does, took longer than a claim's SQL)."""
    names = ["group" if name == "group_id" else name for name in result.keys()]
    order = itemgetter(*(names.index(f.name) for f in dataclasses.fields(TouchRow)))
    code, args = names.index("reason_code"), names.index("reason_args")
    rows = []
    for row in result:
        touch = TouchRow(*order(row))
        touch.reason = stored_reason(touch.reason, row[code], row[args])
        rows.append(touch)
    return rows


def touch_row(r: Any) -> TouchRow:
    """A `touches` row read by name."""
    return TouchRow(key=r.key, version=r.version, flow=r.flow, step=r.step, channel=r.channel, due=r.due,
                    state=r.state, account=r.account, contact=r.contact, group=r.group_id, at=r.at,
                    content=r.content, text=r.text, parts=r.parts, audience=r.audience, outcome=r.outcome,
                    reason=stored_reason(r.reason, r.reason_code, r.reason_args), error=r.error, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                    owner=r.owner, adapter=r.adapter, adapter_ref=r.adapter_ref, request=r.request,
                    receipt=r.receipt, receipt_at=r.receipt_at, created_at=r.created_at,
                    updated_at=r.updated_at)  # fmt: skip
