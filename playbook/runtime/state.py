"""The engine's state in the store: what changed since the last commit (`Journaler`), and
an engine rebuilt from what was committed (`restore`).

The engine keeps its working state in memory (docs/daemon.md). The journaler watches it
through the engine's `observer` hooks and, at each commit, turns what changed into one
`Journal` — contacts, enrolments and who matches a segment, group instances, rotation
queues, SLA watches, limit counts, timeline items, held touches, touches with their
outcome, state events and the engine's clock — for `Store.write` to apply in one
transaction. `restore` is the inverse: the same engine, from a `State`.

Timeline payloads and a touch's origin name a playbook by its position among the engine's
playbooks; in the store they name its version, so a restart with another set of versions
(a reload) still finds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from playbook.compiler import ir
from playbook.engine.core import Contacts, Engine, Program, Sink
from playbook.engine.flows import Enrolment, Instance
from playbook.engine.policy import LimitCounter
from playbook.runtime.rows import CounterRow, EnrolmentRow, GroupRow, Handoff, Journal, State, TimerRow, TouchRow
from playbook.vocab.limits import LimitRule
from playbook.vocab.model import StateEvent, Touch, TouchRequest
from playbook.vocab.reasons import Reason
from playbook.vocab.reasons import read as read_reason

# The touches a playbook sent in a period: (identity, start, end) -> [(channel, account, contact)]
SentIn = Callable[[str, int, int], Sequence[tuple[str, str | None, str | None]]]

# Timeline items whose payload starts with the playbook's position.
INDEXED_KINDS = frozenset({"fire", "step", "timeout", "group_step", "close", "sla_remind", "sla_deadline",
                           "sla_escalate"})  # fmt: skip
CLOCK = "clock"  # engine_state: {"start", "now"}
PLATFORM = "platform"  # limit_counters.scope of an adapter's quotas (shared by every playbook)


def item_contact(item: tuple, held: Mapping[str, str | None]) -> str | None:
    """The contact a timeline item is about (None: the engine's own, a schedule firing, a
    group's step): the one place that knows where a payload names it. `held`: a held
    touch's key → its contact (a retry names the touch)."""
    kind, payload = item[4], item[5]
    if kind == "event":
        return payload[0].contact
    if kind in ("step", "timeout", "sla_remind", "sla_deadline", "sla_escalate"):
        return payload[2]
    if kind == "retry":
        return held.get(payload[0])
    return None


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
        self.timers_added: dict[int, tuple] = {}
        self.timers_removed: set[int] = set()
        self.contacts: set[str] = set()
        self.touches: dict[str, TouchRow | TouchRequest] = {}  # a held request becomes its row at commit
        self.counts: set[tuple[int, str]] = set()  # (id of a LimitCounter, scope id)
        self.runners: set[tuple[int, str, str]] = set()
        self.state_events: list[StateEvent] = []

    # ---- the Observer hooks -------------------------------------------------------------------
    def timer_added(self, item: tuple) -> None:
        self.timers_added[item[3]] = item

    def timer_done(self, item: tuple) -> None:
        if self.timers_added.pop(item[3], None) is None:
            self.timers_removed.add(item[3])

    def contact(self, cid: str) -> None:
        self.contacts.add(cid)

    def held(self, req: TouchRequest) -> None:
        self.touches[req.key] = req

    def released(self, req: TouchRequest) -> None:
        if isinstance(self.touches.get(req.key), TouchRequest):
            del self.touches[req.key]  # its outcome (or a new hold) follows before the commit

    def counted(self, program: Program, req: TouchRequest) -> None:
        for counter in program.policies.applicable(req.channel, req.contact is not None):
            scope = counter.rule.scope
            scope_id = req.contact if scope == "contact" else req.group if scope == "group" else req.account
            if scope_id is not None:
                self.counts.add((id(counter), scope_id))

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
        """What moves with a contact to `shard`: the timeline items that name it (seqs) and
        its contact-scoped limit counts (keys); its record, enrolments, segment matches, SLA
        watches, held touches and unprocessed events are found by the store."""
        engine = self.engine
        held = {req.key: req.contact for req in engine.held()}
        timers = sorted(item[3] for item in engine.items() if item_contact(item, held) == cid)
        counters = [(scope, rule, cid, counter.period_start) for counter, scope, rule in self._counter_scopes.values()
                    if counter.by_contact and counter.period_start >= 0 and cid in counter.counts]  # fmt: skip
        return Handoff(shard, timers, counters)

    # ---- the commit -------------------------------------------------------------------------------
    def capture(self) -> Journal:
        """Everything that changed since the last capture, as one Journal."""
        engine = self.engine
        journal = Journal()
        self._contacts_into(journal)
        rotations: dict[tuple[int, str], list[str]] = {}
        for index, runner, item in sorted(self.runners):
            if runner.startswith("rotation:"):
                rotations.setdefault((index, runner), []).append(item)
            else:
                self._runner_into(journal, index, runner, item)
        for (index, runner), accounts in rotations.items():
            self._rotation_into(journal, index, runner, accounts)
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

    def _runner_into(self, journal: Journal, index: int, runner: str, item: str) -> None:
        flows = self.engine.flows[index]
        version = flows.program.version
        kind, name = runner.split(":", 1)
        if kind == "journey":
            run = flows.journeys[name]
            for enr in run.history.get(item, ()):
                journal.enrolments.append(_enrolment_row(version, name, enr))
            key = (version, runner, item)
            if item in run.matching:
                journal.flow_state[key] = True
            else:
                journal.flow_state_removed.append(key)
        elif kind == "group":
            group = flows.groups[name]
            inst = group.instances[item]
            journal.groups.append(
                GroupRow(
                    version,
                    inst.id,
                    name,
                    inst.account,
                    inst.opens,
                    inst.closes,
                    list(inst.members),
                    inst.closed,
                    inst not in group.open_instances,
                )  # fmt: skip
            )
        elif kind == "standing":  # a numbered group of a standing group: its members (engine/standing.py)
            doc = flows.standing[name].state_of(item)
            if doc is not None:
                journal.flow_state[(version, runner, item)] = doc
        else:
            sla = next(x for x in flows.slas if x.s.name == name)
            if item:
                watch = sla.open.get(item)
                journal.flow_state[(version, runner, item)] = {
                    "serial": sla.serials.get(item, sla.base),
                    "open": None if watch is None else list(watch),
                }

    def _rotation_into(self, journal: Journal, index: int, runner: str, accounts: list[str]) -> None:
        """A rotation's cycle, and each changed account's queue and who was placed in it
        this cycle (grouped once: a firing changes every account)."""
        flows = self.engine.flows[index]
        version = flows.program.version
        rot = next(r for r in flows.rotations if r.key == runner)
        first_day = rot.first_day.isoformat() if rot.first_day else None
        journal.flow_state[(version, runner, "")] = {"cycle": rot.cycle, "first_day": first_day}
        fields = self.engine.contacts.fields
        placed: dict[str, list[str]] = {}
        for cid in rot.placed:
            placed.setdefault(fields.get(cid, {}).get("account") or "", []).append(cid)
        for account in accounts:
            if not account:
                continue  # the cycle itself, written above
            queue = rot.queues.get(account)
            if queue is None:
                journal.flow_state_removed.append((version, runner, account))
            else:
                who = sorted(placed.get(account, ()))
                journal.flow_state[(version, runner, account)] = {"queue": list(queue), "placed": who}

    def _timer_row(self, item: tuple) -> TimerRow:
        due, phase, order, seq, kind, payload = item
        version = None
        if kind in INDEXED_KINDS:
            version = self.versions[payload[0]]
            payload = (version, *payload[1:])
        return TimerRow(seq, due, phase, order, kind, payload, version)

    def _held_row(self, req: TouchRequest) -> TouchRow:
        row = TouchRow.held(req)
        origin = req.origin
        if origin is not None and row.request is not None:
            row.request["origin"] = (origin[0], self.versions[origin[1]], *origin[2:])
        return row


def _enrolment_row(version: str, journey: str, enr: Enrolment) -> EnrolmentRow:
    return EnrolmentRow(version, journey, enr.contact, enr.n, enr.entered_at, enr.status, enr.epoch, enr.event,
                        dict(enr.arms), enr.wait.id if enr.wait is not None else None,
                        enr.touch.key if enr.touch is not None else None, enr.goal_at, list(enr.segments))  # fmt: skip


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
    retired_set = set(retired)
    for flows in engine.flows:
        flows.retired = flows.program.version in retired_set
    _share_policies(engine)
    _link_predecessors(engine)
    if clock is None:
        return engine, True
    engine.now = clock["now"]
    held = _held_requests(engine, state.held, index)
    engine.resume(_timeline(state.timers, index), held, max((row.seq for row in state.timers), default=0))
    _restore_enrolments(engine, state.enrolments, index, held)
    _restore_groups(engine, state.groups, index)
    _restore_flow_state(engine, state.flow_state, index)
    uncounted = _restore_counters(engine, state.counters)
    if sent is not None:
        identities = {id(p.policies): p.identity for p in engine.programs}
        owner = {id(c): identities[id(p.policies)] for p in engine.programs for c in p.policies.counters}
        for counter in uncounted:
            counter.next_start(engine.now)
            count_sent(counter, engine.now, sent(owner[id(counter)], counter.period_start, counter.period_end))
    return engine, False


def _share_policies(engine: Engine) -> None:
    """Versions of one playbook side by side (older ones finishing what their contacts
    started): the running version's quiet hours and limits govern them all, and they count
    together."""
    running = {f.program.identity: f.program.policies for f in engine.flows if not f.retired}
    for flows in engine.flows:
        if flows.retired and flows.program.identity in running:
            flows.program.policies = running[flows.program.identity]


def _link_predecessors(engine: Engine) -> None:
    """A journey of a newer version knows the same journey of the older versions of the
    same playbook (retired first, in the order given), for one-at-a-time and re-entry."""
    for flows in engine.flows:
        if flows.retired:
            continue
        identity = flows.program.identity
        for name, run in flows.journeys.items():
            run.predecessors = [f.journeys[name] for f in engine.flows
                                if f.retired and f.program.identity == identity and name in f.journeys]  # fmt: skip


def _timeline(timers: Sequence[TimerRow], index: dict[str, int]) -> list[tuple]:
    """Timer rows as timeline items, the playbook named by its position again."""
    items = []
    for row in timers:
        payload = row.payload
        if row.kind in INDEXED_KINDS:
            if payload[0] not in index:
                continue  # a version no longer loaded
            payload = (index[payload[0]], *payload[1:])
        items.append((row.due, row.phase, tuple(row.order), row.seq, row.kind, tuple(payload)))
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
                           event=r.get("event"), origin=origin, cancelled=_reason(r.get("cancelled")),
                           reasons=[read_reason(x) for x in r.get("reasons") or ()], not_after=r.get("not_after"))  # fmt: skip
        if r.get("moments"):
            run = next(m for m in flows.moments if m.name == row.flow)
            req.audience_of = run.audience_for(req.step_order, row.account or "")
        held[row.key] = req
    return held


def _reason(text: str | None) -> Reason | None:
    return None if text is None else read_reason(text)


def _restore_enrolments(engine: Engine, rows: Sequence[EnrolmentRow], index: dict[str, int],
                        held: dict[str, TouchRequest]) -> None:  # fmt: skip
    for row in rows:
        if row.version not in index:
            continue
        run = engine.flows[index[row.version]].journeys.get(row.journey)
        if run is None:
            continue
        enr = Enrolment(row.contact, row.n, row.entered_at, row.event, list(row.segments))
        enr.status, enr.epoch, enr.arms, enr.goal_at = row.status, row.epoch, dict(row.arms), row.goal_at
        enr.wait = run.j.nodes[row.wait] if row.wait else None
        enr.touch = held.get(row.touch) if row.touch else None
        run.history.setdefault(row.contact, []).append(enr)


def _restore_groups(engine: Engine, rows: Sequence[GroupRow], index: dict[str, int]) -> None:
    for row in rows:
        if row.version not in index:
            continue
        group = engine.flows[index[row.version]].groups.get(row.group)
        if group is None:
            continue
        inst = Instance(row.id, row.account, row.opens, row.closes)
        inst.members, inst.closed = list(row.members), row.closed
        group.instances[inst.id] = inst
        if not row.dissolved:
            group.open_instances.append(inst)
    for flows in engine.flows:
        for group in flows.groups.values():
            group.open_instances.sort(key=lambda i: (i.opens, _instance_number(i.id), i.id))


def _instance_number(instance_id: str) -> int:
    tail = instance_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _restore_flow_state(engine: Engine, values: dict[tuple[str, str, str], Any], index: dict[str, int]) -> None:
    for (version, runner, item), value in values.items():
        if version not in index:
            continue
        flows = engine.flows[index[version]]
        kind, name = runner.split(":", 1)
        if kind == "journey":
            run = flows.journeys.get(name)
            if run is not None:
                run.matching.add(item)
        elif kind == "rotation":
            rot = next((r for r in flows.rotations if r.name == name), None)
            if rot is None:
                continue
            if item == "":
                rot.cycle = value["cycle"]
                rot.first_day = dt.date.fromisoformat(value["first_day"]) if value["first_day"] else None
            else:
                rot.queues[item] = list(value["queue"])
                rot.placed.update(value["placed"])
        elif kind == "standing":
            standing = flows.standing.get(name)
            if standing is not None:
                standing.restore(item, value)
        elif kind == "sla":
            sla = next((x for x in flows.slas if x.s.name == name), None)
            if sla is None:
                continue
            if item == "":
                sla.base = value  # a store of an earlier version counted occurrences for all contacts
            elif isinstance(value, dict):
                sla.serials[item] = value["serial"]
                if value["open"] is not None:
                    sla.open[item] = tuple(value["open"])
            else:  # an earlier version's open watch
                sla.open[item] = tuple(value)
                sla.serials[item] = value[2]
    for flows in engine.flows:
        for rot in flows.rotations:
            rot.queues = dict(sorted(rot.queues.items()))


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
