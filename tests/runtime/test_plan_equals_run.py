"""Plan equals run (PRODUCT.md: "the plan is what the daemon would do given the same
events, and a test proves it").

The daemon's two halves — `Decider` (the engine over a clock, its state in the store) and
`Dispatcher` (ledger → adapter) — run on a fast-forward clock with the jsonl adapter, on
the same playbooks, contacts, accounts and events as `playbook plan`. The outbox must
hold exactly the plan's touches that go out before the horizon (times, rendered text,
recipients), and the ledger the plan's skipped ones with their reasons. Some runs restart
the daemon (a new Decider from the store) between steps, so restoring is proven too.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook.adapters.jsonl import JsonlAdapter
from playbook.data.files import read_events
from playbook.plan.jsonwriter import to_json
from playbook.plan.run import PlanInput, run_plan
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.importing import import_files
from playbook.runtime.store import Store
from tests.test_engine_properties import Case, cases

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT.parent / "shared" / "examples").glob("*.pb")) or sorted((ROOT / "playbooks").glob("*.pb"))
CASES = int(os.environ.get("PLAYBOOK_PLAN_RUN_CASES", "200"))


def plan_doc(paths: list[str], contacts: str, accounts: str, events: str, start: str, days: int) -> dict[str, Any]:
    result = run_plan(PlanInput(paths=paths, contacts=contacts, accounts=accounts, events=events, start=start,
                                days=days))  # fmt: skip
    assert not result.problems, result.problems
    return {"doc": json.loads(to_json(result)), "start": result.start, "end": result.end, "clock": result.clock}


def run_daemon(tmp: Path, paths: list[str], contacts: str, accounts: str, events: str, start: int, end: int,
               clock: Any, restart: random.Random | None = None,
               url: str | None = None) -> tuple[list[dict[str, Any]], Store]:  # fmt: skip
    """The daemon on a fast-forward clock: each step goes to the engine's next timeline
    item (as the real loop's wake-ups do), then dispatches what is due. The store: `url`,
    else a SQLite file in `tmp`."""
    store = Store(url or f"sqlite:///{tmp / 'store.db'}")
    store.migrate()
    import_files(store, [accounts], "accounts", clock)
    import_files(store, [contacts], "contacts", clock)
    logged, problems = read_events(events, clock)
    assert not problems
    logged.sort(key=lambda e: (e.at, e.seq))
    store.append_events(logged, "file")
    outbox = tmp / "outbox.jsonl"
    adapter = JsonlAdapter({"path": str(outbox)})
    adapter.open()
    now = start
    dispatcher = Dispatcher(store, adapter, owner="test", clock=lambda: now, workers=1)
    decider = Decider(store, paths)
    decider.load(start)
    while True:
        due = decider.next_due()
        if due is None or due >= end:
            break
        now = max(now, due)
        decider.step(now)
        while dispatcher.run_once(now).claimed:
            pass
        if restart is not None and restart.random() < 0.3:
            decider = Decider(store, paths)  # a restart: everything from the store
            decider.load(now)
    decider.step(end - 1)
    while dispatcher.run_once(end - 1).claimed:
        pass
    dispatcher.close()
    adapter.close()
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()] if outbox.exists() else []
    return lines, store


def compare(doc: dict[str, Any], end: int, outbox: list[dict[str, Any]], store: Store) -> None:
    import datetime as dt

    def instant(text: str) -> int:
        return int(dt.datetime.fromisoformat(text).timestamp())

    went = [t for t in doc["touches"] if t["outcome"] != "skipped" and instant(t["at"]) < end]
    skipped = [t for t in doc["touches"] if t["outcome"] == "skipped" and instant(t["at"]) < end]

    def plan_row(t: dict[str, Any]) -> tuple:
        return (instant(t["at"]), instant(t["due"]), t["channel"], t.get("account"), t.get("contact"),
                t.get("group"), t["flow"], t["step"], t["text"], sorted(t["audience"]) if "audience" in t else None)  # fmt: skip

    def sent_row(d: dict[str, Any]) -> tuple:
        return (instant(d["at"]), instant(d["due"]), d["channel"], d["account"], d["contact"], d["group"], d["flow"],
                d["step"], d["text"], sorted(d["audience"]) if d["audience"] is not None else None)  # fmt: skip

    # sorted by repr: a total order even where a field is None in one row and text in another
    assert sorted(map(sent_row, outbox), key=repr) == sorted(map(plan_row, went), key=repr)
    assert len({d["key"] for d in outbox}) == len(outbox), "a key was delivered twice"
    ledger = {r.key: r for r in store.touches()}
    assert all(r.state in ("sent", "skipped", "held") for r in ledger.values())
    decided = sorted(
        (
            (r.at, r.due, r.channel, r.account, r.contact, r.group, r.flow, r.step, r.outcome, r.reason)
            for r in ledger.values()
            if r.state != "held" and r.at is not None and r.at < end
        ),
        key=repr,
    )
    planned = sorted((
        (instant(t["at"]), instant(t["due"]), t["channel"], t.get("account"), t.get("contact"), t.get("group"),
         t["flow"], t["step"], t["outcome"], t["reason"])
        for t in [*went, *skipped]
    ), key=repr)  # fmt: skip
    assert decided == planned  # every outcome, with its reason (deferred by what, skipped why)


@pytest.mark.parametrize("restarts", [False, True], ids=["straight", "restarting"])
def test_shared_examples_plan_equals_run(tmp_path: Path, restarts: bool) -> None:
    paths = [str(p) for p in EXAMPLES]
    data = ROOT / "playbooks"
    args = ([*paths], str(data / "contacts.csv"), str(data / "accounts.csv"), str(data / "events.jsonl"))
    planned = plan_doc(*args, "2026-12-01 00:00", 14)
    outbox, store = run_daemon(tmp_path, *args, planned["start"], planned["end"], planned["clock"],
                               random.Random(7) if restarts else None)  # fmt: skip
    assert len(outbox) > 100  # the examples send plenty: the comparison means something
    compare(planned["doc"], planned["end"], outbox, store)
    store.close()


@given(cases(), st.integers(0, 2**16))
@settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_scenarios_plan_equals_run(tmp_path_factory: pytest.TempPathFactory, case: Case, seed: int) -> None:
    tmp = tmp_path_factory.mktemp("case")
    for name, text in (("p.pb", case.source), ("contacts.csv", case.contacts), ("accounts.csv", case.accounts),
                       ("events.jsonl", case.events)):  # fmt: skip
        (tmp / name).write_text(text, encoding="utf-8")
    args = ([str(tmp / "p.pb")], str(tmp / "contacts.csv"), str(tmp / "accounts.csv"), str(tmp / "events.jsonl"))
    planned = plan_doc(*args, case.start, case.days)
    rng = random.Random(seed)
    outbox, store = run_daemon(tmp, *args, planned["start"], planned["end"], planned["clock"],
                               rng if seed % 2 else None)  # fmt: skip
    compare(planned["doc"], planned["end"], outbox, store)
    store.close()


FIELDS_PLAYBOOK = """playbook "新客"
timezone "Asia/Shanghai"

segment 未购 = orders is not set or orders == 0
segment 已购 = orders >= 1

content 新客券 = "{name|亲}，新客专享券已发放。"
content 老客礼 = "{name|亲}，老朋友专享礼。"

journey 未购欢迎 {
  on friend_added where in 未购
  after 5m: dm 新客券
}

journey 已购欢迎 {
  on friend_added where in 已购
  after 5m: dm 老客礼
}
"""


def test_friend_added_fields_onto_the_contact_plan_equals_run(tmp_path: Path) -> None:
    """LANGUAGE.md §3.3: a friend_added event's fields are copied onto the contact, in the
    plan and the daemon alike — a customer added with orders=1 spent=399 is no 未购."""
    (tmp_path / "p.pb").write_text(FIELDS_PLAYBOOK, encoding="utf-8")
    (tmp_path / "contacts.csv").write_text("id,name,account\n", encoding="utf-8")
    (tmp_path / "accounts.csv").write_text("id,name\na1,小美\n", encoding="utf-8")
    events = [
        {"type": "friend_added", "contact": "k1", "at": "2026-12-01T10:00:00+08:00", "account": "a1",
         "name": "老王", "orders": 1, "spent": 399},
        {"type": "friend_added", "contact": "k2", "at": "2026-12-01T10:00:00+08:00", "account": "a1", "name": "小李"},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events),
                                           encoding="utf-8")  # fmt: skip
    args = ([str(tmp_path / "p.pb")], str(tmp_path / "contacts.csv"), str(tmp_path / "accounts.csv"),
            str(tmp_path / "events.jsonl"))  # fmt: skip
    planned = plan_doc(*args, "2026-12-01 00:00", 2)
    sent = {(t["contact"], t["text"]) for t in planned["doc"]["touches"]}
    assert sent == {("k1", "老王，老朋友专享礼。"), ("k2", "小李，新客专享券已发放。")}
    outbox, store = run_daemon(tmp_path, *args, planned["start"], planned["end"], planned["clock"])
    compare(planned["doc"], planned["end"], outbox, store)
    records, _ = store.load_contacts()
    stored = {r["id"]: r for r in records}  # the daemon kept the fields in the store too
    assert (stored["k1"].get("orders"), stored["k1"].get("spent")) == (1, 399)
    assert "orders" not in stored["k2"]
    store.close()


@pytest.mark.parametrize("restarts", [False, True], ids=["straight", "restarting"])
def test_sla_reminders_and_escalations_plan_equals_run(tmp_path: Path, restarts: bool) -> None:
    """The hand-worked scenario (v): reminders at two points, escalations to an account and
    to a role's holders, in the daemon as in the plan — also when it restarts between steps
    (open watches, their reminders and escalations restored from the store); and the
    report's met / late / missed per staff are the plan's."""
    from playbook.runtime.report import report

    d = ROOT / "tests" / "golden" / "plan" / "v_sla_reminders_escalation"
    args = ([str(d / "playbook.pb")], str(d / "contacts.csv"), str(d / "accounts.csv"), str(d / "events.jsonl"))
    planned = plan_doc(*args, "2026-12-01 00:00", 3)
    steps = {t["step"] for t in planned["doc"]["touches"]}
    assert steps == {"reminder", "escalation"}
    outbox, store = run_daemon(tmp_path, *args, planned["start"], planned["end"], planned["clock"],
                               random.Random(3) if restarts else None)  # fmt: skip
    compare(planned["doc"], planned["end"], outbox, store)
    got = report(store, planned["start"], planned["end"], planned["clock"])["service_levels_by_account"]
    assert got == planned["doc"]["service_levels"]
    assert got["及时回复"]["a2"] == {"met": 0, "late": 1, "missed": 1}
    store.close()
