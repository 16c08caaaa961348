"""`playbook plan`: the engine over a simulated clock, with nothing sent.

The plan is what the daemon would do given the same events: both drive the same
`Engine`; the plan only decides where the clock starts and stops, and (with
`--simulate`) draws the events that have not happened yet.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playbook.compiler import compile_path, ir
from playbook.compiler.templates import placeholders
from playbook.data.files import RowProblem, read_events, read_records
from playbook.diagnostics import PlaybookError
from playbook.engine.core import Contacts, Engine, apply_effects
from playbook.engine.model import Event, StateEvent, Touch
from playbook.engine.policy import LimitRule
from playbook.engine.timeutil import LocalTime
from playbook.i18n import t
from playbook.plan.simulate import Simulator


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


@dataclass
class PlanResult:
    playbooks: list[ir.Playbook]
    clock: LocalTime
    start: int
    end: int
    touches: list[Touch]
    events: list[StateEvent]
    metrics: dict[str, Any]
    problems: list[RowProblem]
    unknown_contacts: list[Event]
    contacts: Contacts
    inputs: list[Event]  # the events the plan read or drew (--simulate), in time order

    @property
    def version(self) -> str:
        if len(self.playbooks) == 1:
            return self.playbooks[0].version
        return "+".join(p.version for p in self.playbooks)


def load_playbooks(paths: Sequence[str]) -> list[ir.Playbook]:
    results = [compile_path(p) for p in paths]
    errors = [d for r in results for d in r.errors]
    if errors:
        raise PlaybookError(errors)
    return [r.playbook for r in results]


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


def run_plan(spec: PlanInput, *, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
             progress: Callable[[int, int], None] | None = None) -> PlanResult:  # fmt: skip
    playbooks = load_playbooks(spec.paths)
    clock = LocalTime(playbooks[0].timezone)
    start = parse_start(spec.start, clock, now)
    end = start + spec.days * 86400

    problems: list[RowProblem] = []
    contacts = Contacts()
    if spec.accounts:
        records, bad = read_records(spec.accounts, clock)
        problems += bad
        for record in records:
            contacts.add_account(record)
    records, bad = read_records(spec.contacts, clock, only=fields_read(playbooks))
    problems += bad
    for record in records:
        contacts.upsert(record)
    events: list[Event] = []
    if spec.events:
        events, bad = read_events(spec.events, clock)
        problems += bad
    events.sort(key=lambda e: (e.at, e.seq))

    touches: list[Touch] = []
    states: list[StateEvent] = []

    def sink(record: Touch | StateEvent) -> None:
        if isinstance(record, Touch):
            if record.due < end:
                touches.append(record)
                if simulator is not None:
                    simulator.after_touch(record)
        elif record.at < end:
            states.append(record)

    engine = Engine(playbooks, contacts, start, sink, shared_limits=spec.adapter_limits,
                    can_dissolve_groups=spec.can_dissolve_groups)  # fmt: skip
    simulator = Simulator(spec.simulate, spec.seed, engine, first_seq=len(events)) if spec.simulate else None
    coming: deque[Event] = deque()
    for event in events:
        if event.at < start:
            # History before the plan starts: it shapes the contacts, no flow reacts to it.
            if event.contact in contacts.fields:
                apply_effects(contacts, event)
            elif event.type == "friend_added":
                contacts.upsert(
                    {"id": event.contact, **{k: event.data[k] for k in ("name", "account") if k in event.data}}
                )
        elif event.at < end:  # later ones would never be processed
            coming.append(event)
    if not spec.keep_inputs:
        events = []  # `coming` and then the engine hold what is still to process, and let go of it then
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
    touches.sort(key=lambda x: (x.at, x.account or "", x.contact or "", x.flow, x.step))
    drawn = simulator.drawn if simulator is not None else []
    inputs = sorted((e for e in [*events, *drawn] if start <= e.at < end), key=lambda e: (e.at, e.seq))
    return PlanResult(playbooks, clock, start, end, touches, states, metrics(engine), problems,
                      engine.unknown_contacts, contacts, inputs)  # fmt: skip


def metrics(engine: Engine) -> dict[str, Any]:
    """The seed metrics per journey: entered, goal, by arm and by segment, time to goal."""
    out: dict[str, Any] = {}
    names = Counter(j for f in engine.flows for j in f.journeys)
    for flows in engine.flows:
        for name, run in flows.journeys.items():
            key = name if names[name] == 1 else f"{flows.program.name}/{name}"
            enrolments = [e for history in run.history.values() for e in history]
            reached = [e for e in enrolments if e.goal_at is not None]
            by_arm: dict[str, dict[str, int]] = {}
            by_segment: dict[str, dict[str, int]] = {}
            for e in enrolments:
                for node_id, arm in sorted(e.arms.items()):
                    label = arm if len({n for x in enrolments for n in x.arms}) <= 1 else f"{node_id}:{arm}"
                    slot = by_arm.setdefault(label, {"entered": 0, "goal": 0})
                    slot["entered"] += 1
                    slot["goal"] += e.goal_at is not None
                for seg in e.segments:
                    slot = by_segment.setdefault(seg, {"entered": 0, "goal": 0})
                    slot["entered"] += 1
                    slot["goal"] += e.goal_at is not None
            waits = [e.goal_at - e.entered_at for e in reached if e.goal_at is not None]
            out[key] = {
                "entered": len(enrolments),
                "goal": len(reached),
                "conversion": round(len(reached) / len(enrolments), 4) if enrolments else 0.0,
                "median_time_to_goal_hours": round(statistics.median(waits) / 3600, 2) if waits else None,
                "by_arm": dict(sorted(by_arm.items())),
                "by_segment": dict(sorted(by_segment.items())),
            }
    return dict(sorted(out.items()))
