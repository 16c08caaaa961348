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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler import compile_path, ir
from playbook.diagnostics import PlaybookError
from playbook.engine.core import Engine
from playbook.engine.flows import Enrolment, FlowSet
from playbook.engine.policy import LimitRule
from playbook.runtime.rows import State
from playbook.runtime.state import INDEXED_KINDS, Journaler, restore
from playbook.runtime.store import Store

ACTIVATED = "activated"  # engine_state: versions whose schedules were laid out
EVENT_BATCH = 5000
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


@dataclass
class StepReport:
    events: int = 0
    imported: int = 0  # contacts an import changed, taken in
    rejected: int = 0
    touches: int = 0
    state_events: int = 0


@dataclass
class Decider:
    store: Store
    paths: Sequence[str]
    shared_limits: Sequence[LimitRule] = ()
    can_dissolve_groups: bool = True
    grace: int = 3600  # schedule firings missed by less than this run once after downtime
    late_after: int = 60  # timeline items overdue by more than this run "now" (not back-dated)
    sync_tags: bool = False  # the adapter keeps platform tags in step (ledger rows for tag actions)
    engine: Engine | None = field(default=None, init=False)
    journaler: Journaler | None = field(default=None, init=False)
    playbooks: list[ir.Playbook] = field(default_factory=list, init=False)
    _imports: int = field(default=0, init=False)  # imports taken in so far (Store.imports)
    _synced_at: float = field(default=0.0, init=False)  # wall time the contacts were last read

    # ---- start and reload ---------------------------------------------------------------------------
    def load(self, now: int, *, migrate: bool = False) -> LoadReport:
        """Compile the playbooks, keep new versions, and build the engine from the store."""
        results = [compile_path(p) for p in self.paths]
        if any(not r.ok for r in results):  # what `playbook check` prints for the files that fail
            raise PlaybookError([d for r in results if not r.ok for d in r.diagnostics])
        current = [r.doc for r in results if r.doc is not None]
        new = [doc["version"] for doc in current if self.store.save_version(doc)]
        current_versions = [doc["version"] for doc in current]
        for row in self.store.versions(active=True, documents=False):
            if row.version not in current_versions:
                self.store.retire_version(row.version)
        for version in current_versions:
            self.store.activate_version(version)
        self._imports, self._synced_at = self.store.imports(), time.time()
        state = self.store.load_state()
        finishing = [v for v in _versions_with_work(state) if v not in current_versions]
        known = {r.version: r for r in self.store.versions()}
        finishing.sort(key=lambda v: (known[v].created_at, v))
        docs = [known[v].document for v in finishing] + current
        self.playbooks = [ir.load(doc) for doc in docs]
        engine, fresh = restore(self.playbooks, state, self._sink, start=now, shared_limits=self.shared_limits,
                                can_dissolve_groups=self.can_dissolve_groups, retired=finishing)  # fmt: skip
        self.engine = engine
        self.journaler = Journaler(engine, {a["id"] for a in state.accounts}, tag_rows=self.sync_tags)
        report = LoadReport(current_versions, new, finishing, fresh)
        if fresh:
            engine.activate()
        else:
            report.caught_up, report.missed = self.catch_up(now)
            if migrate:
                report.migrated = self._migrate(now)
            activated = set(state.engine_state.get(ACTIVATED) or ())
            for flows in engine.flows:
                if not flows.retired and flows.program.version not in activated:
                    _take_over(flows, now)
        journal = self.journaler.capture()
        journal.engine_state[ACTIVATED] = current_versions
        self.store.write(journal)
        return report

    def _sink(self, record: Any) -> None:
        assert self.journaler is not None
        self.journaler.record(record)

    # ---- each instant ---------------------------------------------------------------------------------
    def step(self, now: int) -> StepReport:
        """Decide everything up to `now`: new events in, timeline advanced, one commit."""
        engine, journaler = self.engine, self.journaler
        assert engine is not None and journaler is not None
        report = StepReport()
        if self.store.imports() != self._imports:
            report.imported = self._take_imports()
        fed: list[int] = []
        after = 0
        while True:
            events = self.store.next_events(limit=EVENT_BATCH, after=after)
            for event in events:
                engine.feed(event)
                fed.append(event.seq)
            if len(events) < EVENT_BATCH:
                break
            after = events[-1].seq
        if now - engine.now > self.late_after:
            self.catch_up(now)
        engine.advance(now)
        journal = journaler.capture()
        rejected = {e.seq: "unknown contact" for e in engine.unknown_contacts}
        engine.unknown_contacts.clear()
        journal.events_processed = [seq for seq in fed if seq not in rejected]
        journal.events_rejected = rejected
        self.store.write(journal)
        report.events, report.rejected = len(fed), len(rejected)
        report.touches, report.state_events = len(journal.touches), len(journal.state_events)
        return report

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

    def next_due(self) -> int | None:
        """When the engine next has something to do (None: nothing on its timeline)."""
        assert self.engine is not None
        return self.engine.next_due()

    # ---- after downtime -----------------------------------------------------------------------------------
    def catch_up(self, now: int) -> tuple[int, int]:
        """Timeline items that fell due while the daemon was down (by more than
        `late_after`) run now, judged by now's quiet hours and limits rather than
        back-dated; a schedule fires at most once for all its missed firings, and only if
        the latest of them is within the grace period — older ones are recorded as missed
        (never a burst). Returns (items run now, firings recorded as missed)."""
        engine = self.engine
        assert engine is not None
        overdue = engine.take(lambda item: item[0] < now - self.late_after)
        missed_total = 0
        for due, phase, order, _, kind, payload in overdue:
            if kind == "fire":
                missed, when = self._missed_firings(payload, due, now)
                missed_total += missed
                if when is None:
                    continue
                engine.at(when, phase, kind, payload, order)
            else:
                engine.at(now, phase, kind, payload, order)
        return len(overdue), missed_total

    def _missed_firings(self, payload: tuple, due: int, now: int) -> tuple[int, int | None]:
        """For a schedule's overdue firing: how many firings are missed, and when it fires
        next (now, once, if the latest missed one is within grace; else its next firing)."""
        engine = self.engine
        assert engine is not None
        flows = engine.flows[payload[0]]
        runner, rule = payload[1], payload[2]
        once = len(payload) > 3 and payload[3]
        if once:
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
        current one, at the same step (node id) where it still exists; where it does not,
        or while a touch of theirs is held, they finish the older version."""
        engine = self.engine
        assert engine is not None
        current = [f for f in engine.flows if not f.retired]
        moved = 0
        moving: set[int] = set()  # seqs of the older version's items that moved
        pending = {}
        for item in engine.items():
            if item[4] in ("step", "timeout"):
                index, name, cid, n, node_id, epoch = item[5]
                pending[(index, name, cid, n, epoch)] = item
        for old in (f for f in engine.flows if f.retired):
            for name, run in old.journeys.items():
                target = next((f.journeys[name] for f in current if name in f.journeys), None)
                if target is None:
                    continue
                for cid, history in list(run.history.items()):
                    enr = history[-1]
                    item = pending.get((old.index, name, cid, enr.n, enr.epoch))
                    if enr.status != "active" or enr.touch is not None or item is None:
                        continue
                    node_id = item[5][4]
                    if node_id not in target.j.nodes:
                        continue
                    fresh = Enrolment(cid, len(target.history.get(cid, ())) + 1, enr.entered_at, enr.event,
                                      list(enr.segments))  # fmt: skip
                    fresh.arms, fresh.goal_at = dict(enr.arms), enr.goal_at
                    if item[4] == "timeout":
                        fresh.wait = target.j.nodes[node_id]
                    target.history.setdefault(cid, []).append(fresh)
                    target.flows.dirty(target.key, cid)
                    run.exit(enr, now, f"migrated to {target.flows.program.version}")
                    moving.add(item[3])
                    payload = (target.flows.index, name, cid, fresh.n, node_id, fresh.epoch)
                    engine.at(item[0], item[1], item[4], payload, item[2])
                    moved += 1
        engine.take(lambda item: item[3] in moving)  # the older version has nothing left to do for them
        return moved


def _take_over(flows: FlowSet, now: int) -> None:
    """A new version starts while older ones run: who already matches a segment entry in
    the older version is not greeted again, and its schedules are laid out from now."""
    for run in flows.journeys.values():
        for older in run.predecessors:
            run.matching |= older.matching
        for cid in run.matching:
            flows.dirty(run.key, cid)
    flows.activate(now)


def _versions_with_work(state: State) -> list[str]:
    """Versions the store still has work for: timeline items, held touches, contacts
    mid-journey, groups not yet closed."""
    found: set[str] = set()
    for row in state.timers:
        if row.kind in INDEXED_KINDS:
            found.add(row.payload[0])
    found.update(row.version for row in state.held)
    found.update(row.version for row in state.enrolments if row.status == "active")
    found.update(row.version for row in state.groups if not row.dissolved)
    return sorted(found)
