"""The engine's state in the store: what changed since the last commit (`Journaler`), and
an engine rebuilt from what was committed (`restore`).

The engine keeps its working state in memory (docs/daemon.md). The journaler watches it
through the engine's `observer` hooks and, at each commit, turns what changed into one
`Journal` — contacts, enrolments and who matches a segment, group instances, rotation
queues, SLA watches, limit counts, timeline items, held touches, touches with their
outcome, state events and the engine's clock — for `Store.write` to apply in one
transaction. `restore` is the inverse: the same engine, from a `State`.

Runners are kept as their snapshots (engine/host.py `Runner`): this module maps each kind of
snapshot to its rows — `enrolments`, `group_instances`, `flow_state` values — and back, and
never looks inside a runner. Timeline items are kept as `timers` rows, their payload's
fields in order.

Timeline payloads and a touch's origin name a playbook by its position among the engine's
playbooks; in the store they name its version, so a restart with another set of versions
(a reload) still finds them.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

from playbook.compiler import ir
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.engine.core import Contacts, Engine, Program, Sink
from playbook.engine.flows import EnrolmentState, InstanceState, JourneyContact, RotationCycle, RotationQueue
from playbook.engine.policy import LimitCounter
from playbook.engine.sla import SlaBase, SlaWatch
from playbook.engine.standing import SeatState
from playbook.engine.timeline import IN_FLOW, Forwarded, Item, Kind, loaded, stored
from playbook.i18n import t
from playbook.runtime.rows import (
    CounterRow,
    EnrolmentRow,
    ForwardRow,
    GroupRow,
    Handoff,
    Journal,
    State,
    TimerRow,
    TouchRow,
)
from playbook.vocab.limits import LimitRule
from playbook.vocab.model import StateEvent, Touch, TouchRequest

# The touches a playbook sent in a period: (identity, start, end) -> [(channel, account, contact)]
SentIn = Callable[[str, int, int], Sequence[tuple[str, str | None, str | None]]]

_new = tuple.__new__  # an Item made as the tuple it is (a daemon restores millions)
CLOCK = "clock"  # engine_state: {"start", "now"}
PLATFORM = "platform"  # limit_counters.scope of an adapter's quotas (shared by every playbook)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_bulk(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` with the cyclic garbage collector paused: it makes objects by the hundred
    thousand that all stay alive (an engine restored, a journal of everything), which the
    collector would only walk again and again — timeline items and snapshots are tuple
    subclasses, which it never stops tracking. Twice as fast on 100k contacts."""

    @functools.wraps(fn)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was:
                gc.enable()

    return paused


def item_contact(item: Item, held: Mapping[str, str | None]) -> str | None:
    """The contact a timeline item is about (None: the engine's own, a schedule firing, a
    group's step). A retry names its contact, or (a store's older row) only the held
    touch's key: `held` maps a held touch's key to its contact."""
    contact = item.payload.contact
    if contact is None and item.payload.kind is Kind.RETRY:
        return held.get(item.payload.key)
    return contact


class Journaler:
    """Collects an engine's changes between commits (the engine's `Observer`)."""

    def __init__(self, engine: Engine, stored_accounts: set[str] | None = None, *, tag_rows: bool = False):
        self.engine = engine
        self.tag_rows = tag_rows  # the adapter keeps platform tags in step: a ledger row per tag action
        self.versions = [p.version for p in engine.programs]
        self.stored_accounts = set(stored_accounts or ())
        self._counter_scopes = _counter_scopes(engine.programs)
        self._reset()
        engine.observer = self

    def _reset(self) -> None:
        self.timers_added: dict[int, Item] = {}
        self.timers_removed: set[int] = set()
        self.contacts: set[str] = set()
        self.touches: dict[str, TouchRow | TouchRequest] = {}  # a held request becomes its row at commit
        self.counts: set[tuple[int, str]] = set()  # (id of a LimitCounter, scope id)
        self.runners: set[tuple[int, str, str]] = set()
        self.state_events: list[StateEvent] = []
        self.forwards: list[ForwardRow] = []

    # ---- the Observer hooks -------------------------------------------------------------------
    def timer_added(self, item: Item) -> None:
        self.timers_added[item.seq] = item

    def timer_done(self, item: Item) -> None:
        if self.timers_added.pop(item.seq, None) is None:
            self.timers_removed.add(item.seq)

    def contact(self, cid: str) -> None:
        self.contacts.add(cid)

    def held(self, req: TouchRequest) -> None:
        self.touches[req.key] = req

    def released(self, req: TouchRequest) -> None:
        if isinstance(self.touches.get(req.key), TouchRequest):
            del self.touches[req.key]  # its outcome (or a new hold) follows before the commit

    def counted(self, program: Program, req: TouchRequest) -> None:
        contact = req.counted_contact
        for counter in program.policies.applicable(req.channel, contact is not None):
            scope = counter.rule.scope
            scope_id = contact if scope == "contact" else req.group if scope == "group" else req.account
            if scope_id is not None:
                self.counts.add((id(counter), scope_id))

    def forwarded(self, req: TouchRequest) -> None:
        self.forwards.append(forward_row(req))

    def dirty(self, flow_index: int, runner: str, item: str) -> None:
        self.runners.add((flow_index, runner, item))

    # ---- what the engine emits ------------------------------------------------------------------
    def record(self, record: Touch | StateEvent) -> None:
        """The engine's sink: touches to the ledger, state events to their log."""
        if isinstance(record, Touch):
            self.touches[record.key] = TouchRow.from_touch(record)
            return
        self.state_events.append(record)
        if self.tag_rows and record.type in ("tag_added", "tag_removed") and record.flow and record.contact:
            row = self._tag_row(record)
            self.touches[row.key] = row

    def _tag_row(self, event: StateEvent) -> TouchRow:
        """A playbook's tag action as a ledger row, for an adapter that syncs tags: sent
        once, retried, reconciled like any touch."""
        action = "add" if event.type == "tag_added" else "remove"
        tag = str(event.data.get("tag", ""))
        account = self.engine.contacts.fields.get(event.contact or "", {}).get("account")
        key = f"{event.version}/{event.flow}/{event.contact}/tag/{action}/{tag}/{event.at}"
        return TouchRow(key=key, version=event.version or "", flow=event.flow or "", step=f"tag {action} {tag}",
                        channel="tag", due=event.at, state="pending", account=account, contact=event.contact,
                        at=event.at, content=action, text=tag, outcome="ok", next_attempt_at=event.at)  # fmt: skip

    def handoff(self, cid: str, shard: int) -> Handoff:
        """What moves with a contact to `shard`: the timeline items that name it (seqs), its
        contact-scoped limit counts (keys) and its held touches (keys) — not the touches it is
        only the subject of (`TouchRequest.account_only`: a supervisor's escalation task stays
        with the supervisor's account); its record, enrolments, segment matches, SLA watches
        and unprocessed events are found by the store."""
        engine = self.engine
        held = {req.key: req.counted_contact for req in engine.held()}
        timers = sorted(item.seq for item in engine.items() if item_contact(item, held) == cid)
        counters = [(scope, rule, cid, counter.period_start) for counter, scope, rule in self._counter_scopes.values()
                    if counter.by_contact and counter.period_start >= 0 and cid in counter.counts]  # fmt: skip
        return Handoff(shard, timers, counters, sorted(key for key, contact in held.items() if contact == cid))

    # ---- the commit -------------------------------------------------------------------------------
    @in_bulk
    def capture(self) -> Journal:
        """Everything that changed since the last capture, as one Journal."""
        engine = self.engine
        journal = Journal()
        self._contacts_into(journal)
        changed: dict[tuple[int, str], list[str]] = {}  # (playbook, runner) -> its items that changed
        for index, runner, item in sorted(self.runners):
            changed.setdefault((index, runner), []).append(item)
        for (index, key), items in changed.items():
            flows = engine.flows[index]
            run = flows.runners[key]
            for snapshot in run.snapshot(items):
                _INTO[type(snapshot)](journal, flows.program.version, run.name, key, snapshot)
        journal.timers = [self._timer_row(item) for _, item in sorted(self.timers_added.items())]
        journal.timers_removed = sorted(self.timers_removed)
        for counter_id, scope_id in sorted(self.counts):
            counter, scope, rule = self._counter_scopes[counter_id]
            if counter.period_start >= 0:
                count = counter.counts.get(scope_id, 0)
                journal.counters.append(
                    CounterRow(scope, rule, scope_id, counter.period_start, counter.period_end, count)
                )
        for row in self.touches.values():
            journal.touches.append(self._held_row(row) if isinstance(row, TouchRequest) else row)
        journal.state_events = self.state_events
        journal.forwards = self.forwards
        journal.engine_state = {CLOCK: {"start": engine.start, "now": engine.now}}
        self._reset()
        return journal

    def _contacts_into(self, journal: Journal) -> None:
        contacts = self.engine.contacts
        for cid in sorted(self.contacts):
            record = contacts.fields.get(cid)
            if record is None:
                continue
            journal.contacts.append(record)
            if cid in contacts.deleted:
                journal.deleted_contacts.add(cid)
            account = record.get("account")
            if account is not None and account not in self.stored_accounts:
                self.stored_accounts.add(account)
                journal.accounts.append(contacts.accounts.get(account, {"id": account}))

    def _timer_row(self, item: Item) -> TimerRow:
        """A timeline item as a row: its payload's fields in order, the playbook named by its
        version; the account it concerns where the payload knows it."""
        payload = item.payload
        version = self.versions[payload.flow] if payload.kind in IN_FLOW else None
        return TimerRow(item.seq, item.due, item.phase, item.order, str(payload.kind), stored(payload, version), version,
                        account=payload.account)  # fmt: skip

    def _held_row(self, req: TouchRequest) -> TouchRow:
        row = TouchRow.held(req)
        origin = req.origin
        if origin is not None and row.request is not None:
            row.request["origin"] = (origin[0], self.versions[origin[1]], *origin[2:])
        return row


# ---- snapshots → rows (Journaler.capture) ------------------------------------------------------------
def _journey_into(journal: Journal, version: str, name: str, runner: str, state: JourneyContact) -> None:
    """A journey's contact: its enrolments' rows, and a flow_state row while it matches the
    segment entry."""
    for e in state.enrolments:
        journal.enrolments.append(EnrolmentRow(version, name, *e))  # a row is the enrolment's fields after these two
    key = (version, runner, state.contact)
    if state.matching:
        journal.flow_state[key] = True
    else:
        journal.flow_state_removed.append(key)


def _group_into(journal: Journal, version: str, name: str, runner: str, state: InstanceState) -> None:
    journal.groups.append(GroupRow(version, state.id, name, state.account, state.opens, state.closes, state.members,
                                   state.closed, state.dissolved))  # fmt: skip


def _cycle_into(journal: Journal, version: str, name: str, runner: str, state: RotationCycle) -> None:
    first_day = state.first_day.isoformat() if state.first_day else None
    journal.flow_state[(version, runner, "")] = {"cycle": state.cycle, "first_day": first_day}


def _queue_into(journal: Journal, version: str, name: str, runner: str, state: RotationQueue) -> None:
    key = (version, runner, state.account)
    if state.queue is None:
        journal.flow_state_removed.append(key)
    else:
        journal.flow_state[key] = {"queue": state.queue, "placed": state.placed}


def _seat_into(journal: Journal, version: str, name: str, runner: str, state: SeatState) -> None:
    journal.flow_state[(version, runner, state.id)] = {"chain": state.chain, "account": state.account,
                                                       "number": state.number, "members": state.members,
                                                       "lapsed": state.lapsed}  # fmt: skip


def _watch_into(journal: Journal, version: str, name: str, runner: str, state: SlaWatch) -> None:
    watch = None if state.open is None else list(state.open)
    journal.flow_state[(version, runner, state.contact)] = {"serial": state.serial, "open": watch}


# each kind of runner snapshot -> its rows
_INTO: dict[type, Callable[[Journal, str, str, str, Any], None]] = {
    JourneyContact: _journey_into,
    InstanceState: _group_into,
    RotationCycle: _cycle_into,
    RotationQueue: _queue_into,
    SeatState: _seat_into,
    SlaWatch: _watch_into,
}


def _counter_scopes(programs: Sequence[Program]) -> dict[int, tuple[LimitCounter, str, str]]:
    """Each limit counter's identity in the store: (scope, rule) — the playbook (all its
    versions count together) and what the rule counts (`LimitRule.key`), or "platform"
    and the adapter limit's key."""
    scopes: dict[int, tuple[LimitCounter, str, str]] = {}
    for program in programs:
        policies = program.policies
        for i, counter in enumerate(policies.counters):
            scope = program.identity if i < policies.own else PLATFORM
            scopes[id(counter)] = (counter, scope, counter.rule.key)
    return scopes


# ---- restore ----------------------------------------------------------------------------------------------
@in_bulk
def restore(playbooks: list[ir.Playbook], state: State, sink: Sink, *, start: int,
            shared_limits: Sequence[LimitRule] = (), can_dissolve_groups: bool = True,
            retired: Sequence[str] = (), sent: SentIn | None = None) -> tuple[Engine, bool]:  # fmt: skip
    """An engine in the state the store holds. Returns (engine, fresh): fresh when the
    store held no engine yet — the caller activates it (from `start`). Versions in
    `retired` finish what they started but take no new entries. `sent(identity, start,
    end)` gives the touches a playbook sent in a period (the ledger): a limit the store has
    no counts for (added or changed by an edit) starts from them."""
    contacts = Contacts()
    for record in state.accounts:
        contacts.add_account(record)
    for record in state.contacts:
        contacts.upsert(record)
    contacts.deleted.update(state.deleted_contacts)
    clock = state.engine_state.get(CLOCK)
    engine = Engine(playbooks, contacts, clock["start"] if clock else start, sink, shared_limits=shared_limits,
                    can_dissolve_groups=can_dissolve_groups)  # fmt: skip
    index = {p.version: i for i, p in enumerate(engine.programs)}
    engine.retire(set(retired))
    if clock is None:
        return engine, True
    engine.now = clock["now"]
    held = _held_requests(engine, state.held, index)
    engine.resume(_timeline(state.timers, index), held, max((row.seq for row in state.timers), default=0))
    for (version, runner), snapshots in _snapshots(state).items():  # after `resume`: enrolments find their touches
        run = engine.flows[index[version]].runners.get(runner) if version in index else None
        if run is not None:
            run.restore(snapshots)
    uncounted = _restore_counters(engine, state.counters)
    if sent is not None:
        identities = {id(p.policies): p.identity for p in engine.programs}
        owner = {id(c): identities[id(p.policies)] for p in engine.programs for c in p.policies.counters}
        for counter in uncounted:
            counter.next_start(engine.now)
            count_sent(counter, engine.now, sent(owner[id(counter)], counter.period_start, counter.period_end))
    return engine, False


def _timeline(timers: Sequence[TimerRow], index: dict[str, int]) -> list[Item]:
    """Timer rows as timeline items, the playbook named by its position again."""
    items = []
    for row in timers:
        try:
            payload = loaded(row.kind, row.payload, index)
        except ValueError as exc:  # a row this version cannot read (written by a newer one, or damaged)
            message = t("the store's timeline item {seq} (shard {shard}, kind {kind!r}) cannot be read: {reason}. "
                        "Was the store written by a newer version of playbook?", seq=row.seq, shard=row.shard,
                        kind=row.kind, reason=exc)  # fmt: skip
            raise PlaybookError([Diagnostic(ERROR, "store", message)]) from exc
        if payload is not None:  # None: a version no longer loaded
            items.append(_new(Item, (row.due, row.phase, tuple(row.order), row.seq, payload)))
    return items


def _held_requests(engine: Engine, rows: Sequence[TouchRow], index: dict[str, int]) -> dict[str, TouchRequest]:
    held: dict[str, TouchRequest] = {}
    for row in rows:
        if row.version not in index or row.request is None:
            continue
        flows = engine.flows[index[row.version]]
        r = row.request
        origin = r.get("origin")
        if origin is not None:
            origin = (origin[0], index[origin[1]], *origin[2:])
        req = TouchRequest(due=row.due, channel=row.channel, account=row.account, flow=row.flow, step=row.step,
                           step_order=r["step_order"], priority=r["priority"], program=flows.program, key=row.key,
                           contact=row.contact, group=row.group, content=row.content, task_text=r.get("task_text"),
                           event=r.get("event"), origin=origin, cancelled=row.cancelled(),
                           reasons=row.held_reasons(), not_after=r.get("not_after"),
                           account_only=row.account_only())  # fmt: skip
        if r.get("moments"):
            run = next(m for m in flows.moments if m.name == row.flow)
            req.audience_of = run.audience_for(req.step_order, row.account or "")
        held[row.key] = req
    return held


# ---- touches forwarded between shards' engines -------------------------------------------------------------
def forward_row(req: TouchRequest) -> ForwardRow:
    """A touch an engine forwards (`Engine.forward`) as the store keeps it: its playbook by version."""
    assert req.account is not None and req.task_text is not None  # an escalation's task, for an account
    return ForwardRow(req.key, req.due, req.program.version, req.account, req.contact, req.flow, req.step,
                      req.step_order, req.priority, req.task_text)  # fmt: skip


def receive(engine: Engine, rows: Sequence[ForwardRow]) -> None:
    """Touches other engines forwarded to this one onto its timeline, each at its time (never
    before its now), in (due, key) order; their versions are among the engine's (the caller
    builds it so: `Decider.build`)."""
    index = {p.version: i for i, p in enumerate(engine.programs)}
    for row in sorted(rows, key=lambda r: (r.due, r.key)):
        engine.receive(row.due, Forwarded(index[row.version], row.key, row.account, row.contact, row.flow, row.step,
                                          row.step_order, row.priority, row.text))  # fmt: skip


# ---- rows → snapshots (restore) ------------------------------------------------------------------------------
def _snapshots(state: State) -> dict[tuple[str, str], list[Any]]:
    """The runners' snapshots the store's rows hold, by (version, runner key)."""
    out: dict[tuple[str, str], list[Any]] = {}
    journeys: dict[tuple[str, str], dict[str, list[EnrolmentState]]] = {}  # (version, runner) -> contact -> enrolments
    keys: dict[str, str] = {}  # journey -> its runner's key
    for row in state.enrolments:
        runner = keys.get(row.journey) or keys.setdefault(row.journey, f"journey:{row.journey}")
        enrolment = EnrolmentState(row.contact, row.n, row.entered_at, row.status, row.epoch, row.event, row.arms,
                                   row.wait, row.touch, row.goal_at, row.segments)  # fmt: skip
        journeys.setdefault((row.version, runner), {}).setdefault(row.contact, []).append(enrolment)
    matching: set[tuple[str, str, str]] = set()
    for (version, runner, item), value in state.flow_state.items():
        kind = runner.split(":", 1)[0]
        if kind == "journey":
            matching.add((version, runner, item))
            journeys.setdefault((version, runner), {}).setdefault(item, [])
        elif kind in _FROM:
            out.setdefault((version, runner), []).append(_FROM[kind](item, value))
    for (version, runner), by_contact in journeys.items():
        out.setdefault((version, runner), []).extend(
            JourneyContact(contact, enrolments, (version, runner, contact) in matching)
            for contact, enrolments in by_contact.items()
        )
    for row in state.groups:
        snapshot = InstanceState(row.id, row.account, row.opens, row.closes, row.members, row.closed, row.dissolved)
        out.setdefault((row.version, f"group:{row.group}"), []).append(snapshot)
    return out


def _rotation(item: str, value: dict[str, Any]) -> RotationCycle | RotationQueue:
    """A rotation's flow_state: its cycle (item ""), or an account's queue."""
    if item == "":
        return RotationCycle(value["cycle"], dt.date.fromisoformat(value["first_day"]) if value["first_day"] else None)
    return RotationQueue(item, list(value["queue"]), list(value["placed"]))


def _seat(item: str, doc: dict[str, Any]) -> SeatState:
    """A standing group's flow_state: one of its numbered groups."""
    return SeatState(item, doc["chain"], doc["account"], doc["number"], list(doc["members"]), list(doc["lapsed"]))


def _watch(item: str, value: Any) -> SlaWatch | SlaBase:
    """A service level's flow_state: a contact's serial and open watch; as an earlier version
    kept it, the open watch alone, or (item "") one serial for all contacts."""
    if item == "":
        return SlaBase(value)
    if isinstance(value, dict):
        return SlaWatch(item, value["serial"], None if value["open"] is None else tuple(value["open"]))
    return SlaWatch(item, value[2], tuple(value))


# flow_state values of each kind of runner -> its snapshot (a journey's are read with its enrolments)
_FROM: dict[str, Callable[[str, Any], Any]] = {"rotation": _rotation, "standing": _seat, "sla": _watch}


def _restore_counters(engine: Engine, rows: Sequence[CounterRow]) -> list[LimitCounter]:
    """Each counter resumes its latest period (an older one would be rolled over anyway).
    Returns the counters the store had no row for (a limit added or changed by an edit:
    the caller may count the current period from the ledger)."""
    latest: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.scope, row.rule)
        latest[key] = max(latest.get(key, row.period_start), row.period_start)
    by_scope = {(scope, rule): counter for counter, scope, rule in _counter_scopes(engine.programs).values()}
    for row in rows:
        key = (row.scope, row.rule)
        counter = by_scope.get(key)
        if counter is None or row.period_start != latest[key]:
            continue
        counter.period_start, counter.period_end = row.period_start, row.period_end
        counter.counts[row.scope_id] = row.count
    return [counter for key, counter in by_scope.items() if key not in latest and key[0] != PLATFORM]


def count_sent(counter: LimitCounter, now: int, sent: Sequence[tuple[str, str | None, str | None]]) -> None:
    """Start `counter` in the period of `now` with the touches that went out in it
    (channel, account, contact), as the engine would have counted them had the rule been
    there all along."""
    counter.next_start(now)  # rolls into the period of `now`
    rule = counter.rule
    for channel, account, contact in sent:
        if channel == "tag" or not rule.applies(channel, contact is not None):
            continue
        scope_id = contact if counter.by_contact else account
        if scope_id is not None:
            counter.add(now, scope_id)
