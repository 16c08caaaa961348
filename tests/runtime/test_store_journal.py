"""The journal: engine-state changes written in one transaction and loaded back whole."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from playbook.runtime.rows import CounterRow, EnrolmentRow, GroupRow, Journal, TimerRow, TouchRow
from playbook.runtime.store import Store, StoreError
from playbook.vocab import reasons
from playbook.vocab.model import Event, Touch, TouchRequest
from playbook.vocab.reasons import Reason
from playbook.vocab.values import DateValue, Instant

V1, V2 = "pb-000000000001", "pb-000000000002"
T0 = 1796086800  # 2026-12-01 09:00 +08:00


class _Program:  # what TouchRow.held needs of an engine Program
    version = V1


def _journal() -> Journal:
    event = Event("purchase", "c1", T0, {"amount": 3149.0, "tags": frozenset({"SVIP"})}, 12)
    held = TouchRequest(due=T0 + 60, channel="dm", account="a1", flow="新客", step='dm "欢迎"', step_order=2,
                        priority=1.5, program=_Program(), key=f"{V1}/新客/c1/n2/1", contact="c1", content="欢迎",
                        event={"type": "purchase", "amount": 3149.0}, origin=("journey", 0, "新客", "c1", 1, "n2", 0),
                        reasons=[Reason("quiet_hours", start="22:00", end="08:00")])  # fmt: skip
    sent = Touch(at=T0, due=T0, channel="dm", account="a1", flow="新客", step='dm "你好"', content="你好",
                 text="阿四你好", outcome="ok", reason="", version=V1, key=f"{V1}/新客/c1/n1/1", contact="c1",
                 parts={"images": ["https://x/1.png"], "title": "t"})  # fmt: skip
    skipped = Touch(at=T0, due=T0, channel="moment", account="a1", flow="朋友圈", step="post", content="上新",
                    text="", outcome="skipped", reason=reasons.NO_AUDIENCE, version=V1,
                    key=f"{V1}/朋友圈/a1/0/2026-12-01T09:00", audience=[])  # fmt: skip
    return Journal(
        contacts=[
            {
                "id": "c1",
                "name": "阿四",
                "account": "a1",
                "tags": frozenset({"SVIP", "水果"}),
                "spent": 12800,
                "added_at": Instant(T0 - 86400),
                "birthday": DateValue(T0 - 3600 * 9),
                "vip": True,
                "ratio": 0.25,
            },
            {"id": "c2", "name": "白一", "account": "a2"},
        ],  # fmt: skip
        deleted_contacts={"c2"},
        accounts=[{"id": "a1", "name": "小美", "city": "上海"}, {"id": "a2", "name": "阿杰"}],
        enrolments=[
            EnrolmentRow(
                V1,
                "新客",
                "c1",
                1,
                T0,
                event={"type": "purchase", "at": Instant(T0)},
                arms={"n4": "B"},
                wait="n5",
                touch=held.key,
                goal_at=T0 + 3600,
                segments=["SVIP", "老客"],
            ),  # fmt: skip
            EnrolmentRow(V1, "新客", "c2", 1, T0, status="exited", epoch=1),
            EnrolmentRow(V2, "回访", "c1", 2, T0 + 5, status="done"),
        ],
        timers=[
            TimerRow(1, T0, 0, (12,), "event", (event,)),
            TimerRow(2, T0, 1, (), "tick", ()),
            TimerRow(3, T0 + 60, 3, ("c1",), "step", (0, "新客", "c1", 1, "n3", 0), V1, 5, "a1"),
            TimerRow(
                4,
                T0 + 90,
                3,
                ("g/a1/2026-12-01/1",),
                "group_step",
                (0, "快闪群", "g/a1/2026-12-01/1", "n2", ("n7", "n8")),
                V1,
                5,
                "a1",
            ),  # fmt: skip
            TimerRow(5, T0 + 120, 4, (), "retry", (held.key,), V1, 5, "a1"),
            TimerRow(6, T0 + 150, 3, (), "sla_remind", (0, 0, "c1", 3, T0 + 600, None, "阿四"), V2),
        ],
        counters=[
            CounterRow(V1, "dm per contact per day", "c1", T0 - 32400, T0 + 54000, 1),
            CounterRow("platform", "dm per contact per month", "a1", T0 - 32400, T0 + 54000, 7),
        ],
        touches=[TouchRow.held(held), TouchRow.from_touch(sent), TouchRow.from_touch(skipped)],
        groups=[GroupRow(V1, "快闪群/a1/2026-12-01/1", "快闪群", "a1", T0, T0 + 86400, ["c1", "c3"], closed=True)],
        flow_state={
            (V1, "rotation:回访", ""): {"cycle": 2, "first_day": "2026-12-01"},
            (V1, "rotation:回访", "a1"): ["c3", "c1"],
            (V1, "rotation:回访", "placed"): {"c1", "c3"},
            (V2, "sla:0", "open"): {"c1": (T0, T0 + 600, 3)},
            (V1, "journey:新客", "matching"): {"c1"},
        },
    )


def _save_versions(store: Store) -> None:
    for v in (V1, V2):
        store.save_version({"version": v, "name": v})


def test_journal_round_trip(store: Store) -> None:
    _save_versions(store)
    journal = _journal()
    store.write(journal)
    state = store.load_state()
    assert state.contacts == journal.contacts and state.deleted_contacts == {"c2"}
    assert type(state.contacts[0]["birthday"]) is DateValue and type(state.contacts[0]["added_at"]) is Instant
    assert state.accounts == journal.accounts
    assert state.enrolments == sorted(journal.enrolments, key=lambda e: e.key)
    assert state.timers == journal.timers
    assert state.counters == sorted(journal.counters, key=lambda c: c.key)
    (held,) = state.held
    expected = journal.touches[0]
    assert (held.key, held.state, held.request) == (expected.key, "held", expected.request)
    assert held.request["origin"] == ("journey", 0, "新客", "c1", 1, "n2", 0)
    assert held.request["event"] == {"type": "purchase", "amount": 3149.0}
    assert [repr(r) for r in held.held_reasons()] == ["Reason('quiet_hours', {'start': '22:00', 'end': '08:00'})"]
    assert (held.reason, held.reason.code) == ("quiet hours 22:00-08:00", "quiet_hours")
    assert state.groups == journal.groups
    assert state.flow_state == journal.flow_state
    ledger = {t.key: t for t in store.touches()}
    sent = ledger[journal.touches[1].key]
    assert (sent.state, sent.next_attempt_at, sent.text, sent.parts) == (
        "pending",
        T0,
        "阿四你好",
        journal.touches[1].parts,
    )
    skipped = ledger[journal.touches[2].key]
    assert (skipped.state, skipped.reason, skipped.audience, skipped.next_attempt_at) == (
        "skipped", "no contact can see it", [], None)  # fmt: skip
    assert skipped.reason.code == "no_audience"


def test_load_state_of_some_versions(store: Store) -> None:
    _save_versions(store)
    store.write(_journal())
    state = store.load_state(versions=[V2])
    assert [e.key for e in state.enrolments] == [(V2, "回访", "c1", 2)]
    assert [t.seq for t in state.timers] == [1, 2, 6]  # the engine's own timers (no version) come along
    assert [c.scope for c in state.counters] == ["platform"]
    assert state.held == [] and state.groups == []
    assert list(state.flow_state) == [(V2, "sla:0", "open")]
    assert len(state.contacts) == 2  # contacts are shared by every version


def test_journal_updates_and_removals(store: Store) -> None:
    _save_versions(store)
    first = _journal()
    store.write(first)
    enrolment = first.enrolments[0]
    enrolment.status, enrolment.wait, enrolment.touch = "done", None, None
    held_row = first.touches[0]
    went_out = TouchRow(**{**{f: getattr(held_row, f) for f in held_row.__slots__}, "state": "pending", "at": T0 + 120,
                           "next_attempt_at": T0 + 120, "outcome": "deferred", "request": None})  # fmt: skip
    changes = Journal(
        contacts=[{"id": "c2", "name": "白一", "account": "a2"}],  # re-added: no longer deleted
        enrolments=[enrolment],
        enrolments_removed=[(V1, "新客", "c2", 1)],
        timers=[TimerRow(7, T0 + 200, 3, ("c1",), "step", (0, "新客", "c1", 1, "n6", 0), V1)],
        timers_removed=[1, 2, 5],
        counters=[CounterRow(V1, "dm per contact per day", "c1", T0 - 32400, T0 + 54000, 2)],
        counters_removed=[("platform", "dm per contact per month", "a1", T0 - 32400)],
        touches=[went_out],
        groups=[GroupRow(V1, "快闪群/a1/2026-12-01/1", "快闪群", "a1", T0, T0 + 86400, ["c1", "c3"], True, True)],
        flow_state={(V1, "rotation:回访", "a1"): ["c1"]},
        flow_state_removed=[(V1, "journey:新客", "matching")],
    )
    store.write(changes)
    state = store.load_state()
    assert state.deleted_contacts == set()
    assert [(e.key, e.status, e.wait) for e in state.enrolments] == [
        ((V1, "新客", "c1", 1), "done", None), ((V2, "回访", "c1", 2), "done", None)]  # fmt: skip
    assert [t.seq for t in state.timers] == [3, 4, 6, 7]
    assert [(c.scope, c.count) for c in state.counters] == [(V1, 2)]
    assert state.held == []
    assert store.touches(keys=[held_row.key])[0].state == "pending"
    assert state.groups[0].dissolved
    assert state.flow_state[(V1, "rotation:回访", "a1")] == ["c1"]
    assert (V1, "journey:新客", "matching") not in state.flow_state


def test_the_engine_never_overwrites_a_touch_a_dispatcher_took(store: Store) -> None:
    _save_versions(store)
    journal = _journal()
    store.write(journal)
    key = journal.touches[1].key
    assert [r.key for r in store.claim_due(T0, owner="p1")] == [key]
    again = TouchRow.from_touch(Touch(at=T0, due=T0, channel="dm", account="a1", flow="新客", step="x", content=None,
                                      text="changed", outcome="ok", reason="", version=V1, key=key))  # fmt: skip
    store.write(Journal(touches=[again]))
    (row,) = store.touches(keys=[key])
    assert (row.state, row.text, row.owner) == ("sending", "阿四你好", "p1")


def test_a_failed_journal_changes_nothing(store: Store) -> None:
    _save_versions(store)
    bad = Journal(timers=[TimerRow(1, T0, 0, (), "tick", ())],
                  enrolments=[EnrolmentRow("pb-not-saved", "j", "c1", 1, T0)])  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError):  # the version is not saved (foreign key)
        store.write(bad)
    assert store.load_state().timers == []


def test_sequences_for_timers(store: Store) -> None:
    store.write(Journal(timers=[TimerRow(41, T0, 1, (), "tick", ())]))
    first = store.reserve_seqs(100)
    assert first == 42
    assert store.reserve_seqs(10) == 142
    assert store.reserve_seqs(1, name="other") == 42  # a new sequence starts after the timers


def test_counters_are_pruned_by_period_end(store: Store) -> None:
    _save_versions(store)
    store.write(
        Journal(
            counters=[
                CounterRow(V1, "dm per contact per day", "c1", 0, 100, 1),
                CounterRow(V1, "dm per contact per day", "c1", 100, 200, 2),
            ]
        )
    )
    assert store.prune_counters(before=100) == 1
    assert [c.period_start for c in store.load_state().counters] == [100]


def test_store_errors_name_the_database(tmp_path) -> None:
    store = Store(str(tmp_path / "missing-dir" / "p.db"))
    with pytest.raises(StoreError, match="p.db"):
        store.load_state()
