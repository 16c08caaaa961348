"""The flows of one playbook on the engine's timeline: journeys, short-term groups, the
Moments calendar, rotations (LANGUAGE.md §6–§9), and the service levels' runners of
engine/sla.py (§10).

Each runner reacts to four things the engine tells it — activation, an event, a contact
that changed, the 00:00 day tick — and puts its own work on the timeline. The exact
rules, and every choice where the spec is silent, are in docs/semantics.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from playbook.compiler import ir
from playbook.compiler.schedules import occurrences
from playbook.engine.columns import Audience
from playbook.engine.expr import Scope
from playbook.engine.host import TASK_LANGUAGE
from playbook.engine.pinyin import name_key
from playbook.engine.sla import SlaRun
from playbook.engine.standing import JOINED, LEFT, StandingRun
from playbook.engine.timeline import Close, Fire, GroupStep, Item, Step, Timeout
from playbook.i18n import N_, t_in
from playbook.vocab import reasons
from playbook.vocab.localtime import parse_clock
from playbook.vocab.model import Event, StateEvent, TouchRequest
from playbook.vocab.reasons import Reason

if TYPE_CHECKING:
    from playbook.engine.host import Host as Engine
    from playbook.engine.program import Program

DISSOLVE_TASK = N_("Please dissolve the group “{group}” (a short-lived group that has ended)")


class FlowSet:
    """All runners of one playbook."""

    def __init__(self, engine: Engine, program: Program, index: int):
        self.engine = engine
        self.program = program
        self.index = index  # position among the engine's playbooks: timeline items name it
        # A version replaced by a newer one (the daemon's reload): its contacts finish what
        # they started, but nobody enters and no schedule fires any more.
        self.retired = False
        self.activated_at = engine.start  # when its schedules were laid out (a reload: later)
        pb = program.ir
        self.journeys = {n: JourneyRun(self, j) for n, j in pb.journeys.items()}
        self.groups = {n: GroupRun(self, g) for n, g in pb.groups.items()}
        self.moments = [MomentsRun(self, m) for m in pb.moments.values()]
        self.rotations = [RotationRun(self, r) for r in pb.rotations.values()]
        self.slas = [SlaRun(self, s, i) for i, s in enumerate(pb.slas.values())]
        self.standing = {n: StandingRun(self, g) for n, g in (pb.standing or {}).items()}
        self.runners: dict[str, Any] = {}  # every runner by its key ("journey:NAME" …): timeline items, the journal
        self._schedule_docs: dict[int, dict[str, Any]] = {}
        self._reacting: dict[str, tuple[list[SlaRun], list[JourneyRun]]] = {}  # event type -> who reacts
        for kind, runs in (("journey", self.journeys.values()), ("group", self.groups.values()),
                           ("moments", self.moments), ("rotation", self.rotations),
                           ("standing", self.standing.values()), ("sla", self.slas)):  # fmt: skip
            for run in runs:
                run.key = f"{kind}:{run.name}"
                self.runners[run.key] = run

    def dirty(self, runner: str, item: str) -> None:
        """A runner's state for `item` changed (for the daemon's journal)."""
        observer = self.engine.observer
        if observer is not None:
            observer.dirty(self.index, runner, item)

    # ---- shared helpers --------------------------------------------------------------------
    @property
    def clock(self) -> Any:
        return self.program.clock

    def scope(self, cid: str | None, t: int, event: dict[str, Any] | None = None) -> Scope:
        return self.engine.contacts.scope(cid, t, event)

    def matches(self, expr: Any, cid: str, t: int, event: dict[str, Any] | None = None) -> bool:
        return expr is None or self.program.predicate(expr)(self.scope(cid, t, event))

    def emit(self, t: int, kind: str, contact: str | None, flow: str | None, **data: Any) -> None:
        self.engine.emit(StateEvent(t, kind, contact, flow, data, self.program.version))

    def next_firing(self, schedule: Any, after: int) -> int | None:
        """The first firing strictly after `after` (within a year), as an instant."""
        clock = self.clock
        local = clock.local(after).replace(tzinfo=None, second=0, microsecond=0) + dt.timedelta(minutes=1)
        doc = self._schedule_docs.get(id(schedule))
        if doc is None:  # the plain form occurrences() reads, made once per schedule
            doc = self._schedule_docs[id(schedule)] = ir.to_doc(schedule)
        for when in occurrences(doc, local, local + dt.timedelta(days=366)):
            ts = clock.instant(when)
            if ts > after:
                return ts
        return None

    def repeat(self, schedule: Any, first_after: int, runner: str, rule: int = 0) -> None:
        """Fire runner's rule at every firing of a schedule from `first_after` on
        (including a firing exactly at `first_after`)."""
        nxt = self.next_firing(schedule, first_after - 1)
        if nxt is not None:
            self.engine.at(nxt, Fire(self.index, runner, rule))

    def once(self, local_iso: str, runner: str, rule: int = 0) -> None:
        t = self.clock.instant(dt.datetime.fromisoformat(local_iso))
        if t >= self.activated_at:  # a one-off already in the past when activated never fires
            self.engine.at(t, Fire(self.index, runner, rule, True))

    def fire(self, runner: str, rule: int, once: bool = False) -> None:
        """A schedule fired: run it, and put its next firing on the timeline."""
        if self.retired:
            return  # the newer version's schedules run now
        t = self.engine.now
        run = self.runners[runner]
        run.fired(rule, t)
        if not once:
            self.repeat(run.schedule_of(rule), t + 1, runner, rule)

    # ---- what the engine tells the runners -------------------------------------------------
    def activate(self, t: int) -> None:
        self.activated_at = t
        for run in self.runners.values():
            run.activate(t)

    def on_event(self, event: Event) -> None:
        slas, journeys = self._reacting.get(event.type) or self._reacts(event.type)
        for sla in slas:
            sla.on_event(event)
        for j in journeys:
            j.on_event(event)
        if event.type in (JOINED, LEFT):
            for g in self.standing.values():
                g.on_event(event)

    def _reacts(self, kind: str) -> tuple[list[SlaRun], list[JourneyRun]]:
        """The SLAs and journeys an event type concerns, in their order (worked out once
        per type: most events concern few runners)."""
        found = self._reacting[kind] = (
            [sla for sla in self.slas if kind in (sla.sla.trigger, sla.sla.answer)],
            [j for j in self.journeys.values() if kind in j.reacts_to],
        )
        return found

    def contact_changed(self, cid: str) -> None:
        for j in self.journeys.values():
            j.contact_changed(cid)
        for r in self.rotations:
            r.contact_changed(cid)
        for g in self.standing.values():
            g.contact_changed(cid)

    def day_tick(self, t: int) -> None:
        for j in self.journeys.values():
            j.day_tick(t)
        for g in self.standing.values():
            g.day_tick(t)

    def tag(self, cid: str, tag: str, add: bool, t: int, flow: str) -> None:
        """A runner's `tag add/remove` (see change_tag)."""
        change_tag(self, cid, tag, add, t, flow)

    def take_over(self, olders: Sequence[FlowSet], now: int) -> None:
        """This version starts while `olders` — older versions of the same playbook, oldest
        first — still run: who already matches a journey's segment entry there is not greeted
        again, its schedules are laid out from now, and each runner carries on from the same
        runner in the older versions (a rotation's cycle, a service level's open watches)."""
        for run in self.journeys.values():
            run.take_over_from(run.predecessors)  # before activation, which would greet them
        self.activate(now)
        for run in (*self.groups.values(), *self.moments, *self.rotations, *self.standing.values(), *self.slas):
            run.take_over_from([f.runners[run.key] for f in olders if run.key in f.runners])

    def touch_done(self, origin: tuple, sent_at: int | None) -> None:
        """A touch with an origin went out (sent_at) or was skipped (None): continue."""
        kind, _, name, *rest = origin
        if kind == "journey":
            self.journeys[name].touch_done(*rest, sent_at=sent_at)
        else:
            self.groups[name].touch_done(*rest, sent_at=sent_at)


def timing_due(clock: Any, timing: Any, prev: int, anchor: int) -> int:
    """When a step is due: from the previous step's time, or the anchor (entry/opening)."""
    if timing is None:
        return prev
    if timing.kind == "after":
        return prev + timing.minutes * 60
    if timing.kind == "at":
        return clock.next_clock(prev, parse_clock(timing.time))
    # day N at HH:MM; if that moment is already past, the step runs now (never backwards)
    return max(prev, clock.day_at(anchor, timing.day, parse_clock(timing.time)))


def _step_order(node_id: str) -> int:
    return int(node_id[1:])


# ---- journeys ----------------------------------------------------------------------------------


class Enrolment:
    """One contact's pass through a journey."""

    __slots__ = (
        "contact",
        "n",
        "entered_at",
        "status",
        "epoch",
        "event",
        "arms",
        "touch",
        "wait",
        "goal_at",
        "segments",
    )

    def __init__(self, contact: str, n: int, entered_at: int, event: dict[str, Any] | None, segments: list[str]):
        self.contact = contact
        self.n = n  # 1 for the first entry, 2 for a re-entry …
        self.entered_at = entered_at
        self.status = "active"  # active | done | exited
        self.epoch = 0  # bumped on exit, so timers set before it do nothing
        self.event = event
        self.arms: dict[str, str] = {}
        self.touch: TouchRequest | None = None
        self.wait: Any = None  # the wait node while waiting for an event
        self.goal_at: int | None = None
        self.segments = segments  # segments the contact was in at entry (for reports)


class EnrolmentState(NamedTuple):
    """An enrolment as a value: its wait node by id, the touch it waits for by key."""

    contact: str
    n: int
    entered_at: int
    status: str
    epoch: int
    event: dict[str, Any] | None
    arms: dict[str, str]
    wait: str | None  # the wait node's id
    touch: str | None  # the key of the touch it waits for (held)
    goal_at: int | None
    segments: list[str]


class JourneyContact(NamedTuple):
    """A journey's state for one contact (its item): its enrolments, oldest first, and
    whether it matches the journey's segment entry now."""

    contact: str
    enrolments: list[EnrolmentState]
    matching: bool


def waiting_steps(items: Iterable[Item]) -> dict[tuple[int, str], dict[tuple[str, int, int], Item]]:
    """The journeys' step and timeout items, by journey (flow, name) and then by enrolment
    (contact, n, epoch) — what `JourneyRun.migrate_from` moves."""
    found: dict[tuple[int, str], dict[tuple[str, int, int], Item]] = {}
    for item in items:
        due = item.payload
        if due.__class__ is Step or due.__class__ is Timeout:
            found.setdefault((due.flow, due.journey), {})[due.contact, due.n, due.epoch] = item
    return found


class JourneyRun:
    def __init__(self, flows: FlowSet, j: ir.Journey):
        self.flows = flows
        self.journey = j
        self.name = j.name
        self.key = ""
        self.engine = flows.engine
        self.history: dict[str, list[Enrolment]] = {}
        self.matching: set[str] = set()  # on enter SEGMENT: who matches now
        # The same journey in older versions still running: one enrolment at a time and
        # re-entry count across versions (a playbook edit does not greet everyone again).
        self.predecessors: list[JourneyRun] = []
        entry = j.entry
        self.segment = flows.program.segments.get(entry.segment) if entry.segment else None
        program = flows.program
        self.members = program.membership(program.ir.segments[entry.segment].expr) if entry.segment else None
        # The event types this journey can react to: its entry, exits, goal, waits, deletion.
        self.reacts_to = {
            "deleted",
            *(x.event for x in j.exits if x.event),
            *(n.event for n in j.nodes.values() if n.event),
        }
        if entry.event:
            self.reacts_to.add(entry.event)
        if j.goal is not None:
            self.reacts_to.add(j.goal.event)

    # ---- entry -----------------------------------------------------------------------------
    def activate(self, t: int) -> None:
        entry = self.journey.entry
        if entry.kind == "segment":
            self._reevaluate_all(t)
        elif entry.kind == "schedule":
            self.flows.repeat(entry.schedule, t, self.key)
        elif entry.kind == "once":
            self.flows.once(entry.at, self.key)

    def schedule_of(self, rule: int) -> Any:
        return self.journey.entry.schedule

    def fired(self, rule: int, t: int) -> None:
        self._enter_segment(t)

    def _enter_segment(self, t: int) -> None:
        assert self.members is not None
        columns = self.engine.columns
        for cid in columns.ids_of(self.members.at(t) & columns.live()):
            self.enter(cid, t)

    def _reevaluate_all(self, t: int) -> None:
        """Everyone who matches now and did not before enters; who stopped matching is
        forgotten (so matching again later is a new start)."""
        assert self.members is not None
        columns = self.engine.columns
        now_matching = columns.ids_of(self.members.at(t) & columns.live())
        before = self.matching
        self.matching = set(now_matching)
        flows = self.flows
        for cid in before.symmetric_difference(self.matching):
            flows.dirty(self.key, cid)
        for cid in now_matching:
            if cid not in before:
                self.enter(cid, t)

    def _reevaluate(self, cid: str, t: int) -> None:
        matching = self.matching
        if not self.engine.contacts.active(cid):
            if cid in matching:
                matching.discard(cid)
                self.flows.dirty(self.key, cid)
            return
        if self.segment(self.flows.scope(cid, t)):
            if cid not in matching:
                matching.add(cid)
                self.flows.dirty(self.key, cid)
                self.enter(cid, t)
        elif cid in matching:
            matching.discard(cid)
            self.flows.dirty(self.key, cid)

    def contact_changed(self, cid: str) -> None:
        if self.journey.entry.kind == "segment":
            self._reevaluate(cid, self.engine.now)

    def day_tick(self, t: int) -> None:
        if (
            self.members is not None
            and self.members.time_dependent
            and t > self.engine.start
            and self.journey.entry.kind == "segment"
        ):
            self._reevaluate_all(t)

    def latest(self, cid: str) -> Enrolment | None:
        """The contact's most recent enrolment in this journey, in any running version."""
        found = [h[-1] for run in (self, *self.predecessors) if (h := run.history.get(cid))]
        return max(found, key=lambda e: e.entered_at) if found else None

    def enter(self, cid: str, t: int, event: dict[str, Any] | None = None) -> None:
        if self.flows.retired or not self.engine.contacts.active(cid):
            return
        past = self.history.get(cid)
        last = past[-1] if past else None
        if self.predecessors:
            last = self.latest(cid)
        if last is not None:
            if last.status == "active":
                return  # at most once at a time
            again = self.journey.reenter_after_minutes
            if again is None or t - last.entered_at < again * 60:
                return
        program = self.flows.program
        scope = self.flows.scope(cid, t)
        segments = [name for name, pred in program.segments.items() if pred(scope)]
        enr = Enrolment(cid, len(past or ()) + 1, t, event, segments)
        self.history.setdefault(cid, []).append(enr)
        self.flows.dirty(self.key, cid)
        self.flows.emit(t, "enter", cid, self.journey.name, n=enr.n)
        self._goto(enr, self.journey.start, t)

    # ---- steps -----------------------------------------------------------------------------
    def _goto(self, enr: Enrolment, node_id: str | None, prev: int) -> None:
        if enr.status != "active":
            return
        if node_id is None:
            enr.status = "done"
            self.flows.dirty(self.key, enr.contact)
            self.flows.emit(prev, "exit", enr.contact, self.journey.name, reason="completed")
            return
        node = self.journey.nodes[node_id]
        due = timing_due(self.flows.clock, node.timing, prev, enr.entered_at)
        self.engine.at(due, Step(self.flows.index, self.name, enr.contact, enr.n, node_id, enr.epoch), (enr.contact,))

    def enrolment(self, cid: str, n: int) -> Enrolment:
        return self.history[cid][n - 1]

    def step(self, due: Step) -> None:
        """A step is due (timeline item "step")."""
        enr = self.enrolment(due.contact, due.n)
        if enr.epoch != due.epoch or enr.status != "active":
            return
        self.flows.dirty(self.key, due.contact)  # its touch or wait may change
        self._step(enr, self.journey.nodes[due.node], self.engine.now)

    def _step(self, enr: Enrolment, node: ir.Node, t: int) -> None:
        cid = enr.contact
        flows = self.flows
        for rule in self.journey.exits:
            if rule.kind == "condition" and flows.matches(rule.condition, cid, t, enr.event):
                return self.exit(enr, t, reasons.EXIT_WHEN)
        kind = node.kind
        if kind in ("dm", "task"):
            req = self._touch(enr, node, t)
            if kind == "dm":
                req.content = node.content
            else:
                req.task_text = node.text
            enr.touch = req
            return self.engine.request(req)
        if kind == "invite":
            return self._invite(enr, node, t)
        if kind in ("tag_add", "tag_remove"):
            change_tag(flows, cid, node.text or "", kind == "tag_add", t, self.journey.name)
            return self._goto(enr, node.next, t)
        if kind == "exit":
            return self.exit(enr, t, reasons.EXIT_STEP)
        if kind == "if":
            branch = node.then if flows.matches(node.condition, cid, t, enr.event) else node.otherwise
            return self._goto(enr, branch, t)
        if kind == "split":
            arm = choose_arm(self.journey.name, node, cid)
            enr.arms[node.id] = arm.name
            flows.emit(t, "split", cid, self.journey.name, step=node.id, arm=arm.name)
            return self._goto(enr, arm.next, t)
        assert kind == "wait"
        enr.wait = node
        deadline = t + (node.up_to_minutes or 0) * 60
        self.engine.at(deadline, Timeout(self.flows.index, self.name, cid, enr.n, node.id, enr.epoch), (cid,))
        return None

    def timed_out(self, due: Timeout) -> None:
        """A wait ran out (timeline item "timeout"): the else-branch, from the deadline."""
        enr = self.enrolment(due.contact, due.n)
        if enr.epoch == due.epoch and enr.wait is not None and enr.wait.id == due.node:
            enr.wait = None
            self.flows.dirty(self.key, due.contact)
            self._goto(enr, self.journey.nodes[due.node].otherwise, self.engine.now)

    def _touch(self, enr: Enrolment, node: ir.Node, t: int) -> TouchRequest:
        cid = enr.contact
        program = self.flows.program
        # positional (a plan makes a million): due, channel, account, flow, step, step_order,
        # priority, playbook, key, contact
        req = TouchRequest(t, node.kind if node.kind != "invite" else "dm",
                           self.engine.contacts.fields[cid].get("account"), self.journey.name, node.label,
                           _step_order(node.id), self.journey.priority, program,
                           f"{program.version}/{self.journey.name}/{cid}/{node.id}/{enr.n}", cid)  # fmt: skip
        req.event = enr.event
        req.entered_at = enr.entered_at
        req.origin = ("journey", self.flows.index, self.name, cid, enr.n, node.id, enr.epoch)
        return req

    def touch_done(self, cid: str, n: int, node_id: str, epoch: int, *, sent_at: int | None) -> None:
        enr = self.enrolment(cid, n)
        enr.touch = None
        self.flows.dirty(self.key, cid)
        if enr.epoch == epoch:
            due = self.engine.now if sent_at is None else sent_at
            self._goto(enr, self.journey.nodes[node_id].next, due)

    def _invite(self, enr: Enrolment, node: ir.Node, t: int) -> None:
        cid = enr.contact
        standing = self.flows.standing.get(node.group or "")
        if standing is not None:  # a standing group (engine/standing.py)
            req = self._touch(enr, node, t)
            standing.invite(req, cid, t)
            enr.touch = req
            return self.engine.request(req)
        run = self.flows.groups[node.group or ""]
        req = self._touch(enr, node, t)
        instance = run.instance_for(cid, t)
        req.content = run.group.invite
        if instance is None:
            req.cancelled = f"group '{run.group.name}' is not open"
        else:
            req.group, req.not_after = instance.id, instance.closes
        enr.touch = req
        self.engine.request(req)

    def exit(self, enr: Enrolment, t: int, reason: Reason) -> None:
        if enr.status != "active":
            return
        enr.status = "exited"
        enr.epoch += 1
        enr.wait = None
        self.flows.dirty(self.key, enr.contact)
        self.flows.emit(t, "exit", enr.contact, self.journey.name, reason=reason)
        if enr.touch is not None:
            touch, enr.touch = enr.touch, None
            self.engine.give_up(touch, reasons.exited(reason))

    # ---- versions --------------------------------------------------------------------------
    def take_over_from(self, olders: Sequence[JourneyRun]) -> None:
        """Who matches the segment entry in an older version matches here already (a new
        version does not greet them again)."""
        for older in olders:
            self.matching |= older.matching
        for cid in self.matching:
            self.flows.dirty(self.key, cid)

    def migrate_from(self, older: JourneyRun, waiting: Mapping[tuple[str, int, int], Item], now: int) -> int:
        """`run --migrate`: contacts mid-journey in `older` (this journey in an older version)
        continue here, at the same step (node id) where it still exists; where it does not,
        or while a touch of theirs is held, they finish the older version. `waiting`: the
        older journey's step and timeout items by (contact, n, epoch) (`waiting_steps`).
        Returns how many moved."""
        moved: set[int] = set()  # seqs of the older version's items that moved
        for cid, history in list(older.history.items()):
            enr = history[-1]
            item = waiting.get((cid, enr.n, enr.epoch))
            if enr.status != "active" or enr.touch is not None or item is None:
                continue
            due = item.payload
            if due.node not in self.journey.nodes:
                continue
            fresh = Enrolment(cid, len(self.history.get(cid, ())) + 1, enr.entered_at, enr.event, list(enr.segments))
            fresh.arms, fresh.goal_at = dict(enr.arms), enr.goal_at
            if due.__class__ is Timeout:
                fresh.wait = self.journey.nodes[due.node]
            self.history.setdefault(cid, []).append(fresh)
            self.flows.dirty(self.key, cid)
            older.exit(enr, now, Reason("migrated", version=self.flows.program.version))
            moved.add(item.seq)
            self.engine.at(item.due, due._replace(flow=self.flows.index, n=fresh.n, epoch=fresh.epoch), item.order)
        if moved:
            self.engine.take(lambda it: it.seq in moved)  # the older version has nothing left to do for them
        return len(moved)

    # ---- the daemon's store ----------------------------------------------------------------
    def snapshot(self, items: Iterable[str]) -> list[JourneyContact]:
        history, matching = self.history, self.matching
        return [JourneyContact(cid, [_enrolment_state(e) for e in history.get(cid, ())], cid in matching)
                for cid in items]  # fmt: skip

    def restore(self, snapshots: Iterable[JourneyContact]) -> None:
        nodes = self.journey.nodes
        for state in snapshots:
            history = self.history.setdefault(state.contact, [])
            for e in state.enrolments:
                enr = Enrolment(e.contact, e.n, e.entered_at, e.event, list(e.segments))
                enr.status, enr.epoch, enr.arms, enr.goal_at = e.status, e.epoch, dict(e.arms), e.goal_at
                enr.wait = nodes[e.wait] if e.wait else None
                enr.touch = self.engine.held_touch(e.touch) if e.touch else None
                history.append(enr)
            if not history:
                del self.history[state.contact]
            if state.matching:
                self.matching.add(state.contact)

    # ---- events ----------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        cid, t, kind = event.contact, event.at, event.type
        if kind not in self.reacts_to:
            return
        data = {"type": kind, **event.data}
        flows = self.flows
        if cid in self.history:
            flows.dirty(self.key, cid)  # an exit, a wait answered or a goal may follow
        current = (self.history.get(cid) or [None])[-1]
        if current is not None and current.status == "active":
            if kind == "deleted":
                self.exit(current, t, reasons.DELETED)
            else:
                for rule in self.journey.exits:
                    if rule.kind == "event" and rule.event == kind and flows.matches(rule.where, cid, t, data):
                        self.exit(current, t, reasons.exit_on(kind))
                        break
            wait = current.wait
            if (
                current.status == "active"
                and wait is not None
                and wait.event == kind
                and flows.matches(wait.where, cid, t, data)
            ):
                current.wait = None
                self._goto(current, wait.then, t)
        goal = self.journey.goal
        if goal is not None and goal.event == kind:
            for enr in self.history.get(cid, ()):
                within = enr.entered_at <= t <= enr.entered_at + goal.within_minutes * 60
                if enr.goal_at is None and within and flows.matches(goal.where, cid, t, data):
                    enr.goal_at = t
                    flows.emit(t, "goal", cid, self.journey.name, event=kind, after_seconds=t - enr.entered_at)
        entry = self.journey.entry
        if entry.kind == "event" and entry.event == kind and kind != "deleted":
            if self.engine.contacts.active(cid) and flows.matches(entry.where, cid, t, data):
                self.enter(cid, t, data)


def _enrolment_state(enr: Enrolment) -> EnrolmentState:
    return EnrolmentState(enr.contact, enr.n, enr.entered_at, enr.status, enr.epoch, enr.event, dict(enr.arms),
                          enr.wait.id if enr.wait is not None else None,
                          enr.touch.key if enr.touch is not None else None, enr.goal_at, list(enr.segments))  # fmt: skip


def change_tag(flows: FlowSet, cid: str, tag: str, add: bool, t: int, flow: str) -> None:
    """A playbook's own `tag add/remove`: changes tags like the event would (no event is
    raised for other flows to react to; segment membership is re-evaluated)."""
    record = flows.engine.contacts.fields[cid]
    tags = frozenset(record.get("tags", frozenset()))
    if (tag in tags) == add:
        return
    record["tags"] = tags | {tag} if add else tags - {tag}
    flows.emit(t, "tag_added" if add else "tag_removed", cid, flow, tag=tag)
    flows.engine.contact_changed(cid)


def choose_arm(journey: str, node: ir.Node, cid: str) -> ir.Arm:
    """Deterministic per contact and journey: a hash of both picks a point in [0, 100)."""
    digest = hashlib.sha256(f"{journey}\x00{node.id}\x00{cid}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100
    total = 0.0
    arms = node.arms or []
    for arm in arms:
        total += arm.weight
        if point < total:
            return arm
    return arms[-1]


# ---- short-term groups ---------------------------------------------------------------------------


class Instance:
    """One account's group of one opening (a full group overflows into the next)."""

    __slots__ = ("id", "account", "opens", "closes", "members", "closed")

    def __init__(self, id: str, account: str, opens: int, closes: int):
        self.id = id
        self.account = account
        self.opens = opens
        self.closes = closes
        self.members: list[str] = []
        self.closed = False


class InstanceState(NamedTuple):
    """A group instance as a value (a group's item, by its id)."""

    id: str
    account: str
    opens: int
    closes: int
    members: list[str]
    closed: bool  # the closing steps have begun
    dissolved: bool  # the closing steps are done


class GroupRun:
    def __init__(self, flows: FlowSet, g: ir.Group):
        self.flows = flows
        self.group = g
        self.name = g.name
        self.key = ""
        self.engine = flows.engine
        self.instances: dict[str, Instance] = {}
        self.open_instances: list[Instance] = []

    def activate(self, t: int) -> None:
        if self.group.opens.at:
            self.flows.once(self.group.opens.at, self.key)
        else:
            self.flows.repeat(self.group.opens.schedule, t, self.key)

    def schedule_of(self, rule: int) -> Any:
        return self.group.opens.schedule

    def fired(self, rule: int, t: int) -> None:
        self._open(t)

    def _open(self, t: int) -> None:
        g, flows = self.group, self.flows
        closes = t + g.lasts_minutes * 60
        day = flows.clock.date_of(t).isoformat()
        columns = self.engine.columns
        mask = self.flows.program.membership(g.members).at(t) if g.members is not None else columns.live()
        grouped = columns.by_account(mask)
        for account in sorted(grouped):
            members = sorted(columns.ids[i] for i in grouped[account])
            for n in range(math.ceil(len(members) / g.size)):
                inst = Instance(f"{g.name}/{account}/{day}/{n + 1}", account, t, closes)
                inst.members = members[n * g.size : (n + 1) * g.size]
                self._start(inst, t)
                self._invite(inst, t)

    def _start(self, inst: Instance, t: int) -> None:
        self.instances[inst.id] = inst
        self.open_instances.append(inst)
        self.flows.dirty(self.key, inst.id)
        title_scope = self.engine.contacts.accounts.get(inst.account)
        from playbook.engine.render import MissingValue, render

        try:
            title = render(self.group.title, None, title_scope, None, self.flows.clock)
        except MissingValue:
            title = self.group.name
        self.flows.emit(t, "group_opened", None, self.group.name, group=inst.id, account=inst.account, title=title,
                        members=len(inst.members), closes=inst.closes)  # fmt: skip
        self._goto(inst, self.group.start, inst.opens)  # a late instance: past steps run at once
        self.engine.at(inst.closes, Close(self.flows.index, self.name, inst.id, inst.account))

    def _invite(self, inst: Instance, t: int) -> None:
        """The instance's members are invited (a dm each)."""
        program = self.flows.program
        # positional: due, channel, account, flow, step, step_order, priority, playbook, key, contact, group
        like = TouchRequest(t, "dm", inst.account, self.group.name, f"invite {self.group.invite}", 0, 0, program, "", None,
                            inst.id)  # fmt: skip
        like.content = self.group.invite
        like.not_after = inst.closes
        prefix = f"{program.version}/{inst.id}/invite/"
        self.engine.request_batch(like, inst.members, [prefix + cid for cid in inst.members])

    def instance_for(self, cid: str, t: int) -> Instance | None:
        """The open instance a journey's `invite` puts this contact in, the contact added:
        the account's latest opening with room, or a new instance of that opening when all
        are full (its steps count from the original opening)."""
        account = self.engine.contacts.fields[cid].get("account")
        open_now = [i for i in self.open_instances if i.account == account and not i.closed and i.opens <= t < i.closes]
        if not open_now:
            return None
        latest = max(i.opens for i in open_now)
        candidates = [i for i in open_now if i.opens == latest]
        for inst in candidates:
            if len(inst.members) < self.group.size:
                inst.members.append(cid)
                self.flows.dirty(self.key, inst.id)
                return inst
        base = candidates[-1]
        stem = base.id.rsplit("/", 1)[0]
        inst = Instance(f"{stem}/{len(candidates) + 1}", base.account, base.opens, base.closes)
        inst.members.append(cid)
        self._start(inst, t)
        return inst

    def _goto(self, inst: Instance, node_id: str | None, prev: int, closing: tuple[str, ...] | None = None) -> None:
        """Put the instance's next step on the timeline. `closing` is None for the group's
        own steps, else the closing steps still to run after this one."""
        if node_id is None:
            if closing is not None:
                self._run_closing(inst, closing, prev)
            return
        node = self.group.nodes[node_id]
        due = timing_due(self.flows.clock, node.timing, prev, inst.opens)
        self.engine.at(due, GroupStep(self.flows.index, self.name, inst.id, node_id, closing, inst.account), (inst.id,))

    def step(self, due: GroupStep) -> None:
        """A group step is due (timeline item "group_step")."""
        inst = self.instances[due.instance]
        closing, node_id = due.closing, due.node
        if inst.closed and closing is None:
            return
        node = self.group.nodes[node_id]
        program = self.flows.program
        req = TouchRequest(due=self.engine.now, channel="group" if node.kind == "post" else "task",
                           account=inst.account, flow=self.group.name,
                           step=("closing: " if closing is not None else "") + node.label,
                           step_order=_step_order(node.id), priority=0, program=program,
                           key=f"{program.version}/{inst.id}/{node.id}", group=inst.id,
                           origin=("group", self.flows.index, self.name, inst.id, node_id, closing),
                           not_after=None if closing is not None else inst.closes)  # fmt: skip
        if node.kind == "post":
            req.content = node.content
        else:
            req.task_text = node.text
        self.engine.request(req)

    def touch_done(self, inst_id: str, node_id: str, closing: tuple[str, ...] | None, *, sent_at: int | None) -> None:
        inst = self.instances[inst_id]
        self._goto(inst, self.group.nodes[node_id].next, self.engine.now if sent_at is None else sent_at, closing)

    def close(self, due: Close) -> None:
        """Closing posts go out, then the group is dissolved (or a task asks staff to)."""
        inst = self.instances[due.instance]
        inst.closed = True
        self.flows.dirty(self.key, inst.id)
        self._run_closing(inst, tuple(self.group.closing), inst.closes)

    # ---- versions and the daemon's store ------------------------------------------------------------
    def take_over_from(self, olders: Sequence[GroupRun]) -> None:
        """Nothing: an older version's instances run to their close there."""

    def snapshot(self, items: Iterable[str]) -> list[InstanceState]:
        out = []
        for inst_id in items:
            inst = self.instances[inst_id]
            out.append(InstanceState(inst.id, inst.account, inst.opens, inst.closes, list(inst.members), inst.closed,
                                     inst not in self.open_instances))  # fmt: skip
        return out

    def restore(self, snapshots: Iterable[InstanceState]) -> None:
        for state in snapshots:
            inst = Instance(state.id, state.account, state.opens, state.closes)
            inst.members, inst.closed = list(state.members), state.closed
            self.instances[inst.id] = inst
            if not state.dissolved:
                self.open_instances.append(inst)
        self.open_instances.sort(key=lambda i: (i.opens, _instance_number(i.id), i.id))

    def _run_closing(self, inst: Instance, remaining: tuple[str, ...], t: int) -> None:
        if remaining:
            self._goto(inst, remaining[0], t, remaining[1:])
            return
        self.open_instances.remove(inst)
        self.flows.dirty(self.key, inst.id)
        self.flows.emit(t, "group_closed", None, self.group.name, group=inst.id, account=inst.account)
        if not self.engine.can_dissolve_groups:
            program = self.flows.program
            self.engine.request(
                TouchRequest(
                    due=t,
                    channel="task",
                    account=inst.account,
                    flow=self.group.name,
                    step="dissolve",
                    step_order=10**6,
                    priority=0,
                    program=program,
                    key=f"{program.version}/{inst.id}/dissolve",
                    group=inst.id,
                    task_text=t_in(TASK_LANGUAGE, DISSOLVE_TASK, group=inst.id),
                )  # fmt: skip
            )


def _instance_number(instance_id: str) -> int:
    tail = instance_id.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# ---- Moments ----------------------------------------------------------------------------------------


class MomentsRun:
    def __init__(self, flows: FlowSet, m: ir.Moments):
        self.flows = flows
        self.moments = m
        self.name = m.name
        self.key = ""
        self.engine = flows.engine
        self._audiences: tuple[int, int, dict[str, np.ndarray]] | None = None  # (rule, now, by account)

    def _audience(self, rule: ir.MomentRule, index: int, account: str) -> Audience:
        """Who sees the post when it goes out: the account's contacts matching `visible to`."""
        now = self.engine.now
        cached = self._audiences
        columns = self.engine.columns
        if cached is None or cached[0] != index or cached[1] != now:
            mask = self.flows.program.membership(rule.visible).at(now) if rule.visible is not None else columns.live()
            cached = self._audiences = (index, now, columns.by_account(mask))
        return Audience(cached[2].get(account, np.zeros(0, dtype=np.int64)), columns)

    def audience_for(self, index: int, account: str) -> Callable[[], Audience]:
        """Who will see rule `index`'s post from `account`, worked out when it goes out."""
        rule = self.moments.rules[index]
        return lambda: self._audience(rule, index, account)

    def activate(self, t: int) -> None:
        for index, rule in enumerate(self.moments.rules):
            if rule.at:
                self.flows.once(rule.at, self.key, index)
            else:
                self.flows.repeat(rule.schedule, t, self.key, index)

    def schedule_of(self, rule: int) -> Any:
        return self.moments.rules[rule].schedule

    def fired(self, rule: int, t: int) -> None:
        self._post(self.moments.rules[rule], rule, t)

    def take_over_from(self, olders: Sequence[MomentsRun]) -> None:
        """Nothing: a Moments calendar keeps no state."""

    def snapshot(self, items: Iterable[str]) -> list[Any]:
        return []  # it keeps no state

    def restore(self, snapshots: Iterable[Any]) -> None:
        """Nothing to restore: it keeps no state."""

    def _post(self, rule: ir.MomentRule, index: int, t: int) -> None:
        program = self.flows.program
        stamp = self.flows.clock.local(t).strftime("%Y-%m-%dT%H:%M")
        for account in self.engine.contacts.account_ids():
            self.engine.request(
                TouchRequest(
                    due=t,
                    channel="moment",
                    account=account,
                    flow=self.moments.name,
                    step=rule.label,
                    step_order=index,
                    priority=0,
                    program=program,
                    key=f"{program.version}/{self.moments.name}/{account}/{index}/{stamp}",
                    content=rule.content,
                    audience_of=self.audience_for(index, account),
                )  # fmt: skip
            )


# ---- rotations ----------------------------------------------------------------------------------------


class RotationCycle(NamedTuple):
    """A rotation's cycle (its item ""): which, and the day the rotation began."""

    cycle: int  # -1: none yet
    first_day: dt.date | None


class RotationQueue(NamedTuple):
    """A rotation's queue for one account (its item): who is still to be tasked this cycle
    (None: the account has no queue any more), and who of the account's contacts was placed
    in the cycle."""

    account: str
    queue: list[str] | None
    placed: list[str]  # in id order


class RotationRun:
    """Each account's contacts spread evenly over the period, in the given order."""

    def __init__(self, flows: FlowSet, r: ir.Rotation):
        self.flows = flows
        self.rotation = r
        self.name = r.name
        self.schedule = ir.Weekly(weekdays=r.weekdays, times=[r.time])  # one object: schedules are cached by id
        self.key = ""
        self.engine = flows.engine
        self.cycle = -1
        self.queues: dict[str, list[str]] = {}
        self.placed: set[str] = set()  # contacts already queued this cycle
        self._prefixes: dict[str, str] = {}  # name -> its order key's start (many contacts share a name)
        self.first_day: dt.date | None = None

    def activate(self, t: int) -> None:
        self.first_day = self.flows.clock.date_of(t)
        self.flows.dirty(self.key, "")
        self.flows.repeat(self.schedule_of(0), t, self.key)

    def schedule_of(self, rule: int) -> Any:
        return self.schedule

    def fired(self, rule: int, t: int) -> None:
        self._fire(t)

    def _ordered(self, contacts: list[str]) -> list[str]:
        """The contacts in the rotation's order; those without the field last, by id."""
        fields, field = self.engine.contacts.fields, self.rotation.order_by
        present, missing = [], []
        for c in contacts:
            (missing if fields[c].get(field) is None else present).append(c)
        missing.sort()
        keys = self._name_keys(present) if field == "name" else None
        if keys is not None:  # strings "…\0" + id: sorted as they are, the id after the first NUL
            keys.sort(reverse=self.rotation.descending)
            return [key.partition("\0")[2] for key in keys] + missing
        tuples = [_value_key(fields[c].get(field), c) if field != "name" else _name_tuple(fields[c]["name"], c)
                  for c in present]  # fmt: skip
        # (keys are unique: each ends with the contact id)
        by = dict(zip(present, tuples, strict=True))
        present.sort(key=by.__getitem__, reverse=self.rotation.descending)
        return present + missing  # contacts without the field come last either way

    def _name_keys(self, present: list[str]) -> list[str] | None:
        """Name order keys as strings that sort like the tuples (0, name_key(name), id) and
        (1, (), id) of `_name_tuple` — strings compare far faster than nested tuples, and
        a million contacts are ordered at each rotation cycle: "0" flag spelled NUL id, or
        "1" NUL id. None when a spelled name holds a NUL, where they would not sort alike."""
        fields, prefixes = self.engine.contacts.fields, self._prefixes
        keys = []
        for c in present:
            name = fields[c]["name"]
            if name.__class__ is not str:
                keys.append("1\0" + c)
                continue
            prefix = prefixes.get(name)
            if prefix is None:
                prefix = prefixes[name] = name_prefix(name)
            if not prefix:
                return None
            keys.append(prefix + c)
        return keys

    def _fire(self, t: int) -> None:
        assert self.first_day is not None
        clock = self.flows.clock
        today = clock.date_of(t)
        cycle = (today - self.first_day).days // self.rotation.period_days
        if cycle != self.cycle:
            self.cycle = cycle
            self.placed = set()
            for account in self.queues:
                self.flows.dirty(self.key, account)  # an account that has no contacts now
            self.queues = {}
            for account in self.engine.contacts.account_ids():
                queue = self._ordered(self.engine.contacts.of_account(account))
                self.queues[account] = queue
                self.placed.update(queue)
        cycle_end = self.first_day + dt.timedelta(days=(cycle + 1) * self.rotation.period_days)
        days_left = sum(
            1
            for i in range((cycle_end - today).days)
            if (today + dt.timedelta(days=i)).weekday() in self.rotation.weekdays
        )
        program = self.flows.program
        fields, deleted = self.engine.contacts.fields, self.engine.contacts.deleted
        name, step = self.rotation.name, f'task "{self.rotation.task}"'
        for account in sorted(self.queues):
            queue = self.queues[account]
            take = math.ceil(len(queue) / max(days_left, 1))
            today_list, self.queues[account] = queue[:take], queue[take:]
            self.flows.dirty(self.key, account)
            prefix, suffix = f"{program.version}/{name}/{account}/", f"/{cycle}"
            active = [cid for cid in today_list if cid in fields and cid not in deleted]
            # positional: due, channel, account, flow, step, step_order, priority, playbook, key, contact
            like = TouchRequest(t, "task", account, name, step, 0, 0, program, "", None)
            like.task_text = self.rotation.task
            self.engine.request_batch(like, active, [prefix + cid + suffix for cid in active])

    def contact_changed(self, cid: str) -> None:
        """Contacts added later join the end of the rotation."""
        if self.cycle < 0 or cid in self.placed or not self.engine.contacts.active(cid):
            return
        account = self.engine.contacts.fields[cid].get("account")
        if account is None:
            return
        self.placed.add(cid)
        self.queues.setdefault(account, []).append(cid)
        self.flows.dirty(self.key, account)

    # ---- versions and the daemon's store ------------------------------------------------------------
    def take_over_from(self, olders: Sequence[RotationRun]) -> None:
        """The latest older version that began a cycle goes on here: the same cycle and queues
        (who was tasked this cycle is not tasked again)."""
        prev = next((r for r in reversed(olders) if r.cycle >= 0), None)
        if prev is None:
            return
        self.first_day, self.cycle = prev.first_day, prev.cycle
        self.queues = {account: list(queue) for account, queue in prev.queues.items()}
        self.placed = set(prev.placed)
        for account in ("", *self.queues):
            self.flows.dirty(self.key, account)

    def snapshot(self, items: Iterable[str]) -> list[RotationCycle | RotationQueue]:
        """The cycle, always, and the queues of these accounts (item "" is the cycle's)."""
        fields = self.engine.contacts.fields
        placed: dict[str, list[str]] = {}
        for cid in self.placed:
            placed.setdefault(fields.get(cid, {}).get("account") or "", []).append(cid)
        out: list[RotationCycle | RotationQueue] = [RotationCycle(self.cycle, self.first_day)]
        for account in items:
            if account:
                queue = self.queues.get(account)
                out.append(
                    RotationQueue(account, None if queue is None else list(queue), sorted(placed.get(account, ())))
                )
        return out

    def restore(self, snapshots: Iterable[RotationCycle | RotationQueue]) -> None:
        for state in snapshots:
            if isinstance(state, RotationCycle):
                self.cycle, self.first_day = state.cycle, state.first_day
            elif state.queue is not None:
                self.queues[state.account] = list(state.queue)
                self.placed.update(state.placed)
        self.queues = dict(sorted(self.queues.items()))


def name_prefix(name: str) -> str:
    """The start of a name's order key as a string, "0" flag spelled NUL ("" when the
    spelled name holds a NUL)."""
    flag, spelled = name_key(name)
    return "" if "\0" in spelled else f"0{flag}{spelled}\0"


def _name_tuple(name: Any, cid: str) -> tuple:
    """A contact's place in a rotation by name: (0, name_key(name), id), or (1, (), id) for
    a name that is not text."""
    return (0, name_key(name), cid) if isinstance(name, str) else (1, (), cid)


def _value_key(v: Any, cid: str) -> tuple:
    """A contact's place in a rotation by another field: numbers, then text, then the rest."""
    if isinstance(v, int | float):
        return (0, v, "", cid)
    return (1, 0, str(v), cid)
