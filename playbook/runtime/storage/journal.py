"""The engine's state: journals of changes written in one transaction each (`write`),
everything an engine needs to resume read back in one snapshot (`load_state`), the state
event log, timer sequence numbers, limit counters and the engine's bookkeeping values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa

from playbook.runtime import schema as s
from playbook.runtime.codec import reason_columns, stored_reason
from playbook.runtime.rows import CounterRow, EnrolmentRow, GroupRow, Journal, State, TimerRow, TouchRow
from playbook.runtime.storage.contacts import account_of, read_accounts, read_contacts
from playbook.runtime.storage.database import Database, chunks, key_text
from playbook.runtime.storage.eventlog import mark_in
from playbook.runtime.storage.forwards import send, take
from playbook.runtime.storage.handoff import check_generation, hand_over
from playbook.runtime.storage.ledger import touch_row
from playbook.vocab.model import StateEvent
from playbook.vocab.reasons import EXIT_CODES, Reason

COMPLETED = "completed"  # an enrolment's exit when it went through every step (engine/flows.py): not a reason code


class StateJournal:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write(self, journal: Journal) -> None:
        """Apply a journal of engine-state changes in one transaction (see `Journal`)."""
        if not journal:
            return
        now = self.db.now()
        sh = self.db.own_shard  # every row of an engine's state is filed under its shard
        with self.db.write() as conn:
            j = journal
            if j.generation is not None and self.db.shard is not None:
                check_generation(conn, self.db, sh, j.generation)
            self.db.upsert(conn, s.accounts, [
                {"id": key_text(r["id"]), "fields": {k: v for k, v in r.items() if k != "id"}, "updated_at": now}
                for r in j.accounts
            ])  # fmt: skip
            self.db.upsert(conn, s.contacts, [
                {"id": key_text(r["id"]), "account": account_of(r), "fields": {k: v for k, v in r.items() if k != "id"},
                 "deleted": r["id"] in j.deleted_contacts, "updated_at": now, "shard": sh}
                for r in j.contacts
            ])  # fmt: skip
            self.db.delete(conn, s.enrolments, j.enrolments_removed)
            self.db.upsert(conn, s.enrolments, [{**_enrolment(r), "shard": sh} for r in j.enrolments])
            ti = s.timers
            for chunk in chunks(j.timers_removed):  # a shard's view: its own items (each shard numbers its own)
                conn.execute(ti.delete().where(ti.c.seq.in_(chunk), self.db.in_shard(ti.c.shard)))
            self.db.upsert(conn, s.timers, [_timer(r) if self.db.shard is None else {**_timer(r), "shard": sh}
                                            for r in j.timers])  # fmt: skip
            self.db.delete(conn, s.limit_counters, j.counters_removed)
            self.db.upsert(conn, s.limit_counters, [{**_counter(r), "shard": sh} for r in j.counters])
            touches = s.touches
            self.db.upsert(conn, touches, [{**_touch(r, now), "shard": sh} for r in j.touches], keep=("created_at",),
                           where=touches.c.state == "held")  # fmt: skip
            self.db.upsert(conn, s.group_instances, [{**_group(r), "shard": sh} for r in j.groups])
            self.db.delete(conn, s.flow_state, [(sh, *k) for k in j.flow_state_removed])
            self.db.upsert(conn, s.flow_state, [
                {"shard": sh, "version": k[0], "runner": k[1], "item": k[2], "value": v, "updated_at": now}
                for k, v in j.flow_state.items()
            ])  # fmt: skip
            mark_in(conn, self.db.now(), list(j.events_processed), dict(j.events_rejected))
            if j.state_events:
                rows = [_state_event(e) for e in j.state_events]
                for chunk in chunks(rows):
                    conn.execute(sa.insert(s.state_events), list(chunk))
            self.db.upsert(conn, s.engine_state, [
                {"shard": sh, "name": k, "value": v, "updated_at": now} for k, v in j.engine_state.items()
            ])  # fmt: skip
            send(conn, self.db, j.forwards, sh)  # to the shards of the accounts they are for
            take(conn, sh, j.forwards_taken)
            for cid, handoff in sorted(j.handoffs.items()):
                hand_over(conn, self.db, sh, cid, handoff)

    def load_state(self, versions: Collection[str] | None = None) -> State:
        """Everything an engine needs to resume, in one snapshot: contacts, accounts and
        the state of the given playbook versions (all when None); timers of no version
        (the day tick) and platform counters always come along. Touches: the held ones.
        A shard's view reads that shard's rows only (accounts: all of them)."""
        vs = None if versions is None else list(versions)
        mine = self.db.in_shard

        def of(column: sa.Column, extra: Any = None) -> Any:
            if vs is None:
                return mine(column.table.c.shard)
            cond = column.in_(vs)
            return sa.and_(cond if extra is None else sa.or_(cond, extra), mine(column.table.c.shard))

        with self.db.read() as conn:
            contacts, deleted = read_contacts(conn, self.db.shard)
            accounts = read_accounts(conn)
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
            of_playbooks = sa.and_(of_playbooks, mine(c.c.shard))
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
                touch_row(r)
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
            engine_state = dict(conn.execute(sa.select(es.c.name, es.c.value).where(es.c.shard == self.db.own_shard)).all())
        return State(contacts, deleted, accounts, enrolments, timers, counters, held, groups, flow_state, engine_state)

    def state_events(self, *, contact: str | None = None, flow: str | None = None,
                     types: Collection[str] | None = None, version: str | None = None) -> list[StateEvent]:  # fmt: skip
        """The state event log (what the engine decided besides touches), in order."""
        t = s.state_events
        query = sa.select(t.c.at, t.c.type, t.c.contact, t.c.flow, t.c.data, t.c.version, t.c.reason_code,
                          t.c.reason_args).order_by(t.c.seq)  # fmt: skip
        if contact is not None:
            query = query.where(t.c.contact == contact)
        if flow is not None:
            query = query.where(t.c.flow == flow)
        if types is not None:
            query = query.where(t.c.type.in_(list(types)))
        if version is not None:
            query = query.where(t.c.version == version)
        with self.db.read() as conn:
            return [StateEvent(at, kind, contact, flow, with_reason(data, code, args), version)
                    for at, kind, contact, flow, data, version, code, args in conn.execute(query)]  # fmt: skip

    def reserve_seqs(self, count: int, name: str = "timers") -> int:
        """Reserve `count` consecutive sequence numbers (for timer rows); the first of them.
        Several processes sharing a store each take blocks, so their seqs never collide."""
        t = s.sequences
        with self.db.write() as conn:
            start = sa.select(sa.func.coalesce(sa.func.max(s.timers.c.seq), 0) + 1).scalar_subquery()
            conn.execute(self.db.insert(t).values(name=name, next_value=start).on_conflict_do_nothing())
            stmt = (t.update().where(t.c.name == name).values(next_value=t.c.next_value + count)
                    .returning(t.c.next_value))  # fmt: skip
            return int(conn.execute(stmt).scalar_one()) - count

    def prune_counters(self, before: int) -> int:
        """Forget limit counts of periods that ended by `before`; how many rows went."""
        t = s.limit_counters
        with self.db.write() as conn:
            return conn.execute(t.delete().where(t.c.period_end <= before)).rowcount

    def engine_value(self, name: str) -> Any:
        """One value of the engine's bookkeeping (`engine_state`), None when absent."""
        es = s.engine_state
        with self.db.read() as conn:
            query = sa.select(es.c.value).where(es.c.shard == self.db.own_shard, es.c.name == name)
            return conn.execute(query).scalar_one_or_none()


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


def _state_event(e: StateEvent) -> dict[str, Any]:
    """A state event's row: a reason in its data (an exit's) as its English text there, its
    code and arguments in their columns."""
    data, code, args = e.data, None, None
    reason = data.get("reason")
    if isinstance(reason, Reason):
        code, args = reason_columns(reason)
        data = {**data, "reason": str(reason)}
    return {"at": e.at, "type": e.type, "contact": e.contact, "flow": e.flow, "version": e.version, "data": data,
            "reason_code": code, "reason_args": args}  # fmt: skip


def with_reason(data: dict[str, Any], code: str | None, args: dict[str, Any] | None) -> dict[str, Any]:
    """A state event's data as the engine gave it: its reason (an exit's: the only state
    event with one) from the code and arguments (a row older than the codes: from its text;
    a journey completed: "completed", as it is)."""
    text = data.get("reason")
    if code is None and (text is None or text == COMPLETED):
        return data
    return {**data, "reason": stored_reason(str(text or ""), code, args, codes=EXIT_CODES)}


def _touch(r: TouchRow, now: dt.datetime) -> dict[str, Any]:
    code, args = reason_columns(r.reason)
    return {"key": r.key, "version": r.version, "flow": r.flow, "step": r.step, "channel": r.channel,
            "account": r.account, "contact": r.contact, "group_id": r.group, "due": r.due, "at": r.at,
            "content": r.content, "text": r.text, "parts": r.parts, "audience": r.audience, "outcome": r.outcome,
            "reason": str(r.reason), "reason_code": code, "reason_args": args, "state": r.state, "error": r.error, "attempts": r.attempts,
            "next_attempt_at": r.next_attempt_at, "owner": r.owner, "adapter": r.adapter,
            "adapter_ref": r.adapter_ref, "request": r.request, "receipt": r.receipt, "receipt_at": r.receipt_at,
            "created_at": r.created_at or now, "updated_at": now}  # fmt: skip
