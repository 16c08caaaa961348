"""A contact moving to an account of another shard (issue 18): the shard that decides the
change hands the contact over in the same commit — its record, enrolment, timeline items,
held touches, contact-scoped counts and unprocessed events — and the receiving shard's
engine, built again from the store, goes on exactly as one engine would: the touches equal
the plan's."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, run_plan
from playbook.runtime import schema
from playbook.runtime.decide import Decider
from playbook.runtime.rows import Journal
from playbook.runtime.store import ShardMoved, Store
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of

N = 4
T0 = 1796086800  # 2026-12-01 09:00 +08:00
PLAYBOOK = """playbook "换人"
timezone "Asia/Shanghai"
limit dm 1 per contact per day

content 欢迎 = "{name|亲}您好，我是{account.name}"
content 回访 = "{name|亲}，用得怎么样？"

journey 新客 {
  on friend_added
  dm 欢迎
  after 2h: dm 回访
}
"""


def _two_accounts() -> tuple[str, str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < 2:
        found.setdefault(shard_of(f"acct{i}", N), f"acct{i}")
        i += 1
    a, b = found.values()
    return a, b


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_contact_moving_account_is_handed_over(tmp_path: Path, open_store: Callable[..., Store]) -> None:
    a, b = _two_accounts()
    sa_, sb = shard_of(a, N), shard_of(b, N)
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    paths = [str(tmp_path / "p.pb")]
    events = [
        Event("friend_added", "k1", T0, {"account": a, "name": "老王"}, 1),
        Event("friend_added", "k2", T0, {"account": a, "name": "小李"}, 2),
        Event("contact_updated", "k1", T0 + 600, {"account": b}, 3),  # k1 now belongs to b's shard
    ]
    store = open_store()
    store.migrate()
    store.import_records("accounts", [{"id": a, "name": "小美"}, {"id": b, "name": "阿杰"}])
    store.record_shards(N)
    store.append_events(events[:2], "cli")
    va, vb = store.view(sa_), store.view(sb)
    da, db = Decider(va, paths), Decider(vb, paths)
    da.load(T0 - 60)
    db.load(T0 - 60)
    da.step(T0)
    db.step(T0)
    store.append_events(events[2:], "cli")  # routed to k1's shard: a's
    report = da.step(T0 + 600)
    assert report.handed_over == 1
    assert da.engine is not None and "k1" not in da.engine.contacts.fields and "k2" in da.engine.contacts.fields
    with store.database.read() as conn:

        def shard_rows(table: sa.Table, column: sa.Column) -> set[int]:
            return {s for (s,) in conn.execute(sa.select(table.c.shard).where(column == "k1"))}

        assert shard_rows(schema.contacts, schema.contacts.c.id) == {sb}
        assert shard_rows(schema.enrolments, schema.enrolments.c.contact) == {sb}
        assert shard_rows(schema.limit_counters, schema.limit_counters.c.scope_id) == {sb}
        assert shard_rows(schema.flow_state, schema.flow_state.c.item) <= {sb}
    timers = vb.load_state().timers
    assert [t.payload[2] for t in timers if t.kind == "step"] == ["k1"]
    # b's engine was built before the hand-over: a commit of it is refused, nothing written
    with pytest.raises(ShardMoved):
        vb.write(Journal(generation=0, engine_state={"clock": {"start": T0, "now": T0 + 1}}))
    report = db.step(T0 + 601)
    assert report.rebuilt and db.engine is not None and "k1" in db.engine.contacts.fields
    for now in (T0 + 7200, T0 + 7201):
        da.step(now)
        db.step(now)
    rows = {r.key: r for r in store.touches()}
    (tmp_path / "contacts.csv").write_text("id,name,account\n", encoding="utf-8")
    (tmp_path / "accounts.csv").write_text(f"id,name\n{a},小美\n{b},阿杰\n", encoding="utf-8")
    tz = dt.timezone(dt.timedelta(hours=8))
    lines = [{"type": e.type, "contact": e.contact, "at": dt.datetime.fromtimestamp(e.at, tz).isoformat(), **e.data}
             for e in events]  # fmt: skip
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines),
                                           encoding="utf-8")  # fmt: skip
    result = run_plan(PlanInput(paths=paths, contacts=str(tmp_path / "contacts.csv"),
                                accounts=str(tmp_path / "accounts.csv"), events=str(tmp_path / "events.jsonl"),
                                start="2026-12-01 08:59", days=1))  # fmt: skip
    assert not result.problems, result.problems
    planned = json.loads(to_json(result))["touches"]
    assert len(planned) == 4
    end = T0 + 7201
    went = [t for t in planned if dt.datetime.fromisoformat(t["at"]).timestamp() <= end]
    decided = [r for r in rows.values() if r.state != "held"]
    assert sorted((t["contact"], t["account"], t["text"], t["outcome"]) for t in went) == sorted(
        (r.contact, r.account, r.text, r.outcome) for r in decided
    )
    # the follow-ups wait for tomorrow (one dm per contact per day): k1's in b's shard, where it moved
    # with its count of today's dm (sent by a's shard)
    later = {t["contact"]: t for t in planned if t not in went}
    assert {c: t["outcome"] for c, t in later.items()} == {"k1": "deferred", "k2": "deferred"}
    held = {r.contact: r for r in rows.values() if r.state == "held"}
    assert {c: r.key for c, r in held.items()} == {c: t["key"] for c, t in later.items()}
    with store.database.read() as conn:
        query = sa.select(schema.touches.c.contact, schema.touches.c.shard).where(schema.touches.c.state == "held")
        assert dict(conn.execute(query).all()) == {"k1": sb, "k2": sa_}
