"""The deciding half of the daemon: the plan's engine over the wall clock, its state in
the store (docs/daemon.md).

`load` builds the engine from the store (or starts it), puts new playbook versions in
place and catches up after downtime; `step(now)` takes the events logged since, advances
the engine to `now` and commits everything it decided — ledger rows included — in one
transaction. Nothing decided exists before that commit; a crash before it means the
same inputs are decided again, the same way, on restart.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.adapters.capabilities import WELCOME_REF
from playbook.compiler import ir, load_playbooks
from playbook.diagnostics import ERROR, Diagnostic, PlaybookError
from playbook.engine.core import Engine, Sink
from playbook.engine.flows import waiting_steps
from playbook.engine.timeline import IN_FLOW, Fire, Kind
from playbook.i18n import t
from playbook.runtime.approvals import APPROVED, FIRST_HOUR, PENDING, REPLACED, ApprovePolicy, awaiting, refused
from playbook.runtime.rows import ForwardRow, Handoff, State
from playbook.runtime.state import Journaler, forward_row, in_bulk, receive, restore
from playbook.runtime.storage.contacts import account_of
from playbook.runtime.store import GENERATION, ShardMoved, Store
from playbook.vocab.limits import LimitRule
from playbook.vocab.model import Event, Touch
from playbook.vocab.shards import shard_of

ACTIVATED = "activated"  # engine_state: versions whose schedules were laid out
EVENT_BATCH = 5000
WELCOME_FORGET = 2 * 86400  # seconds: a welcome not settled by then is not waited for (Engine.welcomes)
CLOCK_SLACK = 5.0  # seconds: imports stamped by another process's clock


@dataclass
class LoadReport:
    versions: list[str]  # the current versions, as loaded from the playbook files
    new: list[str]  # of those, the ones seen for the first time
    finishing: list[str]  # older versions still finishing what their contacts started
    fresh: bool  # the store held no engine yet
    missed: int = 0  # schedule firings older than the grace period, recorded as missed
    caught_up: int = 0  # timeline items overdue after downtime, run now
    migrated: int = 0
    awaiting: dict[str, int] = field(default_factory=dict)  # versions held for approval: their first hour's touches
    replaced: list[str] = field(default_factory=list)  # versions replaced before a decision on them


@dataclass
class StepReport:
    events: int = 0
    imported: int = 0  # contacts an import changed, taken in
    rejected: int = 0
    touches: int = 0
    state_events: int = 0
    decisions: dict[str, str] = field(default_factory=dict)  # approvals and rejections taken in: version -> state
    handed_over: int = 0  # contacts moved to another shard (their account is one of its)
    rebuilt: bool = False  # the engine was built again (a contact was handed over to this shard)
    forwarded: int = 0  # touches for other shards' accounts handed to them (SLA escalations)
    received: int = 0  # touches other shards forwarded to this one, taken in
    changed: bool = False  # the step wrote more than the engine's clock: something was decided or taken in

    @property
    def idle(self) -> bool:
        """Nothing was taken in, decided or built again: a step that only moved the clock."""
        return not (self.changed or self.imported or self.decisions or self.handed_over or self.rebuilt)


@dataclass
class Decider:
    store: Store
    paths: Sequence[str]
    shared_limits: Sequence[LimitRule] = ()
    can_dissolve_groups: bool = True
    grace: int = 3600  # schedule firings missed by less than this run once after downtime
    late_after: int = 60  # timeline items overdue by more than this run "now" (not back-dated)
    sync_tags: bool = False  # the adapter keeps platform tags in step (ledger rows for tag actions)
    approve: ApprovePolicy | None = None  # the launch gate (runtime/approvals.py); None: none
    yes: bool = False  # `run --yes`: what waits for approval at the start is approved
    engine: Engine | None = field(default=None, init=False)
    _decisions: dict[str, str] = field(default_factory=dict, init=False)  # version -> approval state applied
    journaler: Journaler | None = field(default=None, init=False)
    playbooks: list[ir.Playbook] = field(default_factory=list, init=False)
    _imports: int = field(default=0, init=False)  # imports taken in so far (Store.imports)
    _synced_at: float = field(default=0.0, init=False)  # wall time the contacts were last read
    _docs: list[dict[str, Any]] = field(default_factory=list, init=False)  # the running versions' IR, as built
    _generation: int = field(default=0, init=False)  # scale-out: the shard's generation the engine was built at

    # ---- start and reload ---------------------------------------------------------------------------
    def load(self, now: int, *, migrate: bool = False, current: Sequence[dict[str, Any]] | None = None) -> LoadReport:
        """Compile the playbooks (or take `current`, compiled once for every shard), keep new
        versions, and build the engine from the store."""
        current = self.compile() if current is None else list(current)
        current_versions = [doc["version"] for doc in current]
        replaced = self.store.replace_pending(current_versions)  # a newer version loaded before a decision
        asks = self._approvals_needed(now, current)
        new = [doc["version"] for doc in current if self.store.save_version(doc)]
        self.store.make_current(current_versions)
        self._imports, self._synced_at = self.store.imports(), time.time()
        for version, (touches, summary) in asks.items():
            assert self.approve is not None
            self.store.request_approval(version, touches, str(self.approve), summary)
        if self.yes:
            for row in self.store.approvals():
                if row.state == PENDING and row.version in current_versions:
                    self.store.decide_approval(row.version, APPROVED, "run --yes", None)
        report = self.build(now, current, migrate=migrate)
        report.new, report.replaced = new, replaced
        report.awaiting = {row.version: row.touches for row in self.store.approvals()  # asked now or before a restart
                           if row.state == PENDING and row.version in current_versions}  # fmt: skip
        assert self.journaler is not None
        journal = self.journaler.capture()
        journal.engine_state[ACTIVATED] = current_versions
        self.store.write(journal)
        return report

    def _approvals_needed(self, now: int, current: Sequence[dict[str, Any]]) -> dict[str, tuple[int, dict]]:
        """The running versions new since the last load that `approve` holds back: what
        each would send in its first hour (a forecast, before anything is loaded), with a
        summary by journey and channel."""
        if self.approve is None or self.approve.mode == "never":
            return {}
        activated = set(self.store.engine_value(ACTIVATED) or ())
        rows = self.store.approvals()
        known = {row.version for row in rows if row.state != REPLACED}
        again = {row.version for row in rows if row.state == REPLACED}  # never decided: asked again
        new = [doc["version"] for doc in current if doc["version"] not in activated and doc["version"] not in known]
        if not new:
            return {}
        end = now + FIRST_HOUR
        found: dict[int, list[Touch]] = {}

        def sink_for(shard: int) -> Sink:
            touches = found[shard] = []  # a shard run again starts afresh

            def sink(record: Any) -> None:
                if isinstance(record, Touch) and record.due < end:
                    touches.append(record)

            return sink

        # scale-out: the first shard to load a new version forecasts every shard (each from its
        # own rows, with what the others forward to it), so the gate judges the deployment's
        # first hour, not one shard's
        options = {"shared_limits": self.shared_limits, "can_dissolve_groups": self.can_dissolve_groups,
                   "grace": self.grace, "current": current}  # fmt: skip
        if self.store.shard is None or self.store.shard_count() == 1:
            run_ahead(self.store, self.paths, now, end, sink_for(0), **options)
        else:
            run_shards_ahead(self.store, self.paths, now, end, sink_for, **options)
        touches = [x for shard in sorted(found) for x in found[shard]]
        asks = {}
        for version in new:
            going = [x for x in touches if x.version == version and x.outcome != "skipped" and x.at < end]
            if self.approve.needs(len(going)) or version in again:
                by_flow, by_channel = Counter(x.flow for x in going), Counter(x.channel for x in going)
                asks[version] = (len(going), {"by_flow": dict(sorted(by_flow.items())),
                                              "by_channel": dict(sorted(by_channel.items()))})  # fmt: skip
        return asks

    def apply_decisions(self) -> dict[str, str]:
        """Approvals and rejections made since (from any shell, `playbook approve`): the
        gate opens or closes. Returns the versions whose state changed."""
        engine = self.engine
        assert engine is not None
        loaded = {p.version for p in engine.programs}
        changed = {}
        for row in self.store.approvals():
            if row.version not in loaded or self._decisions.get(row.version) == row.state:
                continue
            self._decisions[row.version] = row.state
            changed[row.version] = row.state
            if row.state == PENDING:
                engine.gate(row.version, awaiting(row.version))
            elif row.state == APPROVED:
                engine.open_gate(row.version, awaiting(row.version))
            else:
                engine.refuse(row.version, awaiting(row.version), refused(row.version, row.state))
        return changed

    def compile(self) -> list[dict[str, Any]]:
        """The playbooks' IR documents (a PlaybookError when any does not compile)."""
        results = load_playbooks(self.paths, with_warnings=True)  # what `playbook check` prints for those that fail
        escalating = [r.path for r in results if any(s.get("escalations") for s in (r.doc or {}).get("slas", {}).values())]
        accounts = self.store.load_accounts() if escalating else []
        if accounts:  # the accounts and roles SLAs escalate to, checked against the store's accounts
            load_playbooks(escalating, known_accounts=accounts)
        named: dict[str, str] = {}
        for r in results:  # a playbook's state is filed under its name: two running playbooks need two
            name = (r.doc or {}).get("name") or (r.doc or {}).get("title") or ""
            if name in named:
                message = t("two playbooks are both named '{name}' ({first}, {second}): their limits and state "
                            "would be one; rename a file", name=name, first=named[name], second=r.path)  # fmt: skip
                raise PlaybookError([Diagnostic(ERROR, "run", message)])
            named[name] = r.path
        return [r.doc for r in results if r.doc is not None]

    @in_bulk  # every contact's record and the engine's state made at once, all of it kept
    def build(self, now: int, current: Sequence[dict[str, Any]], *, migrate: bool = False,
              sink: Sink | None = None, forwards: Sequence[ForwardRow] | None = None) -> LoadReport:  # fmt: skip
        """The engine in the store's state with `current` as the running versions: older
        versions finishing or remembered, caught up after downtime, new versions taking
        over. Nothing is written here; with `sink` (a forecast, runtime/forecast.py) the
        engine's records go there and nothing is journaled. The versions of the touches
        other shards forwarded to this one (`forwards`, as the caller read them; None: those
        waiting in the store) are among the engine's, finishing if not running."""
        current_versions = [doc["version"] for doc in current]
        self._docs = list(current)
        state = self.store.load_state()
        forwarded = {row.version for row in (self.waiting_forwards() if forwards is None else forwards)}
        self._generation = int(state.engine_state.get(GENERATION) or 0)
        known = {r.version: r for r in self.store.versions()}
        # older versions of the running playbooks whose contacts entered a journey: what they
        # entered counts for re-entry, one-at-a-time and goal windows in the newer version
        names = {doc.get("name") or doc.get("title") or "" for doc in current}
        entered = {row.version for row in state.enrolments if known[row.version].name in names}
        finishing = [v for v in sorted({*_versions_with_work(state), *forwarded}) if v not in current_versions]
        retired = sorted({*finishing, *entered} - set(current_versions), key=lambda v: (known[v].created_at, v))
        finishing = [v for v in retired if v in finishing]
        docs = [known[v].document for v in retired] + list(current)
        self.playbooks = [ir.load(doc) for doc in docs]
        engine, fresh = restore(self.playbooks, state, self._sink if sink is None else sink, start=now,
                                shared_limits=self.shared_limits, can_dissolve_groups=self.can_dissolve_groups,
                                retired=retired, sent=self.store.sent_in)  # fmt: skip
        self.engine = engine
        count = self.store.shard_count() if self.store.shard is not None else 1
        if count > 1:  # every account is loaded, but another shard posts for the others' accounts
            engine.contacts.owns = _Owner(self.store.shard or 0, count)
        if sink is None:
            self.journaler = Journaler(engine, {a["id"] for a in state.accounts}, tag_rows=self.sync_tags)
        report = LoadReport(current_versions, [v for v in current_versions if v not in known], finishing, fresh)
        # Before anything runs, a version that is not approved sends nothing: approvals and
        # rejections are taken in at the first step (`advance`), at its time.
        self._decisions = {}
        loaded = {p.version for p in engine.programs}
        for row in self.store.approvals():
            if row.version in loaded and row.state != APPROVED:
                engine.gate(row.version, awaiting(row.version))
                if row.state == PENDING:
                    self._decisions[row.version] = PENDING
                else:
                    engine.forget(row.version)  # before a newer version takes over from it
        if fresh:
            engine.activate()
        else:
            report.caught_up, report.missed = self.catch_up(now)
            if migrate:
                report.migrated = self._migrate(now)
            activated = set(state.engine_state.get(ACTIVATED) or ())
            for flows in engine.flows:
                if not flows.retired and flows.program.version not in activated:
                    identity = flows.program.identity
                    flows.take_over([f for f in engine.flows if f.retired and f.program.identity == identity], now)
        return report

    def _sink(self, record: Any) -> None:
        assert self.journaler is not None
        self.journaler.record(record)

    # ---- each instant ---------------------------------------------------------------------------------
    def step(self, now: int) -> StepReport:
        """Decide everything up to `now`: new events in, timeline advanced, one commit."""
        report = StepReport()
        sharded = self.sharded()
        forwards = self.waiting_forwards()
        assert self.engine is not None
        # built again: a contact was handed over to this shard (its rows are in the store), or
        # a touch was forwarded by a version this engine does not run
        if (sharded and int(self.store.engine_value(GENERATION) or 0) != self._generation) or (
                forwards and not {row.version for row in forwards} <= {p.version for p in self.engine.programs}):  # fmt: skip
            self.build(now, self._docs, forwards=forwards)
            report.rebuilt = True
        engine, journaler = self.engine, self.journaler
        assert engine is not None and journaler is not None
        if self.store.imports() != self._imports:
            report.imported = self._take_imports()
        fed = [event.seq for event in self.take_events()]
        receive(engine, forwards)
        report.decisions = self.advance(now)
        journal = journaler.capture()
        rejected = {e.seq: "unknown contact" for e in engine.unknown_contacts}
        engine.unknown_contacts.clear()
        journal.events_processed = [seq for seq in fed if seq not in rejected]
        journal.events_rejected = rejected
        journal.forwards_taken = [row.key for row in forwards]
        if sharded:
            journal.generation = self._generation
            journal.handoffs = self._handoffs(journal.contacts)
        report.changed = journal.decides()
        try:
            self.store.write(journal)
        except ShardMoved:  # handed a contact meanwhile: nothing was written; decided again from the store
            self.build(now, self._docs)
            report.rebuilt = True
            return report
        if journal.handoffs:  # they live in the other shard now: this engine forgets them
            self.build(now, self._docs)
            report.handed_over = len(journal.handoffs)
        report.events, report.rejected = len(fed), len(rejected)
        report.touches, report.state_events = len(journal.touches), len(journal.state_events)
        report.forwarded, report.received = len(journal.forwards), len(forwards)
        return report

    def sharded(self) -> bool:
        """Whether this is one shard's engine of a store with several."""
        return self.store.shard is not None and self.store.shard_count() > 1

    def waiting_forwards(self, extra: Sequence[ForwardRow] = ()) -> list[ForwardRow]:
        """The touches other shards forwarded to this one, waiting in the store (one shard
        alone has none), and `extra`."""
        return [*(self.store.waiting_forwards() if self.sharded() else ()), *extra]

    def _handoffs(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Handoff]:
        """Contacts this step moved to an account of another shard (an event or an import
        changed `account`): handed over with this step's commit (docs/daemon.md, "Scale-out")."""
        journaler, own = self.journaler, self.store.shard
        assert journaler is not None and own is not None
        count = self.store.shard_count()
        moving = {}
        for record in records:
            account = account_of(record)
            if account is not None and shard_of(account, count) != own:
                moving[str(record["id"])] = journaler.handoff(str(record["id"]), shard_of(account, count))
        return moving

    def take_events(self) -> list[Event]:
        """The events logged since, onto the engine's timeline (in sequence order)."""
        engine = self.engine
        assert engine is not None
        fed: list[Event] = []
        after = 0
        while True:
            events = self.store.next_events(limit=EVENT_BATCH, after=after)
            for event in events:
                engine.feed(event)
            fed += events
            if len(events) < EVENT_BATCH:
                break
            after = events[-1].seq
        return fed

    def advance(self, now: int) -> dict[str, str]:
        """The engine to `now` (caught up first after a gap); then approvals and rejections
        made meanwhile are taken in at `now` (what they release is decided at `now` too).
        Returns those decisions (version -> state)."""
        engine = self.engine
        assert engine is not None
        if now - engine.now > self.late_after:
            self.catch_up(now)
        engine.advance(now)
        decisions = self.apply_decisions()
        if decisions:
            engine.advance(now)
        return decisions

    def _take_imports(self) -> int:
        """Contacts and accounts an import changed while we run: in memory, and flows react
        as to any change (an imported contact matching a segment entry enters)."""
        engine = self.engine
        assert engine is not None
        self._imports, since, self._synced_at = self.store.imports(), self._synced_at, time.time()
        records, deleted, accounts = self.store.contacts_changed_since(since - CLOCK_SLACK)
        contacts = engine.contacts
        for account in accounts:
            if contacts.accounts.get(account["id"]) != account:
                contacts.add_account(account)
        changed = 0
        for record in records:
            cid = record["id"]
            if contacts.fields.get(cid) == record and (cid in contacts.deleted) == (cid in deleted):
                continue  # what we wrote ourselves
            changed += 1
            contacts.upsert(record)
            if cid in deleted:
                contacts.deleted.add(cid)
            engine.contact_changed(cid)
        return changed

    def count_spent(self, spent: Sequence[tuple[str, str, int]], now: int) -> int:
        """Messages contacts received outside the playbooks that the platform counts toward its
        quota (a staff member's own mass message: (channel, contact, when)) count toward the
        platform's limits in the period they fell in, if it is the current one; written with the
        next step. How many were counted."""
        engine, journaler = self.engine, self.journaler
        assert engine is not None and journaler is not None
        counted = 0
        for channel, contact, at in spent:
            for counter in engine.shared_counters:
                if not counter.by_contact or not counter.rule.applies(channel, True):
                    continue
                counter.room(max(now, engine.now), contact)  # into the current period first
                if counter.period_start <= at < counter.period_end:
                    counter.add(at, contact)
                    journaler.counts.add((id(counter), contact))
                    counted += 1
        return counted

    def count_welcomes(self, refs: Mapping[str, str | None], now: int) -> int:
        """Touches the platform's limits let go uncounted as its welcome message
        (Engine.welcomes) that the adapter sent otherwise (its ref is not a welcome's — the
        code was missing or expired, so WeCom made it a mass-message task) count toward those
        limits now, as `count_spent` counts (in the period they went out, if current). How many."""
        engine = self.engine
        assert engine is not None
        welcomes = engine.welcomes
        spent = []
        for key, ref in refs.items():
            went = welcomes.pop(key, None)
            if went is not None and not (ref or "").startswith(WELCOME_REF):
                spent.append(went)
        for key in [k for k, (_, _, at) in welcomes.items() if at < now - WELCOME_FORGET]:
            del welcomes[key]  # settled long ago, or never sent (dead): nothing more to count
        return self.count_spent(spent, now) if spent else 0

    def next_due(self) -> int | None:
        """When the engine next has something to do (None: nothing on its timeline)."""
        assert self.engine is not None
        return self.engine.next_due()

    @property
    def generation(self) -> int:
        """Scale-out: the shard's generation the engine was built at (storage/handoff.py)."""
        return self._generation

    def skip_to(self, now: int) -> bool:
        """A step skipped (the daemon's idle shard, nothing waiting in the store for it): the
        engine's clock moves to `now` in memory, as that step would have moved it — an event
        coming late is then placed at `now`, as before — and nothing is written (the next
        step's journal carries the clock). False, and nothing done, when a timeline item is
        due by `now`: step instead."""
        engine = self.engine
        assert engine is not None
        due = engine.next_due()
        if due is not None and due <= now:
            return False
        engine.advance(now)
        return True

    # ---- after downtime -----------------------------------------------------------------------------------
    def catch_up(self, now: int) -> tuple[int, int]:
        """Timeline items that fell due while the daemon was down (by more than
        `late_after`) run now, judged by now's quiet hours and limits rather than
        back-dated; a schedule fires at most once for all its missed firings, and only if
        the latest of them is within the grace period — older ones are recorded as missed
        (never a burst). Returns (items run now, firings recorded as missed)."""
        engine = self.engine
        assert engine is not None
        overdue = engine.take(lambda item: item.due < now - self.late_after)
        missed_total = 0
        for item in overdue:
            payload = item.payload
            if payload.kind is Kind.FIRE:
                missed, when = self._missed_firings(payload, item.due, now)
                missed_total += missed
                if when is None:
                    continue
                engine.at(when, payload, item.order)
            else:
                engine.at(now, payload, item.order)
        return len(overdue), missed_total

    def _missed_firings(self, fire: Fire, due: int, now: int) -> tuple[int, int | None]:
        """For a schedule's overdue firing: how many firings are missed, and when it fires
        next (now, once, if the latest missed one is within grace; else its next firing)."""
        engine = self.engine
        assert engine is not None
        flows = engine.flows[fire.flow]
        runner, rule = fire.runner, fire.rule
        if fire.once:
            firings, nxt = [due], None
        else:
            schedule = flows.runners[runner].schedule_of(rule)
            firings = [due]
            nxt = flows.next_firing(schedule, due)
            while nxt is not None and nxt <= now and len(firings) < 100_000:
                firings.append(nxt)
                nxt = flows.next_firing(schedule, nxt)
        latest = firings[-1]
        in_grace = now - latest <= self.grace
        missed = firings[:-1] if in_grace else firings
        if missed:
            flows.emit(now, "schedule_missed", None, runner.split(":", 1)[1], count=len(missed), first=missed[0],
                       last=missed[-1], rule=rule)  # fmt: skip
        if in_grace:
            return len(missed), now
        return len(missed), nxt

    # ---- versions -------------------------------------------------------------------------------------------
    def _migrate(self, now: int) -> int:
        """`run --migrate`: contacts mid-journey in an older version continue in the
        current one where they can (`JourneyRun.migrate_from`). How many moved."""
        engine = self.engine
        assert engine is not None
        current = [f for f in engine.flows if not f.retired]
        waiting = waiting_steps(engine.items())
        moved = 0
        for old in (f for f in engine.flows if f.retired):
            for name, run in old.journeys.items():
                target = next((f.journeys[name] for f in current if name in f.journeys), None)
                if target is not None:
                    moved += target.migrate_from(run, waiting.get((old.index, name), {}), now)
        return moved


def _versions_with_work(state: State) -> list[str]:
    """Versions the store still has work for: timeline items, held touches, contacts
    mid-journey, groups not yet closed."""
    found: set[str] = set()
    for row in state.timers:
        if row.kind in IN_FLOW and row.version is not None:
            found.add(row.version)
    found.update(row.version for row in state.held)
    found.update(row.version for row in state.enrolments if row.status == "active")
    found.update(row.version for row in state.groups if not row.dissolved)
    return sorted(found)


DAY = 86400


@dataclass(frozen=True)
class _Owner:
    """Whether an account is one of `shard`'s (of `count`)."""

    shard: int
    count: int

    def __call__(self, account: str) -> bool:
        return shard_of(account, self.count) == self.shard


@dataclass
class Ahead:
    decider: Decider  # its engine has run to the end
    report: LoadReport
    inputs: list[Event]  # the store's events not yet processed, fed to the engine
    current: list[dict[str, Any]]  # the running versions' IR documents


def run_ahead(store: Store, paths: Sequence[str], start: int, end: int, sink: Sink, *,
              shared_limits: Sequence[LimitRule] = (), can_dissolve_groups: bool = True, grace: int = 3600,
              current: Sequence[dict[str, Any]] | None = None, forwards: Sequence[ForwardRow] = ()) -> Ahead:  # fmt: skip
    """The engine restored from `store` at `start` (the daemon's now), as the daemon restores
    it, and run to `end` over a simulated clock, writing nothing: what the daemon will do
    (`runtime/forecast.py`; the launch gate's first hour). The playbooks are `current` (the
    documents, compiled once for every shard), else `paths`, else the versions the store runs.
    A shard's engine takes in the touches other shards forwarded to it — those waiting in the
    store and `forwards` (what the others' forecasts forward: `run_shards_ahead`) — and keeps
    what it forwards itself in `engine.forwarded`."""
    decider = Decider(store, paths, shared_limits=shared_limits, can_dissolve_groups=can_dissolve_groups,
                      grace=grace)  # fmt: skip
    if current is None:
        current = decider.compile() if paths else current_documents(store)
    current = list(current)
    waiting = decider.waiting_forwards(forwards)
    report = decider.build(start, current, sink=sink, forwards=waiting)
    engine = decider.engine
    assert engine is not None
    inputs = decider.take_events()
    receive(engine, waiting)
    decider.advance(start)  # the daemon's first step: events in, forwards and approvals taken in
    t = max(start, engine.now)
    while t < end:  # a day at a time, as `plan` runs
        t = min(t + DAY, end)
        engine.advance(t - 1)
    engine.drain()
    return Ahead(decider, report, inputs, current)


def run_shards_ahead(store: Store, paths: Sequence[str], start: int, end: int, sink_for: Callable[[int], Sink], *,
                     shared_limits: Sequence[LimitRule] = (), can_dissolve_groups: bool = True, grace: int = 3600,
                     current: Sequence[dict[str, Any]] | None = None) -> list[Ahead]:  # fmt: skip
    """Every shard of a store with shards run ahead (`run_ahead`), each from its own view,
    its records into `sink_for(shard)`; then each shard that another forwards touches to (an
    SLA's escalation for a supervisor of that shard) is run again with them, its records
    into a new `sink_for(shard)`. A forwarded touch (an escalation's task) forwards nothing
    itself, so the second run is the last. One `Ahead` per shard, in shard order."""
    count = store.shard_count()
    options = {"shared_limits": shared_limits, "can_dissolve_groups": can_dissolve_groups, "grace": grace,
               "current": current}  # fmt: skip
    aheads = [run_ahead(store.view(shard), paths, start, end, sink_for(shard), **options) for shard in range(count)]
    received: dict[int, list[ForwardRow]] = {}
    for ahead in aheads:
        assert ahead.decider.engine is not None
        for req in ahead.decider.engine.forwarded:
            row = forward_row(req)
            received.setdefault(shard_of(row.account, count), []).append(row)
    for shard, rows in sorted(received.items()):
        aheads[shard] = run_ahead(store.view(shard), paths, start, end, sink_for(shard), forwards=rows, **options)
    return aheads


def current_documents(store: Store) -> list[dict[str, Any]]:
    """The IR documents of the versions the store runs (activated, not retired)."""
    rows = store.versions(active=True)
    if not rows:
        raise PlaybookError(
            [Diagnostic(ERROR, "option", t("the store runs no playbook yet: give the playbook's PATH"))]
        )
    return [dict(row.document) for row in rows]
