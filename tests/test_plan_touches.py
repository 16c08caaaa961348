"""A plan's touches as the engine made them, singles and runs (plan/touches.py): in the
order, the lines and the counts of the same touches made one by one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from playbook.plan.contract import Dump, IsoTimes
from playbook.plan.jsonlines import BLOCK, TouchLines
from playbook.plan.run import count_touches
from playbook.plan.touches import PlannedTouches, _contact_ranks, touches_of
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import OK, SKIPPED, Touch, TouchRequest, TouchRun

CLOCK = LocalTime("Asia/Shanghai")
T0 = 1_796_083_200  # 2026-12-01 08:00 +08:00
PLAYBOOK = SimpleNamespace(version="v1")
IDS = ["c1", "c10", "c2", "c1/", "c1!", "中", 'c"q', ""]


@st.composite
def made(draw: Any) -> list[Touch | TouchRun]:
    out: list[Touch | TouchRun] = []
    for _ in range(draw(st.integers(0, 12))):
        at = T0 + 3600 * draw(st.integers(0, 3))
        account = draw(st.sampled_from(["a1", "a2", "a10", None]))
        flow, step = draw(st.sampled_from(["轮访", "新客", "群"])), draw(st.sampled_from(['task "回访"', "dm 欢迎"]))
        if account is None or draw(st.booleans()):
            contact = draw(st.sampled_from([*IDS[:-1], None]))
            out.append(Touch(at, at, "dm", account, flow, step, None, "您好", OK, "", "v1",
                             f"v1/{flow}/{contact}", contact))  # fmt: skip
            continue
        contacts = sorted(set(draw(st.lists(st.sampled_from(IDS[:-1]), min_size=1, max_size=6))))
        like = TouchRequest(at, "task", account, flow, step, 0, 0, PLAYBOOK, "", None,
                            draw(st.sampled_from([None, "群/a1/1"])))  # fmt: skip
        like.content = draw(st.sampled_from([None, "邀请"]))
        outcome = draw(st.sampled_from([(OK, ""), (SKIPPED, "limit task 1 per account per day")]))
        texts = [f"跟进{c}" if outcome[0] == OK else "" for c in contacts]
        out.append(TouchRun(at, like, *outcome, contacts, [f"v1/{flow}/{c}" for c in contacts], texts))
    return out


def one_by_one(items: list[Touch | TouchRun]) -> list[Touch]:
    """The touches each on its own, in the plan's order (the order before runs)."""
    touches = [t for x in items for t in ([x] if isinstance(x, Touch) else x.touches())]
    return sorted(touches, key=lambda x: (x.at, x.account or "", x.contact or "", x.flow, x.step))


@settings(max_examples=300, deadline=None)
@given(made())
def test_runs_in_the_order_lines_and_counts_of_single_touches(items: list[Touch | TouchRun]) -> None:
    planned, plain = PlannedTouches(items), one_by_one(items)
    assert list(planned) == plain
    assert len(planned) == len(plain)
    assert [planned[i] for i in range(len(plain))] == plain
    assert planned[-1:] == plain[-1:]
    lines = TouchLines(IsoTimes(CLOCK), Dump())
    blocks = list(lines.blocks(planned))
    assert all(blocks) and all(len(b) <= BLOCK for b in blocks if isinstance(b, list))
    assert [line for b in blocks for line in (b if isinstance(b, list) else [b])] == [lines.pieces(x) for x in plain]
    assert count_touches(planned, CLOCK) == count_touches(plain, CLOCK)
    for contact in IDS:
        assert touches_of(planned, contact) == touches_of(plain, contact)
    # the shards' merge keys: each line's time and account
    assert planned.at.tolist() == [x.at for x in plain]
    assert [planned.accounts[i] for i in planned.account] == [x.account or "" for x in plain]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(IDS), st.text(max_size=4), st.text("ab\0 ", max_size=3)), max_size=30))
def test_contacts_ranked_as_sorted_strings(contacts: list[str]) -> None:
    names, ranks = _contact_ranks(contacts)
    assert names == sorted(set(contacts))
    assert [names[r] for r in ranks.tolist()] == contacts
