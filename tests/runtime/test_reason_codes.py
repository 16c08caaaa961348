"""Reasons in the store are a code and its arguments (revision 0007), beside the English text
people and SQL read: touches (`reason_code`, `reason_args`), held requests (their JSON) and
exits (the state event's columns). A store written before keeps its rows as they are; they
are read back through the templates, and explain says the same of them as of new rows."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.cli.explain import _enrolment_text
from playbook.compiler import ir
from playbook.i18n import set_language
from playbook.runtime.codec import UTCDateTime, Value
from playbook.runtime.explain import explain, touch_sentence
from playbook.runtime.rows import EnrolmentRow, Journal, TouchRow
from playbook.runtime.store import Store
from playbook.vocab import reasons
from playbook.vocab.model import StateEvent, Touch, TouchRequest
from playbook.vocab.reasons import CODES, EXIT_CODES, Reason
from tests.runtime.test_explain import NOW, PB, T0, H, M, V

QUIET = Reason("quiet_hours", start="22:00", end="08:00")
LIMIT = reasons.limit("dm", 1, "contact", "day")
EXIT = reasons.exit_on("purchase")


class _Program:  # what TouchRow.held needs of an engine Program
    version = V


def _touches_of(cid: str) -> list[TouchRow]:
    """A deferred, a skipped and a held touch of `cid`, with the engine's reasons."""

    def made(key: str, at: int, due: int, outcome: str, reason: Reason) -> TouchRow:
        return TouchRow.from_touch(Touch(at=at, due=due, channel="dm", account="a1", flow="高价值关怀", step="dm 关怀",
                                         content="关怀", text="阿四，好久不见", outcome=outcome, reason=reason, version=V,
                                         key=f"{cid}/{key}", contact=cid))  # fmt: skip

    held = TouchRequest(due=T0 + 36 * H, channel="dm", account="a1", flow="问价", step="dm 关怀", step_order=1,
                        priority=1.0, program=_Program(), key=f"{cid}/held", contact=cid, content="关怀",
                        reasons=[QUIET, LIMIT], cancelled=reasons.exited(EXIT))  # fmt: skip
    return [made("deferred", T0 + 23 * H, T0 + 13 * H + 30 * M, "deferred", reasons.joined([LIMIT, QUIET])),
            made("skipped", T0 + 24 * H, T0 + 24 * H, "skipped", LIMIT), TouchRow.held(held)]  # fmt: skip


def _exit_of(cid: str) -> list[StateEvent]:
    return [StateEvent(T0 + H, "enter", cid, "高价值关怀", {"n": 1}, V),
            StateEvent(T0 + 2 * H, "exit", cid, "高价值关怀", {"reason": EXIT}, V)]  # fmt: skip


def _people(store: Store) -> None:
    store.write(Journal(
        accounts=[{"id": "a1", "name": "小美"}],
        contacts=[{"id": cid, "name": "阿四", "account": "a1"} for cid in ("old", "new")],
        enrolments=[EnrolmentRow(V, "高价值关怀", cid, 1, T0 + H, status="exited", epoch=1) for cid in ("old", "new")],
    ))  # fmt: skip


# The tables as revision 0006 had them (before the reasons' codes): what an old daemon wrote.
_OLD_TOUCHES = sa.table(
    "touches", *(sa.column(name) for name in ("key", "version", "flow", "step", "channel", "account", "contact",
                                               "due", "at", "content", "text", "outcome", "reason", "state",
                                               "next_attempt_at")),
    sa.column("request", Value), sa.column("created_at", UTCDateTime), sa.column("updated_at", UTCDateTime),
)  # fmt: skip
_OLD_STATE_EVENTS = sa.table("state_events", *(sa.column(n) for n in ("at", "type", "contact", "flow", "version")),
                             sa.column("data", Value))  # fmt: skip


def _write_as_before(store: Store, cid: str) -> None:
    """The rows of `cid` in the shape a store of revision 0006 has them: reasons as English
    text, in the ledger, in held requests' JSON and in exits' data."""
    now = dt.datetime.now(dt.UTC)
    rows = []
    for row in _touches_of(cid):
        request = row.request
        if request is not None:
            request = {**request, "reasons": [str(r) for r in row.held_reasons()], "cancelled": str(row.cancelled())}
        rows.append({"key": row.key, "version": row.version, "flow": row.flow, "step": row.step,
                     "channel": row.channel, "account": row.account, "contact": row.contact, "due": row.due,
                     "at": row.at, "content": row.content, "text": row.text, "outcome": row.outcome,
                     "reason": str(row.reason), "state": row.state, "next_attempt_at": row.next_attempt_at,
                     "request": request, "created_at": now, "updated_at": now})  # fmt: skip
    events = [{"at": e.at, "type": e.type, "contact": e.contact, "flow": e.flow, "version": e.version,
               "data": {k: str(v) if k == "reason" else v for k, v in e.data.items()}} for e in _exit_of(cid)]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(sa.insert(_OLD_TOUCHES), rows)
        conn.execute(sa.insert(_OLD_STATE_EVENTS), events)


@pytest.fixture
def upgraded(open_store: Callable[..., Store]) -> Iterator[Store]:
    """A store of revision 0006 with the rows of contact "old", upgraded; then the same rows
    of contact "new" written by this version."""
    store = open_store()
    store.migrate("0006")
    store.save_version(ir.to_doc(PB))
    store.activate_version(V)
    _write_as_before(store, "old")
    store.migrate()
    _people(store)  # accounts, contacts and enrolments as this version writes them (their shape is not the point)
    assert store.revision() == store.head()
    store.write(Journal(touches=_touches_of("new"), state_events=_exit_of("new")))
    yield store
    set_language("en")


def _codes(store: Store, table: str, cid: str) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        t = sa.table(table, sa.column("contact"), sa.column("reason_code"), sa.column("reason_args", sa.JSON))
        query = sa.select(t.c.reason_code, t.c.reason_args).where(t.c.contact == cid, t.c.reason_code.is_not(None))
        return sorted((code, json.dumps(args, sort_keys=True)) for code, args in conn.execute(query))


def test_an_old_store_upgraded_reads_its_reasons_and_new_rows_carry_codes(upgraded: Store) -> None:
    assert _codes(upgraded, "touches", "old") == [] and _codes(upgraded, "state_events", "old") == []
    assert [code for code, _ in _codes(upgraded, "touches", "new")] == ["limit", "several", "several"]
    assert _codes(upgraded, "state_events", "new") == [("exit_on", '{"event": "purchase"}')]
    ledger = {row.key: row for row in upgraded.touches()}
    held = {row.key: row for row in upgraded.load_state().held}
    for cid in ("old", "new"):
        deferred, skipped, waiting = ledger[f"{cid}/deferred"], ledger[f"{cid}/skipped"], held[f"{cid}/held"]
        assert (deferred.reason.code, skipped.reason.code, waiting.reason.code) == ("several", "limit", "several")
        assert [r.code for r in deferred.reason.args["parts"]] == ["limit", "quiet_hours"]
        # from the codes, the arguments as the engine gave them; from the text, as the text has them
        count = 1 if cid == "new" else "1"
        assert skipped.reason.args == {"channel": "dm", "count": count, "scope": "contact", "period": "day"}
        assert [(r.code, str(r)) for r in waiting.held_reasons()] == [(r.code, str(r)) for r in (QUIET, LIMIT)]
        assert waiting.held_reasons()[1].args["count"] == count
        assert (waiting.cancelled().code, waiting.cancelled().args["why"].code) == ("exited", "exit_on")
        if cid == "new":
            assert repr(deferred.reason) == repr(reasons.joined([LIMIT, QUIET]))
            assert [repr(r) for r in waiting.held_reasons()] == [repr(QUIET), repr(LIMIT)]
        (exit_event,) = upgraded.state_events(contact=cid, types=["exit"])
        assert repr(exit_event.data["reason"]) == repr(EXIT)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explain_says_the_same_of_old_and_new_rows(upgraded: Store, lang: str) -> None:
    set_language(lang)
    said = {}
    for cid in ("old", "new"):
        doc = explain(upgraded, cid, now=NOW)
        (care,) = [j for j in doc["journeys"] if j["journey"] == "高价值关怀"]
        touches = {x["key"].split("/", 1)[1]: x for x in doc["touches"]}
        said[cid] = (
            {key: touch_sentence(x) for key, x in touches.items()},
            _enrolment_text(care["enrolments"][0]),
            json.dumps({key: (x["reason"], x["held_reasons"]) for key, x in touches.items()}, ensure_ascii=False),
            json.dumps(care["enrolments"], ensure_ascii=False),
        )
    assert said["old"] == said["new"]
    sentences, exit_text, reasons_json, _ = said["new"]
    if lang == "en":
        assert sentences == {
            "deferred": "deferred from 2026-12-01 22:30 to 2026-12-02 08:00 by limit dm 1 per contact per day; "
            "quiet hours 22:00-08:00; waiting to go out at 2026-12-02 08:00",
            "skipped": "skipped: limit dm 1 per contact per day",
            "held": "held since 2026-12-02 21:00: quiet hours 22:00-08:00; limit dm 1 per contact per day",
        }
        assert exit_text == "#1 entered 2026-12-01 10:00 · exited the journey (exit on purchase) 2026-12-01 11:00"
    else:
        assert sentences["skipped"] == "已跳过：频次限制：每个联系人每天最多 1 条私聊"
        assert (
            sentences["held"]
            == "从 2026-12-02 21:00 起暂缓：免打扰时段 22:00-08:00；频次限制：每个联系人每天最多 1 条私聊"
        )
    assert json.loads(reasons_json) == {  # the JSON keeps the English text, in every language
        "deferred": ["limit dm 1 per contact per day; quiet hours 22:00-08:00", []],
        "skipped": ["limit dm 1 per contact per day", []],
        "held": ["quiet hours 22:00-08:00; limit dm 1 per contact per day",
                 ["quiet hours 22:00-08:00", "limit dm 1 per contact per day"]],
    }  # fmt: skip


# ---- every code, with any arguments, through the store and back -----------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def _fields(code: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(CODES[code].english) if name]


def _of(codes: list[str], why: st.SearchStrategy[Reason] | None) -> st.SearchStrategy[Reason]:
    def one(code: str) -> st.SearchStrategy[Reason]:
        args = {name: (st.integers(0, 10**9) | _TEXT) if name == "count" else why if name == "why" else _TEXT
                for name in _fields(code)}  # fmt: skip
        return st.fixed_dictionaries(args).map(lambda a: Reason(code, **a))  # type: ignore[arg-type]

    return st.one_of([one(code) for code in codes])


_EXITS = _of([c for c in EXIT_CODES], None)
_SINGLE = _of([c for c in CODES if c not in EXIT_CODES or c in ("rejected", "replaced")], _EXITS) | _EXITS
_ANY = (
    _SINGLE
    | st.lists(_SINGLE, min_size=2, max_size=3).map(reasons.joined)
    | _TEXT.map(lambda x: Reason("other", text=x))
)


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('codes') / 'p.db'}")
    store.migrate()
    store.save_version({"version": V, "name": "p"})
    yield store
    store.close()


def _same(got: Any, want: Reason) -> None:
    assert isinstance(got, Reason)
    assert (got.code, str(got)) == (want.code, str(want))
    assert repr(got) == repr(want)  # the arguments, nested reasons and their types too


_KEYS = itertools.count()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reason=_ANY, second=_SINGLE)
def test_every_code_comes_back_from_the_store(sqlite_store: Store, reason: Reason, second: Reason) -> None:
    """For any code with any arguments (no text a template could not read back is off
    limits): the ledger's row, a held request and a state event give the same Reason —
    code, arguments, English text — and the text column is that text."""
    key = f"k{next(_KEYS)}"
    touch = TouchRow(key=key, version=V, flow="f", step="s", channel="dm", due=T0, state="skipped",
                     contact=key, outcome="skipped", reason=reason)  # fmt: skip
    held = TouchRow.held(TouchRequest(due=T0, channel="dm", account="a1", flow="f", step="s", step_order=1, priority=1,
                                      program=_Program(), key=key + "h", reasons=[reason, second], cancelled=reason))  # fmt: skip
    event = StateEvent(T0, "exit", key, "f", {"reason": reason, "n": 1}, V)
    sqlite_store.write(Journal(touches=[touch, held], state_events=[event]))
    (back,) = sqlite_store.touches(keys=[key])
    _same(back.reason, reason)
    (row,) = [r for r in sqlite_store.load_state().held if r.key == key + "h"]
    for got, want in zip(row.held_reasons(), [reason, second], strict=True):
        _same(got, want)
    _same(row.cancelled(), reason)
    _same(row.reason, reasons.joined([reason, second]))
    (stored,) = sqlite_store.state_events(contact=key)
    _same(stored.data["reason"], reason)
    with sqlite_store.engine.connect() as conn:
        text = conn.execute(sa.text("SELECT reason FROM touches WHERE key = :k"), {"k": key}).scalar_one()
    assert text == str(reason)
