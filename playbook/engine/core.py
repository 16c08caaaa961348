"""The engine: a discrete-event loop over one clock, shared by `plan` and the daemon.

Everything that happens is an item on a timeline ordered by (time, phase, order):
external events first (in arrival order), then the day tick and activation, then
schedule firings, then flow steps. Touches made at an instant do not go out one by one:
they are collected and, once nothing else is left at that instant, resolved together in
competition order — priority, due time, flow name, step order (LANGUAGE.md §12) — so
that a higher priority wins a limit deterministically. A touch that is held (quiet hours
or a full `defer` limit) goes back on the timeline for the first moment worth trying,
keeping its original place in that order.

The engine never reads a wall clock: `advance(until)` moves time forward, and the caller
(plan's simulated clock, or the daemon's real one) decides how far.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Collection, Iterable
from typing import Any

from playbook.compiler import ir
from playbook.engine import batching
from playbook.engine.columns import Columns
from playbook.engine.contacts import Contacts, apply_effects, friend_added
from playbook.engine.flows import FlowSet
from playbook.engine.host import Observer
from playbook.engine.policy import SEND, LimitCounter, Verdict
from playbook.engine.program import Program
from playbook.engine.render import MissingValue, render
from playbook.engine.timeline import Arrival, Forwarded, Item, Kind, Payload, Retry, Tick
from playbook.vocab import reasons
from playbook.vocab.limits import LimitRule
from playbook.vocab.localtime import DEFAULT_TIMEZONE, LocalTime
from playbook.vocab.model import (
    DEFERRED,
    OK,
    SKIPPED,
    Event,
    StateEvent,
    Touch,
    TouchBatch,
    TouchRequest,
    TouchRun,
)
from playbook.vocab.reasons import Reason

_new = tuple.__new__  # an Item made as the tuple it is (see Engine.at)
GATE_RETRY = 86400  # a touch held by the launch gate is looked at again daily (approval releases it at once)
Sink = Callable[[Touch | TouchRun | StateEvent], None]  # TouchRuns only with Engine(runs=True)


class Engine:
    def __init__(self, playbooks: list[ir.Playbook], contacts: Contacts, start: int, sink: Sink, *,
                 shared_limits: Iterable[LimitRule] = (), can_dissolve_groups: bool = True,
                 runs: bool = False):  # fmt: skip
        first_clock = LocalTime(playbooks[0].timezone) if playbooks else LocalTime(DEFAULT_TIMEZONE)
        shared = [LimitCounter(rule, first_clock) for rule in shared_limits]
        self.shared_counters = shared  # the platform's limits, one counter for every playbook
        self.columns = Columns(contacts)
        self.programs = [Program(pb, self.columns, shared) for pb in playbooks]
        self.contacts = contacts
        self.now = start
        self.start = start
        self.sink = sink
        self.can_dissolve_groups = can_dissolve_groups
        self._heap: list[Item] = []
        self._held: dict[str, TouchRequest] = {}  # touches waiting to be tried again, by key
        self._counter = itertools.count()
        self._pending: list[TouchRequest | TouchBatch] = []
        # A sink that takes TouchRuns (a plan): touches alike are requested as a TouchBatch
        # and come out as TouchRuns. Otherwise (the daemon) each is a TouchRequest and a Touch.
        self.runs = runs
        self.unknown_contacts: list[Event] = []
        # Touches for accounts another engine owns (`Contacts.owns`), handed to it through the
        # store (`forward`): the daemon's journal takes them (observer), else they wait here.
        self.forwarded: list[TouchRequest] = []
        # The daemon's journal (runtime/state.py) watches what changes; None in a plan.
        self.observer: Observer | None = None
        self.flows = [FlowSet(self, p, i) for i, p in enumerate(self.programs)]
        self._handlers = self._dispatch()
        # The daemon's touches a platform limit let go uncounted as its welcome message (key →
        # (channel, contact, when)): counted after all if the adapter sent them otherwise
        # (runtime.decide.Decider.count_welcomes). Kept in memory only.
        self.welcomes: dict[str, tuple[str, str, int]] = {}
        # Fields whose change can change a segment's membership (besides deletion, tags and
        # the account, which always can).
        self.watched = {"deleted", "tags", "account", "groups"}.union(*(p.ir.fields for p in self.programs))

    # ---- the timeline ---------------------------------------------------------------------
    def at(self, t: int, payload: Payload, order: tuple = ()) -> None:
        """Put an item on the timeline at time t (never in the past), in its kind's phase.
        Items are plain data — a time and a typed payload — so that a store can keep them;
        `_handlers` says what each kind does."""
        # built as a tuple (Item's own constructor is Python code; a plan pushes millions)
        item = _new(Item, (max(t, self.now), payload.phase, order, next(self._counter), payload))
        heapq.heappush(self._heap, item)
        if self.observer is not None:
            self.observer.timer_added(item)

    def activate(self) -> None:
        """Start the playbooks at `start`: on-enter journeys take who matches already, and
        every schedule is laid out from here."""
        for f in self.flows:
            f.activate(self.start)
        self.at(self.start, Tick())

    def next_due(self) -> int | None:
        """When the next timeline item is due (None: the timeline is empty)."""
        return self._heap[0][0] if self._heap else None

    def items(self) -> list[Item]:
        """What is on the timeline, in no particular order (for a caller that inspects it)."""
        return list(self._heap)

    def take(self, wanted: Callable[[Item], bool]) -> list[Item]:
        """Take the timeline items `wanted` picks off the timeline, in timeline order (the
        observer sees them go, as if they had run)."""
        taken = [item for item in self._heap if wanted(item)]
        if taken:
            self._heap = [item for item in self._heap if not wanted(item)]
            heapq.heapify(self._heap)
            taken.sort()
            if self.observer is not None:
                for item in taken:
                    self.observer.timer_done(item)
        return taken

    def held(self) -> list[TouchRequest]:
        """The touches held now (quiet hours, a defer limit, the launch gate)."""
        return list(self._held.values())

    def resume(self, items: Iterable[Item], held: dict[str, TouchRequest], last_seq: int = 0) -> None:
        """Put back a timeline and the held touches a previous engine left (the daemon's
        restore); new items are numbered after `last_seq` and after every item given."""
        self._heap = list(items)
        heapq.heapify(self._heap)
        self._counter = itertools.count(max([last_seq, *(item.seq for item in self._heap)]) + 1)
        self._held = dict(held)

    def held_touch(self, key: str) -> TouchRequest | None:
        """The touch held under `key` (None: none is)."""
        return self._held.get(key)

    def feed(self, event: Event) -> None:
        """An event arrives; it is processed at its time (never before `now`)."""
        self.at(event.at, Arrival(event), (event.seq,))

    def _dispatch(self) -> dict[Kind, Callable[[Any], None]]:
        """What each kind of timeline item does: the engine's own kinds here, a playbook's
        at its runner (`flows[payload.flow]`)."""
        flows = self.flows
        return {
            Kind.EVENT: lambda p: self._on_event(p.event),
            Kind.TICK: lambda p: self._day_tick(),
            Kind.RETRY: self._retry,
            Kind.FIRE: lambda p: flows[p.flow].fire(p.runner, p.rule, p.once),
            Kind.STEP: lambda p: flows[p.flow].journeys[p.journey].step(p),
            Kind.TIMEOUT: lambda p: flows[p.flow].journeys[p.journey].timed_out(p),
            Kind.GROUP_STEP: lambda p: flows[p.flow].groups[p.group].step(p),
            Kind.CLOSE: lambda p: flows[p.flow].groups[p.group].close(p),
            Kind.SLA_REMIND: lambda p: flows[p.flow].slas[p.sla].remind(p),
            Kind.SLA_DEADLINE: lambda p: flows[p.flow].slas[p.sla].deadline(p),
            Kind.SLA_ESCALATE: lambda p: flows[p.flow].slas[p.sla].escalate(p),
            Kind.FORWARDED: self._forwarded,
        }

    def _forwarded(self, p: Forwarded) -> None:
        """A task another engine decided for one of our accounts: requested now, for the
        account only (its contact is not ours, and not reached)."""
        self.request(TouchRequest(due=self.now, channel="task", account=p.account, flow=p.name, step=p.step,
                                  step_order=p.step_order, priority=p.priority, program=self.programs[p.flow],
                                  key=p.key, contact=p.about, task_text=p.text, account_only=True))  # fmt: skip

    def _retry(self, payload: Retry) -> None:
        req = self._held.pop(payload.key, None)
        if req is not None:  # None: given up meanwhile
            if self.observer is not None:
                self.observer.released(req)
            self.request(req)

    def advance(self, until: int) -> None:
        """Process everything due up to and including `until`."""
        heap, handlers = self._heap, self._handlers
        while heap and heap[0][0] <= until:
            t = heap[0][0]
            self.now = t
            while heap and heap[0][0] == t:
                item = heapq.heappop(heap)
                if self.observer is not None:
                    self.observer.timer_done(item)
                payload = item[4]
                handlers[payload.kind](payload)
                if self._pending and not (heap and heap[0][0] == t):
                    self._resolve(t)
        self.now = max(self.now, until)

    def drain(self) -> None:
        """Follow held touches to their outcome, and nothing else: the end of a plan's
        horizon, where no new step, event or schedule is simulated any more."""
        heap = self._heap
        while heap:
            item = heapq.heappop(heap)
            payload = item[4]
            if payload.kind is not Kind.RETRY:
                continue
            held = self._held.get(payload.key)
            if held is not None and held.program.awaiting is not None:
                continue  # held by the launch gate: it waits for a decision no plan can foresee
            t = self.now = item[0]
            self._retry(payload)
            if self._pending and not (heap and heap[0][0] == t and heap[0][4].kind is Kind.RETRY):
                self._resolve(t)

    def _day_tick(self) -> None:
        """00:00 every day: segment membership is evaluated again (so `within` lapses)."""
        t = self.now
        for f in self.flows:
            f.day_tick(t)
        clock = self.programs[0].clock if self.programs else LocalTime(DEFAULT_TIMEZONE)
        self.at(clock.next_period_start(t, "day"), Tick())

    # ---- events ---------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        cid = event.contact
        contacts = self.contacts
        changed: set[str] | None = None  # None: anything may have changed
        if event.type == "friend_added":
            friend_added(contacts, event)
        elif cid not in contacts.fields:
            if event.type not in ("friend_request",):
                self.unknown_contacts.append(event)
                return
        else:
            changed = apply_effects(contacts, event)
            if event.type == "deleted":
                for req in [r for r in self._held.values() if r.counted_contact == cid]:
                    self.give_up(req, reasons.CONTACT_DELETED)
        # Segment membership only needs a second look when the event changed something a
        # playbook reads (a staff_message changes nothing; a message only last_active_at).
        if self.observer is not None and (changed is None or changed):
            self.observer.contact(cid)
        relevant = cid in contacts.fields and (changed is None or not changed.isdisjoint(self.watched))
        if relevant:
            self.columns.touch(cid)
            self._memberships_changed(cid, changed)
        for f in self.flows:
            f.on_event(event)
        if relevant and event.type != "friend_request":
            for f in self.flows:
                f.contact_changed(cid)

    def contact_changed(self, cid: str) -> None:
        """A playbook changed a contact (a tag action): mirror it, then let flows react."""
        if self.observer is not None:
            self.observer.contact(cid)
        self.columns.touch(cid)
        self._memberships_changed(cid)
        for f in self.flows:
            f.contact_changed(cid)

    def _memberships_changed(self, cid: str, changed: set[str] | None = None) -> None:
        """Memberships that read a field in `changed` (None: anything may have changed)
        take the contact's new answer; the others cannot have changed."""
        index = self.columns.row[cid]
        for program in self.programs:
            for m in program.memberships.values():
                if changed is None or m.fields is None or not m.fields.isdisjoint(changed):
                    m.changed(cid, index, self.now)

    def emit(self, record: Touch | StateEvent) -> None:
        self.sink(record)

    # ---- touches --------------------------------------------------------------------------
    def request(self, req: TouchRequest) -> None:
        """A touch is due now: it will compete at the end of this instant."""
        self._pending.append(req)

    def forward(self, req: TouchRequest) -> None:
        """A touch for an account this engine does not own (`Contacts.owns`: a shard's engine;
        an SLA's escalation to a supervisor of another shard): not decided here, but handed to
        the engine that owns the account — through the store, with this engine's commit
        (runtime/decide.py), where it is requested at its time (`receive`)."""
        if self.observer is not None:
            self.observer.forwarded(req)
        else:
            self.forwarded.append(req)

    def receive(self, due: int, payload: Forwarded) -> None:
        """A touch another engine forwarded to this one: requested at `due` (never before now)."""
        self.at(due, payload)

    def request_batch(self, like: TouchRequest, contacts: list[str], keys: list[str]) -> None:
        """Touches alike but for their contact (`like` with each contact and key) are due
        now: as a TouchBatch where the sink takes runs, else one request each."""
        if not contacts:
            return
        if self.runs and self.observer is None and batching.batchable(like):
            self._pending.append(batching.batch_of(like, contacts, keys))
            return
        for contact, key in zip(contacts, keys, strict=True):
            self._pending.append(like.member(contact, key))

    # ---- versions side by side (the daemon's reloads) ----------------------------------------------
    def retire(self, versions: Collection[str]) -> None:
        """Playbook versions replaced by a newer one: they finish what their contacts started
        but take no new entries. The running version of their playbook governs them with its
        quiet hours and limits (they count together), and its journeys know the same journeys
        of the retired versions (in the engine's order) for one-at-a-time and re-entry."""
        for flows in self.flows:
            flows.retired = flows.program.version in versions
        running = {f.program.identity: f.program.policies for f in self.flows if not f.retired}
        for flows in self.flows:
            if flows.retired and flows.program.identity in running:
                flows.program.policies = running[flows.program.identity]
        for flows in self.flows:
            if flows.retired:
                continue
            identity = flows.program.identity
            for name, run in flows.journeys.items():
                run.predecessors = [f.journeys[name] for f in self.flows
                                    if f.retired and f.program.identity == identity and name in f.journeys]  # fmt: skip

    # ---- the daemon's launch gate (runtime/approvals.py) ----------------------------------------
    def gate(self, version: str, reason: Reason) -> None:
        """Hold every touch of `version` (awaiting approval) from now on."""
        for program in self.programs:
            if program.version == version:
                program.awaiting = reason

    def open_gate(self, version: str, held: str) -> int:
        """Approved: touches of `version` held by the gate (their reasons include `held`)
        are tried again now — quiet hours and limits judge them as any touch. Returns how
        many."""
        keys = self._gated(version, held)
        for program in self.programs:
            if program.version == version:
                program.awaiting = None
        self._take_retries(keys)
        for key in sorted(keys):
            req = self._held[key]
            self.at(self.now, Retry(key, req.counted_contact, req.account))
        return len(keys)

    def refuse(self, version: str, held: str, reason: Reason) -> int:
        """Rejected (or replaced before approval): touches of `version` held by the gate
        (their reasons include `held`) are skipped now with `reason`, and its later touches
        too. Returns how many."""
        keys = self._gated(version, held)
        for program in self.programs:
            if program.version == version:
                program.awaiting, program.refused = None, reason
        self._take_retries(keys)
        for key in sorted(keys):
            self.give_up(self._held[key], reason)
        # Its contacts leave it, and a newer version of the playbook does not count what they
        # entered (they never got anything from it): it greets them as if it had not been.
        for flows in self.flows:
            if flows.program.version == version:
                for run in flows.journeys.values():
                    for history in run.history.values():
                        if history[-1].status == "active":
                            run.exit(history[-1], self.now, reason)
        self.forget(version)
        return len(keys)

    def forget(self, version: str) -> None:
        """Newer versions of the playbook do not count what contacts entered in `version`
        (refused: they never got anything from it) — re-entry, one at a time, who already
        matched a segment entry."""
        for flows in self.flows:
            for run in flows.journeys.values():
                run.predecessors = [p for p in run.predecessors if p.flows.program.version != version]

    def _take_retries(self, keys: set[str]) -> None:
        """The timeline's retries of the held touches `keys` come off it."""
        self.take(lambda item: item.payload.kind is Kind.RETRY and item.payload.key in keys)

    def _gated(self, version: str, held: str) -> set[str]:
        return {key for key, req in self._held.items() if req.program.version == version and held in req.reasons}

    def give_up(self, req: TouchRequest, reason: Reason) -> None:
        """A touch will not go out any more (its journey ended, its contact is gone): a
        held one is recorded as skipped now, one still waiting for this instant's turn
        when its turn comes."""
        if self._held.pop(req.key, None) is not None:
            if self.observer is not None:
                self.observer.released(req)
            self._finish(req, self.now, SKIPPED, reason)
        else:
            req.cancelled = reason

    def _resolve(self, t: int) -> None:
        """Resolve the touches of this instant, in competition order. Resolving can make
        new touches for the same instant (a group's dissolve task after its last post):
        they are resolved too, before time moves on."""
        held = {id(p): p.policies.quiet_release(t) for p in self.programs}
        while self._pending:
            batch, self._pending = self._pending, []
            batch.sort(key=_order)
            if self.runs:
                batch = batching.whole_batches(batch, t)
            for req in batch:
                if req.__class__ is TouchBatch:
                    for run in batching.try_batch(req, t, held[id(req.like.program)], self.contacts, self._hold):  # type: ignore[union-attr]
                        self.emit(run)
                else:
                    self._try(req, t, held[id(req.program)])  # type: ignore[arg-type]

    def _try(self, req: TouchRequest, t: int, held_until: int | None) -> None:
        program: Program = req.program
        if req.cancelled:
            return self._finish(req, t, SKIPPED, req.cancelled)
        contact, account = req.counted_contact, req.account
        if contact is not None and contact in self.contacts.deleted:
            return self._finish(req, t, SKIPPED, reasons.CONTACT_DELETED)
        if account is None:
            return self._finish(req, t, SKIPPED, reasons.NO_ACCOUNT)
        if req.not_after is not None and t >= req.not_after:
            return self._finish(req, t, SKIPPED, reasons.GROUP_CLOSED)
        if program.refused is not None:
            return self._finish(req, t, SKIPPED, program.refused)
        if program.awaiting is not None:
            return self._hold(req, Verdict(False, t + GATE_RETRY, program.awaiting))
        welcome_age = _welcome_age(req, t, account)
        verdict = program.policies.judge(t, req.channel, account, contact, held_until, req.group, welcome_age)
        if verdict is not SEND and not verdict.send:
            if verdict.retry_at is None:
                return self._finish(req, t, SKIPPED, verdict.reason)
            return self._hold(req, verdict)
        try:
            text, parts, audience = self._render(req, program)
        except MissingValue as exc:
            return self._finish(req, t, SKIPPED, reasons.missing(exc.path))
        if audience is not None and not audience:
            return self._finish(req, t, SKIPPED, reasons.NO_AUDIENCE, audience=audience)
        free = program.policies.record(t, req.channel, account, contact, req.group, welcome_age)
        if self.observer is not None:
            self.observer.counted(program, req)
            if free and contact is not None:  # counted after all if it does not go as the welcome
                self.welcomes[req.key] = (req.channel, contact, t)
        if t == req.due:
            return self._finish(req, t, OK, "", text, parts, audience)
        return self._finish(req, t, DEFERRED, reasons.joined(req.reasons), text, parts, audience)

    def _hold(self, req: TouchRequest, verdict: Verdict) -> None:
        """Quiet hours or a `defer` limit hold the touch: it is tried again when worth it."""
        if verdict.reason not in req.reasons:
            req.reasons.append(verdict.reason)
        self._held[req.key] = req
        retry = verdict.retry_at
        assert retry is not None
        if req.not_after is not None and retry >= req.not_after:
            retry = req.not_after  # it cannot go out in time: given up when the group closes
        if self.observer is not None:
            self.observer.held(req)
        self.at(retry, Retry(req.key, req.counted_contact, req.account))

    def _render(self, req: TouchRequest, program: Program) -> tuple[str, dict[str, Any] | None, Any]:
        clock = program.clock
        contact = self.contacts.fields.get(req.contact) if req.contact and not req.account_only else None
        account = self.contacts.accounts.get(req.account or "")
        audience = req.audience_of() if req.audience_of else None
        if req.task_text is not None:
            return render(req.task_text, contact, account, req.event, clock), None, audience
        text_template, part_templates, images = program.content_plan(req.content or "")
        text = render(text_template, contact, account, req.event, clock) if text_template else ""
        if not part_templates and not images:
            return text, None, audience
        parts: dict[str, Any] = {key: render(tpl, contact, account, req.event, clock) for key, tpl in part_templates}
        if images:
            parts["images"] = [render(i, contact, account, req.event, clock) for i in images]
        return text, parts, audience

    def _finish(self, req: TouchRequest, t: int, outcome: str, reason: str, text: str = "",
                parts: dict[str, Any] | None = None, audience: Any = None) -> None:  # fmt: skip
        if audience is None and req.audience_of is not None:
            audience = req.audience_of()  # a skipped post still says who would have seen it
        # Touch's fields in order (positional: a plan makes millions of them)
        self.emit(Touch(t, req.due, req.channel, req.account, req.flow, req.step, req.content, text, outcome, reason,
                        req.program.version, req.key, req.contact, req.group, audience, req.priority,
                        req.step_order, parts, req.account_only))  # fmt: skip
        if req.origin is not None:
            self.flows[req.origin[1]].touch_done(req.origin, None if outcome == SKIPPED else t)


def _welcome_age(req: TouchRequest, t: int, account: str) -> int | None:
    """For a dm in a journey entry that a friend_added from the contact's own account started:
    seconds since that event (a platform may carry it as its welcome message, outside its
    mass-message quota: LimitRule.welcome_free); else None."""
    event, entered = req.event, req.entered_at
    if req.channel != "dm" or event is None or entered is None or event.get("type") != "friend_added":
        return None
    if event.get("account") not in (None, "", account):
        return None
    return t - entered


def _order(req: TouchRequest | TouchBatch) -> tuple[float, int, str, int, str]:
    return req.order()


# An event's own keys, never copied onto its contact: `id` is the event's id (idempotent
# intake), not the contact's.
