"""`plan --format json` writes touches by hand (plan/jsonlines.py, `TouchLines`) for speed: the
bytes must be exactly those of the generic writer it replaced — `json` with sorted keys
and `ensure_ascii=False` over `touch_json` — on every scenario, on the shared examples,
and on touches made of awkward strings."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
from conftest import GOLDEN, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.engine.columns import Audience, Columns
from playbook.engine.core import Contacts
from playbook.plan.contract import Dump, IsoTimes, event_json, events_in_order, json_head, touch_json
from playbook.plan.jsonlines import EventLines, TouchLines
from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, PlanResult, run_plan
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import StateEvent, Touch

DUMP = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def reference_json(result: PlanResult) -> str:
    """The writer as it was before TouchLines: every line through `json`."""
    out = io.StringIO()
    clock = result.clock
    head = json_head(result)
    out.write("{\n")
    for key in sorted(head):
        out.write(f"  {DUMP(key)}: {DUMP(head[key])},\n")
    when = IsoTimes(clock)
    sections: list[tuple[str, Iterable[dict[str, Any]]]] = [
        ("events", (event_json(e, clock) for e in events_in_order(result))),
        ("touches", (touch_json(x, when) for x in result.touches)),
    ]
    for number, (name, items) in enumerate(sections):
        out.write(f"  {DUMP(name)}: [")
        separator = "\n"
        for item in items:
            out.write(f"{separator}    {DUMP(item)}")
            separator = ",\n"
        out.write("\n  ]" if separator != "\n" else "]")
        out.write(",\n" if number + 1 < len(sections) else "\n")
    out.write("}\n")
    return out.getvalue()


def scenario_inputs() -> list[tuple[str, PlanInput]]:
    cases = []
    for d in sorted((GOLDEN / "plan").iterdir()):
        if not (d / "expected.txt").exists():
            continue
        head = [line.split(None, 1) for line in (d / "expected.txt").read_text(encoding="utf-8").splitlines()]
        opts = {k[1:]: v.strip() for k, v in (x for x in head if len(x) == 2) if k in ("@start", "@days", "@playbooks")}
        paths = [str(d / p) for p in opts.get("playbooks", "playbook.pb").split()]
        optional = {k: str(d / f) for k, f in (("accounts", "accounts.csv"), ("events", "events.jsonl"))
                    if (d / f).exists()}  # fmt: skip
        cases.append((d.name, PlanInput(paths=paths, contacts=str(d / "contacts.csv"), start=opts.get("start"),
                                        days=int(opts.get("days", 7)), **optional)))  # fmt: skip
    data = ROOT / "playbooks"
    examples = [str(data / f"{n}.pb") for n in ("moments_and_service", "new_customer", "presale_group")]
    cases.append(("examples", PlanInput(paths=examples, contacts=str(data / "contacts.csv"),
                                        accounts=str(data / "accounts.csv"), events=str(data / "events.jsonl"),
                                        start="2026-12-01 00:00", days=30)))  # fmt: skip
    return cases


@pytest.mark.parametrize(("name", "spec"), scenario_inputs(), ids=lambda x: x if isinstance(x, str) else "")
def test_same_bytes_as_the_generic_writer(name: str, spec: PlanInput) -> None:
    result = run_plan(spec)
    assert result.touches, name
    assert to_json(result) == reference_json(result)


# ---- awkward strings ------------------------------------------------------------------------------

CLOCK = LocalTime("Asia/Shanghai")
TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"', "\\", "\n", "\x00", "\x1f", "\x7f", "\u2028", "😀", "小美", "", 'a"b\\c\td', "{name}", "null"]
)
MAYBE = st.none() | TEXT
ODD = st.integers(-5, 5) | st.booleans() | st.floats(allow_nan=False) | st.just(["x"])  # what json still writes
# One column of ids for every audience in a test, as in a plan (rows always name the same ids).
IDS = ["c2", "c1", 'c"3', "c\\4", "小5", "c\n6", "c7", "😀8", "c10"]  # not in id order


PLAIN = ["c07", "c02", "c10", "c01", "c99", "c03"]  # ASCII of one width: the lists are put together by numpy


def _columns(ids: list[str]) -> Columns:
    contacts = Contacts()
    for cid in ids:
        contacts.upsert({"id": cid})
    return Columns(contacts)


COLUMNS, PLAIN_COLUMNS = _columns(IDS), _columns(PLAIN)


@st.composite
def touches(draw: st.DrawFn) -> Touch:
    def text() -> Any:
        return draw(TEXT | ODD) if draw(st.integers(0, 30)) == 0 else draw(TEXT)

    audience = None
    if draw(st.booleans()):
        columns = COLUMNS if draw(st.booleans()) else PLAIN_COLUMNS
        rows = sorted(draw(st.sets(st.integers(0, columns.n - 1))))
        audience = Audience(np.array(rows, dtype=np.int64), columns)  # type: ignore[arg-type]
    parts = draw(st.none() | st.dictionaries(st.sampled_from(["title", "desc", "link", "images"]), TEXT, max_size=3))
    if parts and "images" in parts:
        parts["images"] = draw(st.lists(TEXT, max_size=3))
    return Touch(
        at=draw(st.integers(1_700_000_000, 1_700_100_000)),
        due=draw(st.integers(1_700_000_000, 1_700_100_000)),
        channel=text(),
        account=draw(MAYBE) if draw(st.booleans()) else draw(st.sampled_from(["a1", "a2"])),
        flow=text(),
        step=text(),
        content=draw(MAYBE),
        text=text(),
        outcome=text(),
        reason=text(),
        version="v",
        key=text(),
        contact=draw(MAYBE),
        group=draw(MAYBE),
        audience=audience,
        parts=parts,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(touches(), min_size=1, max_size=6))
def test_touch_lines_match_json(items: list[Touch]) -> None:
    when = IsoTimes(CLOCK)
    lines, binary = TouchLines(when, DUMP), TouchLines(when, DUMP, binary=True)
    for t in items:  # one writer for all: its caches must not leak between touches
        assert lines(t) == DUMP(touch_json(t, when))
        assert binary(t) == lines(t)  # the audience as bytes, for a shard's file
        assert json.loads(lines(t))["key"] == t.key


def test_touch_lines_know_every_key() -> None:
    """A key that touch_json gains must be taught to TouchLines too (this list with it)."""
    full = Touch(at=1_700_000_000, due=1_700_000_000, channel="moment", account="a1", flow="f", step="s",
                 content="c", text="t", outcome="ok", reason="", version="v", key="k", contact="c1", group="g",
                 audience=Audience(np.array([0], dtype=np.int64), COLUMNS), parts={"title": "x"})  # type: ignore[arg-type]  # fmt: skip
    assert sorted(touch_json(full, IsoTimes(CLOCK))) == ["account", "at", "audience", "channel", "contact", "content",
                                                      "due", "flow", "group", "key", "outcome", "parts", "reason",
                                                      "step", "text"]  # fmt: skip
    assert TouchLines(IsoTimes(CLOCK), DUMP)(full) == DUMP(touch_json(full, IsoTimes(CLOCK)))


@st.composite
def state_events(draw: st.DrawFn) -> StateEvent:
    keys = st.sampled_from(["n", "reason", "deadline", "closes", "group", "members", "tag", "waited_seconds", "arm",
                            "amount", "simulated", "at", "type", "contact", "flow", "odd"]) | TEXT  # fmt: skip
    values = (st.integers(-5, 2_000_000_000) | TEXT | st.booleans() | st.none() | st.floats() | JSONISH
              | st.just(object()))  # fmt: skip
    return StateEvent(
        at=draw(st.integers(1_700_000_000, 1_700_100_000)),
        type=draw(TEXT | ODD) if draw(st.integers(0, 20)) == 0 else draw(st.sampled_from(["enter", "sla_met"])),
        contact=draw(MAYBE),
        flow=draw(MAYBE | st.integers(0, 3)),
        data=draw(st.dictionaries(keys, values, max_size=5)),
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(state_events(), min_size=1, max_size=8))
def test_event_lines_match_json(items: list[StateEvent]) -> None:
    when = IsoTimes(CLOCK)
    lines = EventLines(CLOCK, when, DUMP)
    for e in items:  # one writer for all: its caches must not leak between events
        try:
            want = DUMP(event_json(e, CLOCK, when))
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                lines(e)
            continue
        assert lines(e) == want


def test_event_lines_of_a_plan_match_json() -> None:
    books = ROOT / "playbooks"
    result = run_plan(PlanInput([str(books / n) for n in ("new_customer.pb", "moments_and_service.pb", "presale_group.pb")],
                                str(books / "contacts.csv"), str(books / "accounts.csv"), str(books / "events.jsonl"),
                                start="2026-12-01 00:00", days=30, simulate={"purchase": 0.3, "reply": 0.3}, seed=1))  # fmt: skip
    when = IsoTimes(result.clock)
    lines = EventLines(result.clock, when, DUMP)
    events = events_in_order(result)
    assert {e.type for e in events} >= {"enter", "exit", "goal", "sla_started", "group_opened", "purchase"}
    assert [lines(e) for e in events] == [DUMP(event_json(e, result.clock, when)) for e in events]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSONISH | st.just({"x": object()}) | st.just([1, {2: "a"}]), min_size=1, max_size=8))
def test_dump_is_json_encode(values: list[Any]) -> None:
    """One encoder for every line gives what a new JSONEncoder gives, errors included."""
    dump = Dump()
    for value in values:
        try:
            want = DUMP(value)
        except TypeError as exc:
            with pytest.raises(TypeError, match=str(exc)):
                dump(value)
            continue
        assert dump(value) == want
