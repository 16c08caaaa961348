"""A segment membership is looked at again only when an event changed a field the segment
reads (engine/expr.py `fields_read`): a change to any other field must leave every
segment's answer as it was."""

from __future__ import annotations

import datetime as dt
from typing import Any

from conftest import GOLDEN, ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.compiler import compile_path, ir
from playbook.engine.expr import Scope, fields_read, segment_table
from playbook.vocab.localtime import LocalTime
from playbook.vocab.values import DateValue, Instant

PATHS = sorted((ROOT / "playbooks").glob("*.pb")) + sorted((GOLDEN / "plan").glob("*/*.pb"))
CLOCK = LocalTime("Asia/Shanghai")
NOW = CLOCK.instant(dt.datetime(2026, 12, 5, 12, 0))


def segments() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    out = []
    for path in PATHS:
        result = compile_path(path)
        if not result.ok:
            continue
        docs = {k: ir.to_doc(v.expr) for k, v in result.playbook.segments.items()}
        out += [(f"{path.name}:{k}", doc, docs) for k, doc in docs.items()]
    return out


SEGMENTS = segments()
FIELDS = ["orders", "spent", "city", "tags", "added_at", "last_active_at", "last_purchase_at", "name", "account",
          "source", "vip", "level", "birthday", "gender", "favourite"]  # fmt: skip
VALUES = st.one_of(
    st.none(),
    st.integers(-5, 10_000),
    st.floats(0, 10_000, allow_nan=False),
    st.sampled_from(["上海", "杭州", "水果", "a1", "a2", "", "VIP"]),
    st.booleans(),
    st.integers(NOW - 40 * 86400, NOW).map(Instant),
    st.integers(NOW - 40 * 86400, NOW).map(lambda t: DateValue(CLOCK.midnight(CLOCK.date_of(t)))),
    st.frozensets(st.sampled_from(["VIP", "SVIP", "宝妈", "水果", "老客", "到店过"])),
)


def test_there_are_segments() -> None:
    assert len(SEGMENTS) >= 10


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(SEGMENTS), st.dictionaries(st.sampled_from(FIELDS), VALUES), st.sampled_from(FIELDS), VALUES)
def test_other_fields_leave_the_answer(segment: tuple, contact: dict[str, Any], field: str, value: Any) -> None:
    name, doc, docs = segment
    fields = fields_read(doc, docs)
    if fields is None or field in fields or (field == "tags" and not isinstance(value, frozenset)):
        return
    if not isinstance(contact.get("tags", frozenset()), frozenset):
        del contact["tags"]  # tags are a set in the engine
    table = segment_table({k: {"expr": v} for k, v in docs.items()}, CLOCK)
    from playbook.engine.expr import Compiler

    predicate = Compiler(CLOCK, table).compile(doc)
    accounts = {"a1": {"id": "a1", "name": "小美", "city": "上海"}, "a2": {"id": "a2"}}
    before = predicate(Scope(contact, accounts.get(contact.get("account")), None, NOW))
    changed = {**contact, field: value}
    after = predicate(Scope(changed, accounts.get(changed.get("account")), None, NOW))
    assert before == after, (name, field)
