"""The plan of every account, or of one shard's accounts (`plan_part`): the files read, the
engine run over a simulated clock with nothing sent, and what it decided (`PlanResult`).

`plan/run.py` decides whether the plan is made here in one process or in shards
(`plan/shards.py`, which runs `plan_part` in each worker); the outputs (`plan/jsonwriter.py`, `plan/tables.py`)
read a `PlanResult`. This module imports neither, so the three form no circle.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playbook.compiler import ir
from playbook.compiler.templates import placeholders
from playbook.data.columns import ACCOUNTS, CONTACTS, EVENTS, ColumnMap
from playbook.data.files import RowProblem, read_events, read_records, unique_events
from playbook.diagnostics import PlaybookError
from playbook.engine.core import Contacts, Engine, apply_effects, friend_added
from playbook.engine.sla import OUTCOMES, SLA_EVENTS, tally_by_account
from playbook.i18n import t
from playbook.plan.simulate import Arrival, Simulator, draw_arrivals, drawn_counts, named_sources
from playbook.plan.touches import PlannedTouches
from playbook.vocab.limits import LimitRule
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event, StateEvent, Touch, TouchRun, flow_keys
from playbook.vocab.reasons import cause_of

if TYPE_CHECKING:
    from playbook.plan.owners import Shard


@dataclass
class PlanInput:
    paths: Sequence[str]
    contacts: str
    accounts: str | None = None
    events: str | None = None
    start: str | None = None  # local datetime text; default: today 00:00 in the playbook timezone
    days: int = 7
    simulate: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    adapter_limits: Sequence[LimitRule] = ()
    can_dissolve_groups: bool = True
    keep_inputs: bool = True  # keep the input events for a contact timeline (memory at scale)
    workers: int = 1  # processes planning the accounts in shards (plan/shards.py); 1: this one
    output: str = "json"  # what a shard prepares for: "json" (the lines) or "table" (counts only)
    contact: str | None = None  # a shard also keeps this contact's own timeline
    touch_runs: bool = True  # touches alike planned together (engine TouchBatch); False: one by one (tests compare)
    columns: tuple[tuple[str, str], ...] = ()  # the operator's COLUMN=FIELD mapping (data/columns.py)
    arrivals: tuple[Arrival, ...] = ()  # --simulate's rates (TYPE=N/day): planned in one process


@dataclass
class PlanResult:
    playbooks: list[ir.Playbook]
    clock: LocalTime
    start: int
    end: int
    touches: Sequence[Touch]  # in order (a PlannedTouches); planned in shards: only `PlanInput.contact`'s
    events: list[StateEvent]  # idem
    metrics: dict[str, Any]
    problems: list[RowProblem]
    unknown_contacts: list[Event]
    contacts: Contacts  # planned in shards: every account, and only `PlanInput.contact`
    inputs: list[Event]  # the events the plan read or drew (--simulate), in time order
    tally: Counter[tuple[str, str, str, str, str]] | None = None  # see `counts`; None: count `touches`
    sections: Any = None  # planned in shards: the JSON lines of events and touches (plan/shards.py)
    metric_counts: dict[str, JourneyCounts] | None = None  # what `metrics` was made of
    event_types: dict[str, int] = field(default_factory=dict)  # the events file's types, how many of each
    drawn: Counter[tuple[str, str]] | None = None  # what --simulate drew, by (local date, type); None: nothing asked
    arrivals: tuple[Arrival, ...] = ()  # the rates it drew at (PlanInput.arrivals)
    # per SLA, per staff account: met / late / missed (sla_outcomes)
    service_levels: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        if len(self.playbooks) == 1:
            return self.playbooks[0].version
        return "+".join(p.version for p in self.playbooks)

    def counts(self) -> Counter[tuple[str, str, str, str, str]]:
        """Touches by (local day, account, channel, outcome, cause): what every summary and
        table counts."""
        if self.tally is None:
            self.tally = count_touches(self.touches, self.clock)
        return self.tally


def count_touches(touches: Sequence[Touch], clock: LocalTime) -> Counter[tuple[str, str, str, str, str]]:
    """Touches by (local day, account or "", channel, outcome, cause)."""
    days: dict[int, str] = {}
    causes: dict[str, str] = {}
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    parts = touches.by_run() if isinstance(touches, PlannedTouches) else ((x, 1) for x in touches)
    for x, n in parts:
        day = days.get(x.at)
        if day is None:
            day = days[x.at] = clock.date_of(x.at).isoformat()
        cause = causes.get(x.reason)
        if cause is None:
            cause = causes[x.reason] = cause_of(x.reason)
        channel, account = (x.channel, x.account) if x.__class__ is Touch else (x.like.channel, x.like.account)  # type: ignore[union-attr]
        counts[day, account or "", channel, x.outcome, cause] += n
    return counts


def fields_read(playbooks: Sequence[ir.Playbook]) -> set[str]:
    """Every contact field a playbook can look at: in expressions, placeholders, rotation
    order, and the fields events maintain."""
    fields = {"added_at", "orders", "spent", "last_purchase_at", "last_active_at"}
    for pb in playbooks:
        fields.update(pb.fields)
        fields.update(r.order_by for r in pb.rotations.values())
        for content in pb.contents.values():
            fields.update(p.path for p in content.placeholders if "." not in p.path)
        texts = [n.text for j in pb.journeys.values() for n in j.nodes.values() if n.kind == "task" and n.text]
        texts += [n.text for g in pb.groups.values() for n in g.nodes.values() if n.kind == "task" and n.text]
        texts += [r.task for r in pb.rotations.values()] + [g.title for g in pb.groups.values()]
        for text in texts:
            fields.update(p.path for p in placeholders(text) if p.scope == "contact")
    return fields


def parse_start(text: str | None, clock: LocalTime, now: Callable[[], dt.datetime]) -> int:
    from playbook.data.values import DataValueError, parse_time

    if text is None:
        today = now().astimezone(clock.tz).date()
        return clock.midnight(today)
    try:
        return int(parse_time(text, clock))
    except DataValueError as exc:
        from playbook.diagnostics import ERROR, Diagnostic

        raise PlaybookError([Diagnostic(ERROR, "option", t("--start: {problem}", problem=exc.message()))]) from None


def plan_part(spec: PlanInput, playbooks: list[ir.Playbook], start: int, end: int, shard: Shard | None = None,
              progress: Callable[[int, int], None] | None = None) -> PlanResult:  # fmt: skip
    """The plan of every account, or of one shard's accounts (`shard`: which rows of the
    files are its own); the same engine either way. In phases: the files read, the events
    before the start applied as history, the events to come (with those drawn at a rate),
    the engine run day by day, and what it decided collected."""
    clock = LocalTime(playbooks[0].timezone)
    read = _read_inputs(spec, playbooks, clock, shard)
    collected = _Collected(end, read.contacts.fields)
    engine = Engine(playbooks, read.contacts, start, collected, shared_limits=spec.adapter_limits,
                    can_dissolve_groups=spec.can_dissolve_groups, runs=spec.touch_runs)  # fmt: skip
    coming = _after_history(read, start, end)
    arrivals: list[Event] = []
    if spec.arrivals:
        known = {*read.contacts.fields, *(e.contact for e in read.events if e.contact)}
        arrivals = draw_arrivals(spec.arrivals, spec.seed, clock, start, end, read.contacts, known,
                                 named_sources(playbooks), read.first_drawn)  # fmt: skip
        coming = deque(sorted([*coming, *arrivals], key=lambda e: (e.at, e.seq)))
    if spec.simulate:  # its draws numbered after the arrivals'
        collected.simulator = Simulator(spec.simulate, spec.seed, engine, first_seq=read.first_drawn + len(arrivals))
    if not spec.keep_inputs:
        read.events = []  # `coming` and then the engine hold what is still to process, and let go of it then
    _run_days(engine, coming, start, end, progress)
    drawn = [*arrivals, *(collected.simulator.drawn if collected.simulator is not None else [])]
    return _result(spec, playbooks, clock, (start, end), engine, read, collected, drawn)


@dataclass
class _Inputs:
    """The files as a part reads them: its contacts and accounts, its events in time order
    (and how many of each type), the rows' problems."""

    contacts: Contacts
    events: list[Event]
    problems: list[RowProblem]
    event_types: dict[str, int]
    first_drawn: int  # the sequence number of the first event drawn (--simulate): after the file's


def _read_inputs(spec: PlanInput, playbooks: list[ir.Playbook], clock: LocalTime, shard: Shard | None) -> _Inputs:
    problems: list[RowProblem] = []
    contacts = _read_contacts(spec, playbooks, clock, shard, problems)
    events = _read_events(spec, clock, shard, contacts, problems)
    first_drawn = max((e.seq for e in events), default=0) + 1
    return _Inputs(contacts, events, problems, dict(Counter(e.type for e in events)), first_drawn)


def _read_contacts(spec: PlanInput, playbooks: list[ir.Playbook], clock: LocalTime, shard: Shard | None,
                   problems: list[RowProblem]) -> Contacts:  # fmt: skip
    """The accounts and the contacts of the part (a shard's own rows), their rows' problems
    added to `problems` (the accounts file's by the first shard only: each shard reads all)."""
    contacts = Contacts()
    if spec.accounts:
        records, bad = read_records(spec.accounts, clock, columns=ColumnMap(ACCOUNTS, spec.columns))  # each shard: all
        if shard is None or shard.index == 0:
            problems += bad
        for record in records:
            if shard is None or shard.mine(record["id"]):
                contacts.add_account(record)
    records, bad = read_records(spec.contacts, clock, only=fields_read(playbooks), owner=shard,
                                columns=ColumnMap(CONTACTS, spec.columns))  # fmt: skip
    problems += bad
    for record in records:
        contacts.upsert(record)
    return contacts


def _read_events(spec: PlanInput, clock: LocalTime, shard: Shard | None, contacts: Contacts,
                 problems: list[RowProblem]) -> list[Event]:  # fmt: skip
    """The events file's events of the part, once each (a repeated id is one event,
    reported in `problems`), by time."""
    if not spec.events:
        return []
    if shard is not None:
        shard.known(contacts)
    events, bad = read_events(spec.events, clock, router=shard, columns=ColumnMap(EVENTS, spec.columns))
    problems += bad
    unique = unique_events(events, str(spec.events))
    problems += unique.repeats + unique.conflicts
    events = unique.events
    events.sort(key=lambda e: (e.at, e.seq))
    return events


def _after_history(read: _Inputs, start: int, end: int) -> deque[Event]:
    """History before the plan starts shapes the contacts (no flow reacts to it); the
    events of the plan's span, which the engine is fed day by day. Later ones would never
    be processed."""
    contacts = read.contacts
    coming: deque[Event] = deque()
    for event in read.events:
        if event.at < start:
            if event.type == "friend_added":
                friend_added(contacts, event)
            elif event.contact in contacts.fields:
                apply_effects(contacts, event)
        elif event.at < end:
            coming.append(event)
    return coming


class _Collected:
    """The engine's sink in a plan: the touches due and the state events before the plan's
    end (each event with its account: the plan lists events by time, then account); each
    touch told to the --simulate draws, which react to what was sent."""

    __slots__ = ("end", "fields", "touches", "states", "simulator")

    def __init__(self, end: int, fields: dict[str, dict[str, Any]]):
        self.end = end
        self.fields = fields  # the contacts' records
        self.touches: list[Touch | TouchRun] = []
        self.states: list[StateEvent] = []
        self.simulator: Simulator | None = None

    def __call__(self, record: Touch | TouchRun | StateEvent) -> None:
        kind = record.__class__
        if kind is Touch:
            if record.due < self.end:  # type: ignore[union-attr]
                self.touches.append(record)  # type: ignore[arg-type]
                if self.simulator is not None:
                    self.simulator.after_touch(record)  # type: ignore[arg-type]
        elif kind is TouchRun:
            if record.like.due < self.end:  # type: ignore[union-attr]
                self.touches.append(record)  # type: ignore[arg-type]
                if self.simulator is not None:
                    for touch in record.touches():  # type: ignore[union-attr]
                        self.simulator.after_touch(touch)
        elif record.at < self.end:
            record.account = record.data.get("account") if record.contact is None else \
                self.fields.get(record.contact, {}).get("account")  # fmt: skip
            self.states.append(record)  # type: ignore[arg-type]


def _run_days(engine: Engine, coming: deque[Event], start: int, end: int,
              progress: Callable[[int, int], None] | None) -> None:  # fmt: skip
    engine.activate()
    step = 86400
    t = start
    while t < end:
        t = min(t + step, end)
        # The day's events go on the timeline just before the day is run, not all at the
        # start: a timeline of a million events makes every other item slower to take off
        # it. Same order either way: an event's place is its time, phase and sequence.
        while coming and coming[0].at < t:
            engine.feed(coming.popleft())
        engine.advance(t - 1)
        if progress is not None:
            progress(t - start, end - start)
    engine.drain()


def _result(spec: PlanInput, playbooks: list[ir.Playbook], clock: LocalTime, span: tuple[int, int], engine: Engine,
            read: _Inputs, collected: _Collected, drawn: list[Event]) -> PlanResult:  # fmt: skip
    """What the engine decided, in the plan's order, with the inputs in the span (read
    and drawn) and the metrics."""
    start, end = span
    inputs = sorted((e for e in [*read.events, *drawn] if start <= e.at < end), key=lambda e: (e.at, e.seq))
    counts = metric_parts(engine)
    asked = bool(spec.simulate or spec.arrivals)
    states = collected.states
    return PlanResult(playbooks, clock, start, end, PlannedTouches(collected.touches), states, metrics(counts),
                      read.problems, engine.unknown_contacts, read.contacts, inputs, metric_counts=counts,
                      event_types=read.event_types,
                      drawn=drawn_counts((e for e in drawn if start <= e.at < end), clock) if asked else None,
                      arrivals=spec.arrivals, service_levels=sla_outcomes(states, playbooks))  # fmt: skip


def sla_outcomes(states: Sequence[StateEvent], playbooks: Sequence[ir.Playbook]) -> dict[str, dict[str, dict[str, int]]]:
    """Per SLA (by name; `playbook/name` where playbooks side by side share one), per staff
    account (the one that should answer): how many watches were met, late, missed by the
    plan's end (engine/sla.py tally_by_account)."""
    named = flow_keys((pb.title or pb.name, n) for pb in playbooks for n in pb.slas)
    keys = {(pb.version, n): named[pb.title or pb.name, n] for pb in playbooks for n in pb.slas}
    by_sla: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for e in states:
        if e.type in SLA_EVENTS:
            key = keys.get((e.version or "", e.flow or ""), e.flow or "")
            watches = by_sla.get(key)
            if watches is None:
                watches = by_sla[key] = []
            watches.append((e.type, e.contact, e.data.get("account")))  # within one SLA, a contact tells its watches apart
    return {key: tally_by_account(events) for key, events in sorted(by_sla.items())}


def add_sla_outcomes(into: dict[str, dict[str, dict[str, int]]], more: dict[str, dict[str, dict[str, int]]]) -> None:
    """Add one part's `sla_outcomes` to another's (shards plan disjoint accounts)."""
    for key, accounts in more.items():
        mine = into.setdefault(key, {})
        for account, outcomes in accounts.items():
            slot = mine.setdefault(account, dict.fromkeys(outcomes, 0))
            for outcome, n in outcomes.items():
                slot[outcome] = slot.get(outcome, 0) + n


def sla_totals(service_levels: dict[str, dict[str, dict[str, int]]]) -> dict[str, int]:
    """Met / late / missed over every SLA and account (the summary line)."""
    out = dict.fromkeys(OUTCOMES, 0)
    for accounts in service_levels.values():
        for outcomes in accounts.values():
            for outcome in OUTCOMES:
                out[outcome] += outcomes.get(outcome, 0)
    return out


@dataclass
class JourneyCounts:
    """One journey's seed metrics before they are put together (a shard's share adds up)."""

    entered: int = 0
    goal: int = 0
    waits: list[int] = field(default_factory=list)  # seconds to the goal, of each that reached it
    by_arm: Counter[tuple[str, str, bool]] = field(default_factory=Counter)  # (split node, arm, goal)
    by_segment: Counter[tuple[str, bool]] = field(default_factory=Counter)  # (segment, goal)

    def add(self, other: JourneyCounts) -> None:
        self.entered += other.entered
        self.goal += other.goal
        self.waits += other.waits
        self.by_arm.update(other.by_arm)
        self.by_segment.update(other.by_segment)


def metric_parts(engine: Engine, since: int | None = None) -> dict[str, JourneyCounts]:
    """Entered, goal, arms and segments of every journey's enrolments (`since`: of those
    entered then or later — a plan from a store's state). Versions of one playbook (a
    daemon's engine after an edit) add up."""
    out: dict[str, JourneyCounts] = {}
    names = Counter((f.program.identity, j) for f in engine.flows for j in f.journeys)
    distinct = Counter(j for _, j in names)
    for flows in engine.flows:
        for name, run in flows.journeys.items():
            key = name if distinct[name] == 1 else f"{flows.program.name}/{name}"
            counts = out.setdefault(key, JourneyCounts())
            for history in run.history.values():
                for e in history:
                    if since is not None and e.entered_at < since:
                        continue
                    reached = e.goal_at is not None
                    counts.entered += 1
                    if reached:
                        counts.goal += 1
                        counts.waits.append(e.goal_at - e.entered_at)
                    for node_id, arm in e.arms.items():
                        counts.by_arm[node_id, arm, reached] += 1
                    for seg in e.segments:
                        counts.by_segment[seg, reached] += 1
    return out


def metrics(parts: dict[str, JourneyCounts]) -> dict[str, Any]:
    """The seed metrics per journey: entered, goal, by arm and by segment, time to goal."""
    out: dict[str, Any] = {}
    for key, c in parts.items():
        by_arm: dict[str, dict[str, int]] = {}
        one_split = len({node_id for node_id, _, _ in c.by_arm}) <= 1
        for (node_id, arm, reached), n in sorted(c.by_arm.items()):
            slot = by_arm.setdefault(arm if one_split else f"{node_id}:{arm}", {"entered": 0, "goal": 0})
            slot["entered"] += n
            slot["goal"] += n if reached else 0
        by_segment: dict[str, dict[str, int]] = {}
        for (seg, reached), n in sorted(c.by_segment.items()):
            slot = by_segment.setdefault(seg, {"entered": 0, "goal": 0})
            slot["entered"] += n
            slot["goal"] += n if reached else 0
        out[key] = {
            "entered": c.entered,
            "goal": c.goal,
            "conversion": round(c.goal / c.entered, 4) if c.entered else 0.0,
            "median_time_to_goal_hours": round(statistics.median(c.waits) / 3600, 2) if c.waits else None,
            "by_arm": dict(sorted(by_arm.items())),
            "by_segment": dict(sorted(by_segment.items())),
        }
    return dict(sorted(out.items()))
