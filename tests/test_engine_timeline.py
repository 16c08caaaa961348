"""The engine's boundary (engine/timeline.py, engine/host.py `Runner`): every kind of
timeline item has a payload type and a handler; every runner's state goes through its
snapshots and comes back the same (into a fresh runner, and through the store's rows and
JSON as runtime/state.py keeps them); timer rows of the shapes older stores hold still load.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.compiler import compile_text, ir
from playbook.engine.contacts import Contacts
from playbook.engine.core import Engine
from playbook.engine.flows import EnrolmentState
from playbook.engine.host import Runner
from playbook.engine.timeline import (
    IN_FLOW,
    PAYLOADS,
    Arrival,
    Close,
    Fire,
    Forwarded,
    GroupStep,
    Item,
    Kind,
    Retry,
    SlaDeadline,
    SlaEscalate,
    SlaRemind,
    Step,
    Tick,
    Timeout,
    loaded,
    stored,
)
from playbook.runtime import codec
from playbook.runtime.rows import EnrolmentRow, State, TimerRow
from playbook.runtime.state import Journaler, restore
from playbook.vocab.model import Event

TZ = dt.timezone(dt.timedelta(hours=8))
START = int(dt.datetime(2026, 11, 30, 0, 0, tzinfo=TZ).timestamp())  # a Monday
PLAYBOOK = """\
playbook "快照"
timezone "Asia/Shanghai"
quiet 23:00-08:00
limit dm 1 per contact per day

segment VIP = spent >= 3000
segment 老客 = orders >= 1

content 邀请 = "诚邀您加入VIP群"
content 进群 = "快来进群"
content 欢迎 = "欢迎"
content 问候 = "您好"
content 感谢 = "谢谢回复"

group VIP群 {
  name "VIP群"
  admit in VIP
  size 2
  invite 邀请
  every wed at 20:00: post 欢迎
  when not admitted: task "请确认"
}

group 快闪群 {
  members in 老客
  opens every day at 10:00
  lasts 12h
  size 2
  invite 进群
  after 1h: post 欢迎
  closing: post 欢迎
}

journey 互动 {
  on friend_added
  reenter after 1d
  after 10m: dm 问候
  wait for message up to 1d
    then { dm 感谢 }
    else { task "请跟进" }
}

journey 邀请 {
  on enter VIP
  invite VIP群
}

moments 朋友圈 {
  every day at 12:00: post 欢迎 visible to in 老客
}

rotate 点赞 {
  each contact every 7d
  order by name
  at 10:00 on mon-fri
  task "点赞"
}

sla 及时回复 {
  message answered by staff_message within 10m during 09:00-21:00
  remind at 4m
  escalate to a2 after 30m
}
"""
ACCOUNTS = [{"id": "a1", "name": "小美"}, {"id": "a2", "name": "阿杰"}]
CONTACTS = [
    {"id": f"c{i}", "name": name, "account": "a1" if i % 2 else "a2", "orders": i % 3, "spent": 1000 * i}
    for i, name in enumerate(["阿四", "小林", "王五", "赵六", "钱七", "孙八"], 1)
]


def _playbook() -> ir.Playbook:
    result = compile_text(PLAYBOOK, "snap.pb")
    assert result.ok, result.diagnostics
    return result.playbook  # type: ignore[no-any-return]


PB = _playbook()


def _engine(records: list[dict[str, Any]] = CONTACTS, deleted: set[str] | None = None) -> Engine:
    contacts = Contacts()
    for account in ACCOUNTS:
        contacts.add_account(dict(account))
    for record in records:
        contacts.upsert(dict(record))
    contacts.deleted.update(deleted or ())
    return Engine([PB], contacts, START, lambda record: None)


# ---- kinds, payloads, handlers -----------------------------------------------------------------------------
def test_every_kind_has_a_payload_type_and_a_handler() -> None:
    assert set(PAYLOADS) == set(Kind)
    assert all(cls.kind is kind for kind, cls in PAYLOADS.items())
    assert set(_engine()._handlers) == set(Kind)


def test_every_runner_is_a_runner() -> None:
    flows = _engine().flows[0]
    kinds = {key.split(":")[0] for key in flows.runners}
    assert kinds == {"journey", "group", "moments", "rotation", "standing", "sla"}
    assert all(isinstance(run, Runner) for run in flows.runners.values())


def test_each_handler_runs_its_own_kind() -> None:
    """Each kind reaches what it names: a step its journey, a close its group, a remind its
    service level … (each payload's handler called with that payload)."""
    engine = _engine()
    seen: list[tuple[str, Any]] = []
    flows = engine.flows[0]
    journey, group, sla = flows.journeys["互动"], flows.groups["快闪群"], flows.slas[0]
    for obj, name in ((journey, "step"), (journey, "timed_out"), (group, "step"), (group, "close"),
                      (sla, "remind"), (sla, "deadline"), (sla, "escalate")):  # fmt: skip
        setattr(obj, name, lambda p, name=name, obj=obj: seen.append((f"{type(obj).__name__}.{name}", p)))
    flows.fire = lambda runner, rule, once: seen.append(("FlowSet.fire", (runner, rule, once)))  # type: ignore[method-assign]
    engine._on_event = lambda event: seen.append(("Engine._on_event", event))  # type: ignore[method-assign]
    engine._day_tick = lambda: seen.append(("Engine._day_tick", None))  # type: ignore[method-assign]
    event = Event("message", "c1", START, {}, 1)
    payloads = {
        Kind.EVENT: Arrival(event),
        Kind.TICK: Tick(),
        Kind.RETRY: Retry("nothing-held"),
        Kind.FIRE: Fire(0, "group:快闪群", 0, True),
        Kind.STEP: Step(0, "互动", "c1", 1, "n1", 0),
        Kind.TIMEOUT: Timeout(0, "互动", "c1", 1, "n2", 0),
        Kind.GROUP_STEP: GroupStep(0, "快闪群", "g/1", "n1", None, "a1"),
        Kind.CLOSE: Close(0, "快闪群", "g/1", "a1"),
        Kind.SLA_REMIND: SlaRemind(0, 0, "c1", 1, START, "a1", "阿四"),
        Kind.SLA_DEADLINE: SlaDeadline(0, 0, "c1", 1),
        Kind.SLA_ESCALATE: SlaEscalate(0, 0, "c1", 1, 0),
        Kind.FORWARDED: Forwarded(0, "k/escalate1", "a2", "c9", "及时回复", "escalation", 0, 0, "[及时回复] 请跟进"),
    }
    assert set(payloads) == set(Kind)
    for kind, due in payloads.items():
        engine._handlers[kind](due)
    # a forwarded task is requested at once, for its account only (c9 is no contact of this engine's)
    [req] = engine._pending
    assert (req.key, req.account, req.contact, req.account_only, req.counted_contact, req.task_text, req.due) == (
        "k/escalate1", "a2", "c9", True, None, "[及时回复] 请跟进", START)  # fmt: skip
    assert seen == [
        ("Engine._on_event", event),
        ("Engine._day_tick", None),
        # the retry of a touch no longer held does nothing
        ("FlowSet.fire", ("group:快闪群", 0, True)),
        ("JourneyRun.step", payloads[Kind.STEP]),
        ("JourneyRun.timed_out", payloads[Kind.TIMEOUT]),
        ("GroupRun.step", payloads[Kind.GROUP_STEP]),
        ("GroupRun.close", payloads[Kind.CLOSE]),
        ("SlaRun.remind", payloads[Kind.SLA_REMIND]),
        ("SlaRun.deadline", payloads[Kind.SLA_DEADLINE]),
        ("SlaRun.escalate", payloads[Kind.SLA_ESCALATE]),
    ]


def test_items_order_by_due_phase_order_seq_and_name_their_contact() -> None:
    step = Item(10, 3, ("c2",), 7, Step(0, "j", "c2", 1, "n1", 0))
    event = Item(10, 0, (99,), 8, Arrival(Event("message", "c1", 10, {}, 99)))
    sooner = Item(9, 4, (), 9, Retry("k", "c3", "a1"))
    same_but_later = Item(10, 3, ("c2",), 8, Timeout(0, "j", "c2", 1, "n1", 0))
    assert sorted([step, event, sooner, same_but_later]) == [sooner, event, step, same_but_later]
    assert [i.kind for i in sorted([step, event, sooner])] == [Kind.RETRY, Kind.EVENT, Kind.STEP]
    assert (step.payload.contact, event.payload.contact, sooner.payload.contact) == ("c2", "c1", "c3")
    assert sooner.payload.account == "a1" and step.payload.account is None
    assert Tick().contact is None and Fire(0, "journey:j", 0).contact is None
    assert SlaRemind(0, 0, "c1", 1, 5, "a2", "x").account == "a2"
    assert GroupStep(0, "g", "g/a1/1", "n1", None, "a1").account == "a1"


def test_a_store_row_of_an_unknown_kind_or_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown timeline item kind 'nap'"):
        loaded("nap", (), {})
    with pytest.raises(ValueError, match="'step' timeline item cannot have the fields"):
        loaded("step", ("v", "j"), {"v": 0})


def test_a_payload_is_stored_with_its_playbooks_version_and_loaded_with_its_position() -> None:
    step = Step(3, "j", "c1", 1, "n2", 0)
    assert stored(step, "pb-1") == ("pb-1", "j", "c1", 1, "n2", 0) and type(stored(step, "pb-1")) is tuple
    assert loaded("step", ("pb-1", "j", "c1", 1, "n2", 0), {"pb-1": 3}) == step
    assert loaded("step", ("pb-1", "j", "c1", 1, "n2", 0), {"pb-2": 0}) is None  # a version no longer loaded
    assert stored(Retry("k", "c1", "a1"), None) == ("k", "c1", "a1")
    assert loaded("retry", ("k",), {}) == Retry("k", None, None)
    # a store's enrolment row is a snapshot's enrolment after (version, journey)
    assert [f.name for f in dataclasses.fields(EnrolmentRow)][2:] == list(EnrolmentState._fields)


# ---- snapshots -----------------------------------------------------------------------------------------------
EVENT_TYPES = ["friend_added", "message", "staff_message", "purchase", "deleted", "joined_group", "left_group"]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Event], int]:
    """Events over four days for the six contacts and two new ones, and when to stop."""
    events = []
    for seq in range(1, draw(st.integers(0, 40)) + 1):
        kind = draw(st.sampled_from(EVENT_TYPES))
        cid = draw(st.sampled_from([c["id"] for c in CONTACTS] + ["c7", "c8"]))
        at = START + draw(st.integers(0, 4 * 86400))
        data: dict[str, Any] = {}
        if kind == "friend_added":
            data = {"account": draw(st.sampled_from(["a1", "a2"])), "name": cid}
        elif kind == "purchase":
            data = {"amount": draw(st.sampled_from([100, 2500, 4000]))}
        elif kind in ("joined_group", "left_group"):
            data = {"group": "VIP群"}
        events.append(Event(kind, cid, at, data, seq))
    return events, START + draw(st.integers(0, 5 * 86400))


def _run(events: list[Event], until: int) -> tuple[Engine, Journaler]:
    engine = _engine()
    journaler = Journaler(engine)
    engine.sink = journaler.record
    engine.activate()
    for event in sorted(events, key=lambda e: (e.at, e.seq)):
        engine.feed(event)
    engine.advance(until)
    return engine, journaler


def _changed(journaler: Journaler) -> dict[tuple[int, str], list[str]]:
    """Every item of every runner that changed since the start (all there are)."""
    items: dict[tuple[int, str], list[str]] = defaultdict(list)
    for index, runner, item in sorted(journaler.runners):
        items[index, runner].append(item)
    return items


def _snapshots(engine: Engine, items: dict[tuple[int, str], list[str]]) -> dict[tuple[int, str], list[Any]]:
    return {key: engine.flows[key[0]].runners[key[1]].snapshot(names) for key, names in items.items()}


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@given(histories())
@SETTINGS
def test_each_runner_snapshot_restores_into_a_fresh_runner(history: tuple[list[Event], int]) -> None:
    engine, journaler = _run(*history)
    items = _changed(journaler)
    before = _snapshots(engine, items)
    assert {runner.split(":")[0] for _, runner in items} <= {"journey", "group", "rotation", "standing", "sla"}
    fresh = _engine(list(engine.contacts.fields.values()), engine.contacts.deleted)  # the contacts as they are now
    fresh.resume([], dict(engine._held))  # the touches enrolments wait for, as the daemon's restore gives them
    for (index, runner), snapshots in before.items():
        fresh.flows[index].runners[runner].restore(snapshots)
    assert _snapshots(fresh, items) == before


def _stored(value: Any) -> Any:
    """A value as the store's JSON columns give it back."""
    return codec.decode(json.loads(codec.dumps(codec.encode(value))))


def _state(engine: Engine, journaler: Journaler) -> State:
    """What a store holding the journal of everything since the start would load."""
    journal = journaler.capture()
    flow_state = {key: _stored(value) for key, value in journal.flow_state.items()}
    for key in journal.flow_state_removed:
        flow_state.pop(key, None)
    timers = [TimerRow(r.seq, r.due, r.phase, _stored(r.order), r.kind, _stored(r.payload), r.version, r.shard,
                       r.account) for r in journal.timers]  # fmt: skip
    held = [row for row in journal.touches if row.state == "held"]
    return State(list(engine.contacts.fields.values()), set(engine.contacts.deleted), list(engine.contacts.accounts.values()),
                 journal.enrolments, timers, journal.counters, held, journal.groups, flow_state,
                 journal.engine_state)  # fmt: skip


@given(histories())
@SETTINGS
def test_the_engine_restored_from_its_rows_has_the_same_runners_and_timeline(history: tuple[list[Event], int]) -> None:
    engine, journaler = _run(*history)
    items = _changed(journaler)
    before = _snapshots(engine, items)
    restored, fresh = restore([PB], _state(engine, journaler), lambda record: None, start=START)
    assert not fresh
    assert _snapshots(restored, items) == before
    assert sorted(restored.items()) == sorted(engine.items())
    held = {key: (req.contact, req.reasons) for key, req in engine._held.items()}
    assert {key: (req.contact, req.reasons) for key, req in restored._held.items()} == held


# ---- timer rows as older stores hold them ---------------------------------------------------------------------------
def test_restoring_a_row_it_cannot_read_is_a_diagnostic_not_a_traceback() -> None:
    from playbook.diagnostics import PlaybookError

    rows = [TimerRow(1, START, 3, _stored(()), "nap", _stored(("x",)))]  # a kind a newer version might write
    state = State([dict(c) for c in CONTACTS], set(), [dict(a) for a in ACCOUNTS], [], rows, [], [], [], {},
                  {"clock": {"start": START, "now": START}})  # fmt: skip
    with pytest.raises(PlaybookError, match=r"timeline item 1 \(shard 0, kind 'nap'\) cannot be read") as info:
        restore([PB], state, lambda record: None, start=START)
    assert info.value.diagnostics[0].code == "store"


def test_timer_rows_of_todays_and_older_shapes_load() -> None:
    """Rows as the store has held them: `fire` without `once`, a reminder without its number,
    a retry with its key only, a group step without the instance's account."""
    v, inst = PB.version, "快闪群/a1/2026-11-30/1"
    event = Event("message", "c1", START, {"text": "在吗"}, 4)
    forwarded = (v, "k/escalate1", "a2", "c9", "及时回复", "escalation", 0, 0, "t")
    rows = [
        TimerRow(1, START, 0, (4,), "event", (event,)),
        TimerRow(2, START, 1, (), "tick", ()),
        TimerRow(3, START + 60, 4, (), "retry", ("k1",)),
        TimerRow(4, START + 60, 2, (), "fire", (v, "rotation:点赞", 0), v),
        TimerRow(5, START + 60, 2, (), "fire", (v, "group:快闪群", 0, True), v),
        TimerRow(6, START + 90, 3, ("c1",), "step", (v, "互动", "c1", 1, "n1", 0), v),
        TimerRow(7, START + 90, 3, ("c1",), "timeout", (v, "互动", "c1", 1, "n2", 0), v),
        TimerRow(8, START + 90, 3, (inst,), "group_step", (v, "快闪群", inst, "n3", ("n4",)), v),
        TimerRow(9, START + 99, 2, (), "close", (v, "快闪群", inst), v),
        TimerRow(10, START + 99, 3, (), "sla_remind", (v, 0, "c1", 3, START + 600, None, "阿四"), v),
        TimerRow(11, START + 99, 3, (), "sla_deadline", (v, 0, "c1", 3), v),
        TimerRow(12, START + 99, 3, (), "sla_escalate", (v, 0, "c1", 3, 0), v),
        TimerRow(13, START + 99, 3, (), "forwarded", forwarded, v, account="a2"),
        TimerRow(14, START + 99, 3, (), "step", ("pb-gone", "互动", "c2", 1, "n1", 0), "pb-gone"),  # not loaded: left
    ]
    rows = [TimerRow(r.seq, r.due, r.phase, _stored(r.order), r.kind, _stored(r.payload), r.version, account=r.account)
            for r in rows]  # fmt: skip
    state = State([dict(c) for c in CONTACTS], set(), [dict(a) for a in ACCOUNTS], [], rows, [], [], [], {},
                  {"clock": {"start": START, "now": START}})  # fmt: skip
    engine, fresh = restore([PB], state, lambda record: None, start=START)
    assert not fresh
    got = {item.seq: item for item in engine.items()}
    assert sorted(got) == list(range(1, 14))
    assert got[1].payload == Arrival(event) and got[1].payload.contact == "c1"
    assert got[2].payload == Tick()
    assert got[3].payload == Retry("k1") and got[3].payload.contact is None
    assert got[4].payload == Fire(0, "rotation:点赞", 0, False)
    assert got[5].payload == Fire(0, "group:快闪群", 0, True)
    assert got[6].payload == Step(0, "互动", "c1", 1, "n1", 0) and got[6].order == ("c1",)
    assert got[7].payload == Timeout(0, "互动", "c1", 1, "n2", 0)
    assert got[8].payload == GroupStep(0, "快闪群", inst, "n3", ("n4",), None)
    assert got[9].payload == Close(0, "快闪群", inst, None)
    assert got[10].payload == SlaRemind(0, 0, "c1", 3, START + 600, None, "阿四", 0)
    assert got[11].payload == SlaDeadline(0, 0, "c1", 3)
    assert got[12].payload == SlaEscalate(0, 0, "c1", 3, 0)
    assert got[13].payload == Forwarded(0, "k/escalate1", "a2", "c9", "及时回复", "escalation", 0, 0, "t")
    assert got[13].payload.contact is None and got[13].payload.account == "a2"  # the account's, not the contact's
    assert {item.kind for item in got.values()} == set(Kind)
    # and written again, they are the rows they were (the playbook named by its version)
    journaler = Journaler(engine)
    again = {item.seq: journaler._timer_row(item) for item in got.values()}
    for row in rows[:13]:
        new = again[row.seq]
        assert (new.due, new.phase, new.order, new.kind, new.version) == (row.due, row.phase, row.order, row.kind,
                                                                          row.version)  # fmt: skip
        assert new.payload[: len(row.payload)] == row.payload  # later fields at their defaults
        assert (row.kind in IN_FLOW) == (new.version is not None)
