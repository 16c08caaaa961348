"""What `playbook status` and `playbook report` show, computed from the store.

Pure functions from a store to plain, JSON-ready dicts (sorted where order is not
meaningful, times as ISO 8601 in the playbook timezone); the CLI only renders them. Every
figure is defined in docs/report.md. Conversion per journey has exactly the shape and
rounding of the plan's `metrics()` (playbook/plan/run.py), so a plan and the daemon's
report over the same events can be compared figure by figure.

Large tables are read in one pass each, streamed: a report over millions of ledger rows
keeps per-account counters, not rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from playbook.engine.sla import tally_by_account  # met / late / missed, counted as the plan counts them
from playbook.runtime import schema as s
from playbook.runtime.importing import store_timezone
from playbook.runtime.logs import RELOAD_REFUSED
from playbook.runtime.rows import TouchRow
from playbook.runtime.store import Store, StoreError
from playbook.vocab.localtime import LocalTime, iso
from playbook.vocab.model import flow_keys  # shared with the plan's output
from playbook.vocab.shards import ranges

ON_TIME_SECONDS = 3600  # a sent touch is on time when it went out within 1 h of the engine letting it go
LET_GO = ("ok", "deferred")  # engine outcomes of touches that were meant to go out
SLA_TYPES = ("sla_started", "sla_met", "sla_late", "sla_missed")
# An SLA's trigger names the seed metric it measures (PRODUCT.md): 通过率, 回复率.
SLA_KINDS = {"friend_request": "pass_rate", "message": "reply_rate"}
STREAM = 2000  # rows fetched at a time from the big tables
LATE_FORWARD = 60  # seconds: a touch forwarded to a shard and not taken since is shown by `status`


@contextmanager
def snapshot(store: Store) -> Iterator[Connection]:
    """One consistent read of the store (REPEATABLE READ on PostgreSQL, as the store's own reads)."""
    try:
        with store.engine.connect() as conn:
            if store.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise StoreError(reason) from exc


def clock_of(store: Store) -> LocalTime:
    """The timezone times are shown in: the newest active playbook's."""
    return LocalTime(store_timezone(store))


def when(ts: int | None, clock: LocalTime) -> str | None:
    """An engine instant as ISO 8601 in the playbook timezone."""
    return None if ts is None else iso(int(ts), clock)


def when_dt(value: dt.datetime | None, clock: LocalTime) -> str | None:
    """A bookkeeping time (aware UTC) as ISO 8601 in the playbook timezone."""
    return None if value is None else value.astimezone(clock.tz).isoformat(timespec="seconds")


def short_time(text: str | None) -> str:
    """2026-12-01T09:00:00+08:00 → 2026-12-01 09:00 (ISO text already in the playbook timezone)."""
    return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M") if text else "—"


def local_time(text: str | None) -> str:
    """2026-12-01T09:00:00+08:00 → 2026-12-01 09:00:00+08:00: how `status` and the daemon's
    log show a time (to the second, with the offset; ISO text already in the playbook timezone)."""
    return dt.datetime.fromisoformat(text).isoformat(sep=" ", timespec="seconds") if text else "—"


def ratio(part: int, whole: int) -> float | None:
    """part / whole to 4 places; None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Window:
    """[since, until) in engine instants; None: open on that side."""

    since: int | None = None
    until: int | None = None

    def has(self, t: int | None) -> bool:
        return t is not None and (self.since is None or t >= self.since) and (self.until is None or t < self.until)

    def where(self, column: Any) -> list[Any]:
        out = []
        if self.since is not None:
            out.append(column >= self.since)
        if self.until is not None:
            out.append(column < self.until)
        return out


# ---- status ---------------------------------------------------------------------------------------------


def status(store: Store, clock: LocalTime | None = None, latest: int = 10) -> dict[str, Any]:
    """What is pending, what was sent/skipped/failed, the dead letters and the last errors."""
    clock = clock or clock_of(store)
    st = store.status(latest)
    return {
        "versions": [
            {"version": v.version, "name": v.name, "activated_at": when_dt(v.activated_at, clock)} for v in st.versions
        ],
        "timers": {"pending": st.timers, "next_due": when(st.next_due, clock)},
        "touches": {state: st.touches.get(state, 0) for state in s.TOUCH_STATES},
        "events": {state: st.events.get(state, 0) for state in s.EVENT_STATUSES},
        "enrolments": {state: st.enrolments.get(state, 0) for state in s.ENROLMENT_STATUSES},
        "contacts": {"total": st.contacts, "deleted": st.deleted_contacts},
        "accounts": st.accounts,
        "dead": [_problem(r, clock) for r in st.dead],
        "errors": [_problem(r, clock) for r in st.errors],
        "reload_refused": reload_refused(store, clock),
        "approvals": approvals(store, clock, latest),
        # touches an adapter holds back, by reason (WeCom blocked: trusted IP … — add this server's IP …)
        "held": [{"reason": reason, "touches": n, "next_try": when(nxt, clock)} for reason, n, nxt in st.held],
        "writer": _writer(store, clock),
        **({"deployment": deployment(store, clock)} if store.shard_count() > 1 else {}),
    }


def deployment(store: Store, clock: LocalTime) -> dict[str, Any]:
    """Scale-out: the live processes with their shards and how long ago they renewed, the
    shards nobody holds (free: given up or never taken; expired: their holder stopped
    renewing — another process takes them at its next look), and the touches forwarded to a
    shard more than a minute ago that it has not taken yet (SLA escalations for a supervisor
    of that shard: each shard takes its own at every step, so a count here means a shard
    nobody runs, or one that fails)."""
    count = store.shard_count()
    now = store.now()
    by_owner: dict[str, list[int]] = {}
    free, expired = [], []
    for row in store.lease_rows():
        if row.shard >= count:
            continue
        if row.owner is None or row.expires_at is None:
            free.append(row.shard)
        elif row.expires_at < now:
            expired.append(row.shard)
        else:
            by_owner.setdefault(row.owner, []).append(row.shard)
    seen = {row.shard for row in store.lease_rows()}
    free += [shard for shard in range(count) if shard not in seen]
    processes = [{"owner": p.owner, "host": p.host, "pid": p.pid, "since": when_dt(p.started_at, clock),
                  "renewed": when_dt(p.renewed_at, clock), "lease_age": round((now - p.renewed_at).total_seconds(), 1),
                  "shards": ranges(by_owner.get(p.owner, [])), "held": len(by_owner.get(p.owner, []))}
                 for p in store.processes()]  # fmt: skip
    late = store.late_forwards(now - dt.timedelta(seconds=LATE_FORWARD))
    return {"shards": count, "processes": processes, "free": ranges(free), "expired": ranges(expired),
            "forwards_waiting": {"count": sum(late.values()), "shards": ranges(sorted(late))}}  # fmt: skip


def reload_refused(store: Store, clock: LocalTime) -> dict[str, Any] | None:
    """The daemon's last refused reload while no reload has succeeded since: when, the text
    it logged (what `playbook check` prints), and the diagnostics as data."""
    es = s.engine_state
    with snapshot(store) as conn:
        # with shards, each shard's engine clears it after a load: the latest record is the one in force
        query = sa.select(es.c.value).where(es.c.name == RELOAD_REFUSED).order_by(es.c.updated_at.desc()).limit(1)
        value = conn.execute(query).scalar()
    if not isinstance(value, dict):
        return None
    return {"at": when(value.get("at"), clock), "text": value.get("text", ""),
            "diagnostics": value.get("diagnostics", [])}  # fmt: skip


def _writer(store: Store, clock: LocalTime) -> dict[str, Any] | None:
    """The daemon holding the store's lease now (None: no daemon runs on it)."""
    holder = store.lease_holder()
    if holder is None:
        return None
    return {"host": holder.host, "pid": holder.pid, "owner": holder.owner, "since": when_dt(holder.since, clock),
            "until": when_dt(holder.expires_at, clock)}  # fmt: skip


def _problem(r: TouchRow, clock: LocalTime) -> dict[str, Any]:
    """A dead, failed or unknown ledger row: what, for whom, and why."""
    return {
        "key": r.key,
        "state": r.state,
        "flow": r.flow,
        "step": r.step,
        "channel": r.channel,
        "account": r.account,
        "contact": r.contact,
        "group": r.group,
        "at": when(r.at, clock),
        "error": r.error,
        "attempts": r.attempts,
        "next_attempt_at": when(r.next_attempt_at, clock) if r.state == "failed" else None,
        "updated_at": when_dt(r.updated_at, clock),
    }


# ---- report ---------------------------------------------------------------------------------------------


def report(store: Store, since: int | None = None, until: int | None = None,
           clock: LocalTime | None = None) -> dict[str, Any]:  # fmt: skip
    """The seed metrics over [since, until): service levels, pass and reply rates per
    staff, interaction rate, rotation coverage, conversion per journey, average order
    value, and each account's execution of its touches."""
    clock = clock or clock_of(store)
    window = Window(since, until)
    versions = Versions(store)
    with snapshot(store) as conn:
        return {
            "window": {"since": when(since, clock), "until": when(until, clock)},
            "service_levels": service_levels(conn, versions, window),
            "pass_rate": answered(conn, window, "friend_request", "friend_added"),
            "reply_rate": answered(conn, window, "message", "staff_message"),
            "service_levels_by_account": sla_by_account(conn, versions, window),
            "interaction": interaction(conn, window),
            "rotations": rotation_coverage(conn, versions, until, clock),
            "conversion": conversion(conn, versions, window),
            "purchases": purchases(conn, window),
            "accounts": leaderboard(conn, window),
            "approvals": approvals(store, clock),
        }


class Versions:
    """The saved playbook versions: which playbook each belongs to, and the active ones' documents."""

    def __init__(self, store: Store) -> None:
        self.playbook: dict[str, str] = {}  # version -> playbook name (title, else name), as the plan names it
        self.active: list[Mapping[str, Any]] = []
        for row in store.versions():
            doc = row.document if isinstance(row.document, dict) else {}
            self.playbook[row.version] = str(doc.get("title") or doc.get("name") or row.name)
            if row.activated_at is not None and row.retired_at is None:
                self.active.append(doc)

    def name_of(self, version: str | None) -> str:
        return self.playbook.get(version or "", version or "")


def _stream(conn: Connection, query: Any) -> Iterator[Any]:
    return iter(conn.execute(query, execution_options={"yield_per": STREAM}))


# ---- service levels (通过率, 回复率) --------------------------------------------------------------------


def service_levels(conn: Connection, versions: Versions, window: Window) -> dict[str, Any]:
    """Per SLA, the watches that started in the window and what became of them (by the
    window's end): met in time, missed (the deadline passed unanswered), late (answered
    after the deadline; these were missed first), open (neither yet)."""
    specs: dict[tuple[str, str], Mapping[str, Any]] = {}
    for doc in versions.active:
        pb = versions.name_of(doc.get("version"))
        for name, sla in (doc.get("slas") or {}).items():
            specs[(pb, name)] = sla
    counts: dict[tuple[str, str], Counter[str]] = {key: Counter() for key in specs}
    t = s.state_events
    query = (sa.select(t.c.type, t.c.contact, t.c.flow, t.c.version)
             .where(t.c.type.in_(SLA_TYPES), *window.where(t.c.at)).order_by(t.c.seq))  # fmt: skip
    open_watch: set[tuple[str | None, str | None, str | None]] = set()  # (version, sla, contact) started in the window
    for kind, contact, flow, version in _stream(conn, query):
        watch = (version, flow, contact)
        key = (versions.name_of(version), flow or "")
        if kind == "sla_started":
            open_watch.add(watch)
            counts.setdefault(key, Counter())["started"] += 1
        elif watch in open_watch:  # outcomes of watches that started before the window do not count
            counts.setdefault(key, Counter())[kind.removeprefix("sla_")] += 1
            if kind in ("sla_met", "sla_late"):
                open_watch.discard(watch)  # answered: the watch is over
    keys = flow_keys(counts)
    out: dict[str, Any] = {}
    for pair, c in counts.items():
        spec = specs.get(pair, {})
        met, missed = c["met"], c["missed"]
        trigger = spec.get("trigger")
        out[keys[pair]] = {
            "trigger": trigger,
            "answer": spec.get("answer"),
            "within_minutes": spec.get("within_minutes"),
            "measures": SLA_KINDS.get(trigger or ""),
            "started": c["started"],
            "met": met,
            "missed": missed,
            "late": c["late"],
            "open": c["started"] - met - missed,
            "in_time_rate": ratio(met, met + missed),
        }
    return dict(sorted(out.items()))


# ---- pass rate and reply rate per staff (通过率, 回复率), from the events ----------------------------------


def answered(conn: Connection, window: Window, ask: str, answer: str) -> dict[str, Any]:
    """Per staff account, the `ask` events in the window (rejected ones left out) and how
    many of them an `answer` event of the same contact followed before the window's end
    (one answer answers every ask of that contact before it). The account is the event's
    own `account` (a friend request names whom it asks), else the contact's."""
    e, c = s.events, s.contacts
    query = (sa.select(e.c.type, e.c.contact, e.c.at, e.c.data, c.c.account)
             .join(c, c.c.id == e.c.contact, isouter=True)
             .where(e.c.type.in_((ask, answer)), e.c.status != "rejected", *window.where(e.c.at))
             .order_by(e.c.contact, e.c.at, e.c.seq))  # fmt: skip
    asked: Counter[str] = Counter()
    replied: Counter[str] = Counter()
    waiting: list[str] = []  # the accounts of the current contact's asks not answered yet
    current: str | None = None
    for kind, contact, _, data, account in _stream(conn, query):
        if contact != current:
            current, waiting = contact, []
        if kind == ask:
            who = str((data or {}).get("account") or account or "—")
            asked[who] += 1
            waiting.append(who)
        else:
            for who in waiting:
                replied[who] += 1
            waiting = []
    rows = {who: {"asked": n, "answered": replied[who], "rate": ratio(replied[who], n)} for who, n in asked.items()}
    total, done = sum(asked.values()), sum(replied.values())
    return {"asked": total, "answered": done, "rate": ratio(done, total), "by_account": dict(sorted(rows.items()))}


# ---- rotation coverage per staff (互动率 of the staff's own interactions) -------------------------------


def rotation_coverage(conn: Connection, versions: Versions, until: int | None, clock: LocalTime) -> dict[str, Any]:
    """Per rotation of the active versions and per staff account: the account's friends
    (contacts not deleted) and how many of them its rotation task covered — a friend with
    the rotation's task executed (as in the leaderboard) and `at` in the current cycle:
    the `period_days` up to `until`, or, the window open, up to the rotation's newest task
    in the ledger (so the same store gives the same figures whenever it is read)."""
    specs: dict[tuple[str, str], int] = {}
    for doc in versions.active:
        pb = versions.name_of(doc.get("version"))
        for name, rotation in (doc.get("rotations") or {}).items():
            specs[(pb, name)] = int(rotation.get("period_days") or 0)
    if not specs:
        return {}
    c = s.contacts
    friends = dict(conn.execute(sa.select(c.c.account, sa.func.count()).where(c.c.deleted.is_(sa.false()),
                                c.c.account.is_not(None)).group_by(c.c.account)).all())  # fmt: skip
    t = s.touches
    keys = flow_keys(specs)
    out: dict[str, Any] = {}
    for (pb, name), days in specs.items():
        mine = [v for v, n in versions.playbook.items() if n == pb]
        mine_tasks = (t.c.flow == name, t.c.version.in_(mine), t.c.channel == "task")
        if until is None:
            newest = conn.execute(sa.select(sa.func.max(t.c.at)).where(*mine_tasks)).scalar()
            end = None if newest is None else int(newest) + 1
        else:
            end = until
        since = None if end is None else end - days * 86400
        cycle = Window(since, end)
        # only the account's friends now count: a contact moved to another account or deleted since is not
        query = (sa.select(t.c.account, t.c.contact, t.c.state, t.c.adapter, t.c.receipt)
                 .join(c, sa.and_(c.c.id == t.c.contact, c.c.account == t.c.account, c.c.deleted.is_(sa.false())))
                 .where(*mine_tasks, *cycle.where(t.c.at)))  # fmt: skip
        covered: dict[str, set[str]] = {}
        for account, contact, state, adapter, receipt in _stream(conn, query):
            if executed(state, adapter, receipt):
                covered.setdefault(account, set()).add(contact)
        accounts = sorted(set(covered) | {a for a in friends if a})
        out[keys[(pb, name)]] = {
            "period_days": days,
            "cycle": {"since": when(since, clock), "until": when(end, clock)},
            "by_account": {
                a: {"friends": friends.get(a, 0), "covered": len(covered.get(a, ())),
                    "coverage": ratio(len(covered.get(a, ())), friends.get(a, 0))}  # fmt: skip
                for a in accounts
            },
        }
    return dict(sorted(out.items()))


def sla_by_account(conn: Connection, versions: Versions, window: Window) -> dict[str, dict[str, dict[str, int]]]:
    """Per SLA, per staff account (the one that should answer): what the watches that
    started in the window became by its end — met, late (missed, then answered), missed
    (not answered) — each watch counted once (engine/sla.py tally_by_account), keyed as the
    plan's `service_levels`. Watches recorded before SLA events named their account count
    under the contact's account."""
    t = s.state_events
    query = (sa.select(t.c.type, t.c.contact, t.c.flow, t.c.version, t.c.data)
             .where(t.c.type.in_(SLA_TYPES), *window.where(t.c.at)).order_by(t.c.seq))  # fmt: skip
    rows = [(kind, contact, (versions.name_of(version), flow or ""), (data or {}).get("account"), version)
            for kind, contact, flow, version, data in _stream(conn, query)]  # fmt: skip
    owners = _contact_accounts(conn, {r[1] for r in rows if r[3] is None and r[1] is not None})
    keys = flow_keys(r[2] for r in rows)
    started: set[tuple[Any, ...]] = set()
    by_sla: dict[str, list[tuple[str, Any, str | None]]] = {}
    for kind, contact, pair, account, version in rows:
        watch = (version, pair, contact)
        if kind == "sla_started":
            started.add(watch)
        elif watch not in started:  # outcomes of watches that started before the window do not count
            continue
        by_sla.setdefault(keys[pair], []).append((kind, watch, account or owners.get(contact or "")))
    return {key: tally_by_account(events) for key, events in sorted(by_sla.items())}


def _contact_accounts(conn: Connection, contacts: set[str]) -> dict[str, str]:
    """The accounts of some contacts (their current one)."""
    c = s.contacts
    out: dict[str, str] = {}
    ids = sorted(contacts)
    for i in range(0, len(ids), STREAM):
        query = sa.select(c.c.id, c.c.account).where(c.c.id.in_(ids[i:i + STREAM]), c.c.account.is_not(None))
        out.update((cid, account) for cid, account in conn.execute(query))
    return out


# ---- interaction rate (互动率) ------------------------------------------------------------------------


def interaction(conn: Connection, window: Window) -> dict[str, Any]:
    """Contacts who interacted with Moments / contacts who could see a Moments post that
    went out, both in the window (an interaction counts when its contact was in such an audience)."""
    t = s.touches
    posts = sa.select(t.c.audience).where(t.c.channel == "moment", t.c.state == "sent", *window.where(t.c.at))
    reached: set[str] = set()
    sent = 0
    for (audience,) in _stream(conn, posts):
        sent += 1
        reached.update(audience or ())
    e = s.events
    active = sa.select(e.c.contact).where(e.c.type == "moment_interaction", e.c.status != "rejected",
                                          *window.where(e.c.at)).distinct()  # fmt: skip
    interacted = {cid for (cid,) in _stream(conn, active)}
    both = len(interacted & reached)
    return {
        "posts": sent,
        "reached": len(reached),
        "interacted": both,
        "interacted_outside_audience": len(interacted) - both,
        "interaction_rate": ratio(both, len(reached)),
    }


# ---- conversion per journey (转化率, 转化周期) ------------------------------------------------------------


def journey_metrics(enrolments: list[tuple[int, int | None, Mapping[str, str], Iterable[str]]]) -> dict[str, Any]:
    """One journey's metrics from its enrolments (entered_at, goal_at, arms, segments):
    the same figures, shape and rounding as the plan's `metrics()`."""
    by_arm: dict[str, dict[str, int]] = {}
    by_segment: dict[str, dict[str, int]] = {}
    split_nodes = {node for _, _, arms, _ in enrolments for node in arms}
    waits: list[int] = []
    for entered_at, goal_at, arms, segments in enrolments:
        reached = goal_at is not None
        if goal_at is not None:
            waits.append(goal_at - entered_at)
        for node_id, arm in sorted(arms.items()):
            label = arm if len(split_nodes) <= 1 else f"{node_id}:{arm}"
            slot = by_arm.setdefault(label, {"entered": 0, "goal": 0})
            slot["entered"] += 1
            slot["goal"] += reached
        for seg in segments:
            slot = by_segment.setdefault(seg, {"entered": 0, "goal": 0})
            slot["entered"] += 1
            slot["goal"] += reached
    entered = len(enrolments)
    return {
        "entered": entered,
        "goal": len(waits),
        "conversion": round(len(waits) / entered, 4) if entered else 0.0,
        "median_time_to_goal_hours": round(statistics.median(waits) / 3600, 2) if waits else None,
        "by_arm": dict(sorted(by_arm.items())),
        "by_segment": dict(sorted(by_segment.items())),
    }


def conversion(conn: Connection, versions: Versions, window: Window) -> dict[str, Any]:
    """Per journey: enrolments that entered in the window, and which of them reached the
    goal before the window's end. Journeys of the active versions are listed even without entries."""
    found: dict[tuple[str, str], list[tuple[int, int | None, Mapping[str, str], Iterable[str]]]] = {}
    for doc in versions.active:
        pb = versions.name_of(doc.get("version"))
        for name in doc.get("journeys") or {}:
            found.setdefault((pb, name), [])
    e = s.enrolments
    query = (sa.select(e.c.version, e.c.journey, e.c.entered_at, e.c.goal_at, e.c.arms, e.c.segments)
             .where(*window.where(e.c.entered_at)))  # fmt: skip
    for version, journey, entered_at, goal_at, arms, segments in _stream(conn, query):
        if goal_at is not None and window.until is not None and goal_at >= window.until:
            goal_at = None  # reached after the window: not yet, as far as this report goes
        found.setdefault((versions.name_of(version), journey), []).append(
            (entered_at, goal_at, arms or {}, segments or [])
        )
    keys = flow_keys(found)
    return dict(sorted((keys[pair], journey_metrics(rows)) for pair, rows in found.items()))


def report_title(store: Store) -> str:
    """The active playbooks' titles (`playbook "…"`, else their names), as the plan's page is titled."""
    versions = Versions(store)
    return " + ".join(versions.name_of(doc.get("version")) for doc in versions.active)


def journeys_without_goal(store: Store) -> set[str]:
    """The journeys of the active versions that declare no goal, under the keys
    `conversion` reports them by: their conversion is not 0%, it does not exist."""
    versions = Versions(store)
    pairs = {(versions.name_of(doc.get("version")), name): bool((journey or {}).get("goal"))
             for doc in versions.active for name, journey in (doc.get("journeys") or {}).items()}  # fmt: skip
    keys = flow_keys(pairs)
    return {keys[pair] for pair, has_goal in pairs.items() if not has_goal}


# ---- purchases (客单价) ------------------------------------------------------------------------------


def purchases(conn: Connection, window: Window) -> dict[str, Any]:
    """Purchase events in the window (rejected ones left out): how many, by how many
    contacts, the revenue, and the average order value over those that carry an amount."""
    e = s.events
    query = sa.select(e.c.contact, e.c.data).where(e.c.type == "purchase", e.c.status != "rejected",
                                                   *window.where(e.c.at))  # fmt: skip
    count = priced = 0
    revenue = 0.0
    buyers: set[str] = set()
    for contact, data in _stream(conn, query):
        count += 1
        buyers.add(contact)
        amount = (data or {}).get("amount")
        if isinstance(amount, int | float) and not isinstance(amount, bool):
            priced += 1
            revenue += amount
    return {
        "purchases": count,
        "buyers": len(buyers),
        "with_amount": priced,
        "revenue": round(revenue, 2),
        "average_order_value": round(revenue / priced, 2) if priced else None,
    }


# ---- execution per account (HQ sees execution) -----------------------------------------------------------
@functools.cache
def _gives_receipts(adapter: str | None) -> bool:
    """Whether the adapter's platform reports on sent touches later (an unknown or
    uninstalled adapter: no)."""
    if not adapter:
        return False
    from playbook.adapters.registry import adapter_class
    from playbook.diagnostics import PlaybookError

    try:
        return bool(adapter_class(adapter).gives_receipts)
    except PlaybookError:
        return False


def executed(state: str, adapter: str | None, receipt: str | None) -> bool:
    """Whether a touch in the ledger was carried out: sent, and where the platform reports
    later, confirmed by it."""
    return state == "sent" and (receipt == "confirmed" or not _gives_receipts(adapter))


def leaderboard(conn: Connection, window: Window) -> list[dict[str, Any]]:
    """Per account, the touches the engine let go (ok or deferred) in the window and what
    dispatch made of them; best execution rate first. Where the adapter reports later
    (WeCom: the staff member confirms the task in the client), a touch counts as executed
    only once the platform confirmed it, and on time by when it was confirmed."""
    t = s.touches
    query = sa.select(t.c.account, t.c.state, t.c.at, t.c.updated_at, t.c.adapter, t.c.receipt,
                      t.c.receipt_at).where(t.c.outcome.in_(LET_GO), t.c.account.is_not(None),
                                            *window.where(t.c.at))  # fmt: skip
    rows: dict[str, Counter[str]] = {}
    for account, state, at, updated_at, adapter, receipt, receipt_at in _stream(conn, query):
        c = rows.setdefault(account, Counter())
        c["due"] += 1
        if state == "sent" and _gives_receipts(adapter):
            if receipt is None:
                c["awaiting"] += 1
            elif receipt == "confirmed":
                c["sent"] += 1
                c["on_time"] += receipt_at is not None and receipt_at - at <= ON_TIME_SECONDS
            else:
                c["not_executed"] += 1
            continue
        c[state] += 1
        if state == "sent" and updated_at is not None and updated_at.timestamp() - at <= ON_TIME_SECONDS:
            c["on_time"] += 1
    a = s.accounts
    names: dict[str, Any] = {}
    if rows:
        for aid, fields in conn.execute(sa.select(a.c.id, a.c.fields).where(a.c.id.in_(sorted(rows)))):
            names[aid] = (fields or {}).get("name")
    board = [
        {
            "account": account,
            "name": names.get(account),
            "due": c["due"],
            "sent": c["sent"],
            "on_time": c["on_time"],
            "waiting": c["pending"] + c["sending"],
            "awaiting_confirmation": c["awaiting"],
            "not_executed": c["not_executed"],  # the platform said no (not a friend, quota) or never confirmed
            "failed": c["failed"],
            "dead": c["dead"],
            "unknown": c["unknown"],
            "execution_rate": ratio(c["sent"], c["due"]),
        }
        for account, c in rows.items()
    ]
    board.sort(key=lambda r: (-(r["execution_rate"] or 0.0), r["account"]))
    return board


# ---- approvals (runtime/approvals.py) --------------------------------------------------------------------
def approvals(store: Store, clock: LocalTime, latest: int | None = None) -> list[dict[str, Any]]:
    """The launch gate's requests and decisions, the latest first: which version, what its
    first hour would send (by journey and channel), who decided what, when and why, and how
    many of its touches are held now."""
    rows = store.approvals()[:latest]
    held = Counter(r.version for r in store.touches(states=("held",))) if rows else Counter()
    return [{"version": r.version, "state": r.state, "first_hour": r.touches, "policy": r.policy,
             "by_flow": r.summary.get("by_flow", {}), "by_channel": r.summary.get("by_channel", {}),
             "requested_at": when_dt(r.requested_at, clock), "decided_at": when_dt(r.decided_at, clock),
             "decided_by": r.decided_by, "note": r.note, "held": held[r.version]} for r in rows]  # fmt: skip
