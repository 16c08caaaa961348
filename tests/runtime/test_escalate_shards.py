"""SLA escalations with scale-out (docs/daemon.md, "SLA escalations"): an escalation's task
is the supervisor's touch — it counts against the supervisor's limits (per account, `any`),
not the customer's per-contact ones — and it is decided in the supervisor's shard: the
customer's shard forwards it through the store (`forwards`, in its own fenced commit), the
supervisor's shard requests it with its own counts and takes it off in the commit of that
step. So `limit task K per account per day` holds for a supervisor whatever the number of
shards, and the shards' touches equal `plan`'s and `plan --db`'s."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from playbook.cli.status import render
from playbook.data.files import read_events
from playbook.i18n import set_language
from playbook.plan.run import PlanInput, run_plan
from playbook.runtime import schema
from playbook.runtime.decide import Decider
from playbook.runtime.explain import explain
from playbook.runtime.forecast import forecast
from playbook.runtime.importing import import_files
from playbook.runtime.report import status
from playbook.runtime.rows import ForwardRow
from playbook.runtime.storage.handoff import generation_rows
from playbook.runtime.storage.routing import SHARDS
from playbook.runtime.store import Fence, LeaseLost, Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of

N = 4
CLOCK = LocalTime("Asia/Shanghai")
TZ = dt.timezone(dt.timedelta(hours=8))
START = int(dt.datetime(2026, 12, 1, 0, 0, tzinfo=TZ).timestamp())
DAY = 86400
K = 2  # the supervisor's tasks a day
PLAYBOOK = """playbook "升级"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit task 1 per contact per day
limit task {k} per account per day

sla 及时回复 {{
  message answered by staff_message within 10m
  remind at 5m
  escalate to {boss} after 20m
}}
"""


def _ids(wanted: Callable[[dict[int, list[str]]], bool]) -> dict[int, list[str]]:
    """Account ids `acct0`, `acct1`, … by shard, until `wanted` says there are enough."""
    found: dict[int, list[str]] = {}
    i = 0
    while not wanted(found):
        found.setdefault(shard_of(f"acct{i}", N), []).append(f"acct{i}")
        i += 1
    return found


def _write_playbook(tmp_path: Path, boss: str, k: int = K) -> list[str]:
    (tmp_path / "p.pb").write_text(PLAYBOOK.format(boss=boss, k=k), encoding="utf-8")
    return [str(tmp_path / "p.pb")]


def _force_shards(store: Store, count: int) -> None:
    """A SQLite store with `count` shards, for the store's own rules (`record_shards` refuses
    more than one on SQLite: a deployment of several processes needs PostgreSQL)."""
    db = store.database
    with db.write(fenced=False) as conn:
        db.upsert(conn, schema.engine_state, [{"shard": 0, "name": SHARDS, "value": count, "updated_at": db.now()},
                                              *generation_rows(db, count)])  # fmt: skip
    db.shard_count = None


def _sharded(open_store: Callable[..., Store], backend: str) -> Store:
    store = open_store()
    store.migrate()
    if backend == "sqlite":
        _force_shards(store, N)
    else:
        store.record_shards(N)
    assert store.shard_count() == N
    return store


def _fenced(store: Store, shard: int, owner: str) -> Store:
    """A view of `shard` whose writes are fenced by a lease `owner` takes now."""
    view = store.view(shard)
    token = view.take_lease(owner, 600, host="test", pid=1, shard=shard)
    assert isinstance(token, int)
    view.fence = Fence(shard, owner, token)
    return view


def _taken_over(store: Store, view: Store, owner: str) -> Store:
    """`view`'s lease given up (as when it expires) and taken by `owner`: `view` writes under a
    stale token from now on; the view of the new holder."""
    assert view.fence is not None and view.give_up_lease(view.fence)
    return _fenced(store, view.fence.shard, owner)


def _run(decider: Decider, until: int) -> None:
    """Step the shard's engine at each of its instants before `until` (as its daemon does)."""
    decider.step(decider.engine.now if decider.engine else START)
    while (due := decider.next_due()) is not None and due < until:
        decider.step(due)


def _forward_rows(store: Store) -> list[tuple[str, int, int]]:
    with store.database.read() as conn:
        fw = schema.forwards
        return [tuple(r) for r in conn.execute(sa.select(fw.c.key, fw.c.shard, fw.c.sender).order_by(fw.c.key))]


def _ledger_shard(store: Store, key: str) -> int | None:
    with store.database.read() as conn:
        to = schema.touches
        return conn.execute(sa.select(to.c.shard).where(to.c.key == key)).scalar_one_or_none()


# ---- the rule, in one engine (plan) ----------------------------------------------------------------------------
def test_an_escalation_counts_for_the_supervisor_not_the_customer(tmp_path: Path) -> None:
    """c1's reminder (a task about c1, for its staff) fills c1's `limit task 1 per contact per
    day`; its escalation, the supervisor's touch, still goes at once. The supervisor's
    `limit task 2 per account per day` holds: the third escalation waits for the next day."""
    paths = _write_playbook(tmp_path, "boss")
    (tmp_path / "accounts.csv").write_text("id,name\na1,小美\nboss,老陈\n", encoding="utf-8")
    (tmp_path / "contacts.csv").write_text("id,name,account\nc1,老王,a1\nc2,小李,a1\nc3,阿珍,a1\n", encoding="utf-8")
    events = [{"type": "message", "contact": f"c{i}", "at": f"2026-12-01T10:{7 * (i - 1):02d}:00+08:00"}
              for i in (1, 2, 3)]  # fmt: skip
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = run_plan(PlanInput(paths=paths, contacts=str(tmp_path / "contacts.csv"),
                                accounts=str(tmp_path / "accounts.csv"), events=str(tmp_path / "events.jsonl"),
                                start="2026-12-01 00:00", days=3))  # fmt: skip
    assert not result.problems
    local = {x.key.split("/")[2]: x for x in result.touches if x.step == "reminder"}
    escalations = {x.contact: x for x in result.touches if x.step == "escalation"}
    assert {c: (x.account, x.outcome) for c, x in local.items()} == {"c1": ("a1", "ok"), "c2": ("a1", "ok"),
                                                                      "c3": ("a1", "deferred")}  # fmt: skip
    at = {c: dt.datetime.fromtimestamp(x.at, TZ).strftime("%d %H:%M") for c, x in escalations.items()}
    assert at == {"c1": "01 10:30", "c2": "01 10:37", "c3": "02 08:00"}
    assert {x.account for x in escalations.values()} == {"boss"}
    assert [x.outcome for x in escalations.values()] == ["ok", "ok", "deferred"]
    assert "task 2 per account per day" in str(escalations["c3"].reason)


# ---- the store: forwarded in the customer's commit, taken in the supervisor's ---------------------------------
def _two_shards() -> tuple[str, str, int, int]:
    ids = _ids(lambda found: len(found) >= 2)
    (sa_, (a, *_)), (sb, (boss, *_)) = sorted(ids.items())[:2]
    return a, boss, sa_, sb


def _escalating(tmp_path: Path, store: Store, a: str, boss: str) -> tuple[list[str], int, str]:
    """c1 of `a` messages at 09:01 and is not answered: its escalation to `boss` is due at
    09:31. The playbook's paths, that instant and the escalation's key."""
    paths = _write_playbook(tmp_path, boss)
    store.import_records("accounts", [{"id": a, "name": "小美"}, {"id": boss, "name": "老陈"}])
    store.append_events([Event("friend_added", "c1", START + 9 * 3600, {"account": a, "name": "老王"}),
                         Event("message", "c1", START + 9 * 3600 + 60, {})], "cli")  # fmt: skip
    version = Decider(store, paths).compile()[0]["version"]
    return paths, START + 9 * 3600 + 60 + 30 * 60, f"{version}/及时回复/c1/1/escalate1"


def test_forwarded_in_the_customers_commit_and_taken_in_the_supervisors(
    tmp_path: Path, open_store: Callable[..., Store], backend: str
) -> None:
    store = _sharded(open_store, backend)
    a, boss, sa_, sb = _two_shards()
    paths, te, key = _escalating(tmp_path, store, a, boss)
    va, vb = _fenced(store, sa_, "p1"), _fenced(store, sb, "p2")
    da, db = Decider(va, paths), Decider(vb, paths)
    for decider in (da, db):
        decider.load(START + 9 * 3600)
        _run(decider, te)
    assert _forward_rows(store) == []
    # the customer's shard, under a lease another process took over since: its commit is refused, nothing forwarded
    va2 = _taken_over(store, va, "p1b")
    with pytest.raises(LeaseLost):
        da.step(te)
    assert _forward_rows(store) == []
    da = Decider(va2, paths)  # the new holder, from the store
    da.load(te)
    report = da.step(te)
    assert report.forwarded == 1
    assert _forward_rows(store) == [(key, sb, sa_)]  # to the supervisor's shard, from the customer's
    [row] = vb.waiting_forwards()
    assert row == ForwardRow(key, te, row.version, boss, "c1", "及时回复", "escalation", 0, 0, row.text)
    assert "老王" in row.text and "小美" in row.text  # rendered where the customer is known
    assert va.waiting_forwards() == [] and store.touches(keys=[key]) == []  # not decided in the customer's shard
    # `status` counts forwards a shard has not taken for over a minute (with shards: PostgreSQL)
    if backend == "postgresql":
        assert status(store)["deployment"]["forwards_waiting"] == {"count": 0, "shards": "-"}
        later = open_store(now=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
        doc = status(later)
        assert doc["deployment"]["forwards_waiting"] == {"count": 1, "shards": str(sb)}
        for lang, words in (("en", f"1 escalation tasks forwarded over a minute ago wait for shards {sb}"),
                            ("zh", f"1 条转交超过一分钟的升级任务仍在等待分片 {sb} 接收")):  # fmt: skip
            set_language(lang)
            console = Console(record=True, width=200, file=io.StringIO())
            render(doc, console)
            assert words in console.export_text()
    # the supervisor's shard decides it, but its commit is refused (a crash before the commit alike): it waits
    vb2 = _taken_over(store, vb, "p2b")
    with pytest.raises(LeaseLost):
        db.step(te)
    assert _forward_rows(store) == [(key, sb, sa_)] and store.touches(keys=[key]) == []
    # the shard's new holder restores it from the store and takes it, once
    db = Decider(vb2, paths)
    db.load(te)
    assert db.step(te).received == 1
    [done] = store.touches(keys=[key])
    assert (done.account, done.contact, done.at, done.due, done.outcome, done.text) == (boss, "c1", te, te, "ok",
                                                                                        row.text)  # fmt: skip
    assert _ledger_shard(store, key) == sb and _forward_rows(store) == []
    # a limit added by an edit counts the ledger's touches of its period: this one for the supervisor only
    assert ("task", boss, None) in vb2.sent_in(store.versions()[0].name, START, START + DAY)
    assert db.step(te + 60).received == 0
    db = Decider(vb2, paths)
    db.load(te + 120)
    db.step(te + 120)
    assert len(store.touches(keys=[key])) == 1 and _forward_rows(store) == []
    # `explain` shows it among the customer's touches, as before
    doc = explain(store, "c1", now=te + 60, clock=CLOCK)
    assert [(x["step"], x["account"], x["flow"]) for x in doc["touches"] if x["step"] == "escalation"] == [
        ("escalation", boss, "及时回复")
    ]


# ---- the property: a supervisor's limit holds over 4 shards, and the shards do what plan says ------------------
class Shards:
    """One Decider per shard on its view, as the shards' daemons run side by side: at each
    instant one of them has something due, every shard steps (a daemon steps each of its
    shards every tick), then the shards that others forwarded touches to step again."""

    def __init__(self, store: Store, paths: list[str], now: int) -> None:
        self.views = [store.view(shard) for shard in range(N)]
        self.paths = paths
        self.deciders = [self.start(shard, now) for shard in range(N)]

    def start(self, shard: int, now: int) -> Decider:
        decider = Decider(self.views[shard], self.paths)
        decider.load(now)
        decider.step(now)
        return decider

    def restart(self, now: int) -> None:
        self.deciders = [self.start(shard, now) for shard in range(N)]

    def at(self, t: int) -> None:
        for decider in self.deciders:
            decider.step(t)
        while waiting := [shard for shard, view in enumerate(self.views) if view.waiting_forwards()]:
            for shard in waiting:
                assert self.deciders[shard].step(t).received

    def run_until(self, end: int, rng: random.Random | None = None) -> None:
        while dues := [d for d in (x.next_due() for x in self.deciders) if d is not None and d < end]:
            t = min(dues)
            self.at(t)
            if rng is not None and rng.random() < 0.15:  # a shard's process restarted: its engine from the store
                shard = rng.randrange(N)
                self.deciders[shard] = self.start(shard, t)


def _population(folder: Path) -> tuple[str, list[tuple[str, str, int]]]:
    """A supervisor and one staff account in each of the 4 shards, three customers each. Day 1
    every customer messages (7 minutes apart) and every fourth is answered late, before its
    escalation; day 2 at 09:00 staff answer everyone, and every second customer messages again
    from 11:00. The supervisor and the customers: (customer, account, day 1's message at)."""
    ids = _ids(lambda found: len(found) == N and all(len(v) >= 2 for v in found.values()))
    staff = {shard: ids[shard][0] for shard in range(N)}
    boss = ids[1][1]
    customers = [(f"k{s}{i}", staff[s], 3 * s + i) for s in range(N) for i in range(3)]
    day1, day2 = START + 10 * 3600, START + DAY + 11 * 3600
    events = []
    for cid, _, n in customers:
        events.append(("message", cid, day1 + 7 * 60 * n))
        if n % 4 == 3:
            events.append(("staff_message", cid, day1 + 7 * 60 * n + 15 * 60))
        events.append(("staff_message", cid, START + DAY + 9 * 3600))
        if n % 2 == 0:
            events.append(("message", cid, day2 + 7 * 60 * n))
    lines = [{"type": kind, "contact": cid, "at": dt.datetime.fromtimestamp(at, TZ).isoformat()}
             for kind, cid, at in sorted(events, key=lambda e: (e[2], e[1]))]  # fmt: skip
    (folder / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    (folder / "accounts.csv").write_text("id,name\n" + f"{boss},老陈\n" + "".join(
        f"{a},店员{s}\n" for s, a in staff.items()), encoding="utf-8")  # fmt: skip
    (folder / "contacts.csv").write_text("id,name,account\n" + "".join(
        f"{cid},客{cid[1:]},{a}\n" for cid, a, _ in customers), encoding="utf-8")  # fmt: skip
    return boss, [(cid, a, day1 + 7 * 60 * n) for cid, a, n in customers]


def _store_of(url: str, folder: Path) -> Store:
    store = Store(url)
    store.migrate()
    import_files(store, [str(folder / "accounts.csv")], "accounts", CLOCK)
    import_files(store, [str(folder / "contacts.csv")], "contacts", CLOCK)
    events, problems = read_events(str(folder / "events.jsonl"), CLOCK)
    assert not problems
    store.append_events(events, "file")
    store.record_shards(N)
    return store


def _decided(rows: list, end: int) -> list[tuple]:
    return sorted((r.key, r.at, r.due, r.outcome, str(r.reason), r.text, r.account, r.contact) for r in rows
                  if r.at is not None and r.at < end)  # fmt: skip


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_supervisors_limit_holds_over_shards_and_the_shards_do_what_plan_says(tmp_path: Path, store_url: str) -> None:
    boss, customers = _population(tmp_path)
    paths = _write_playbook(tmp_path, boss)
    assert len({shard_of(a, N) for _, a, _ in customers}) == N
    store = _store_of(store_url, tmp_path)
    end = START + 10 * DAY
    shards = Shards(store, paths, START)
    # split at an escalation another shard forwards: decided by the customer's shard, not yet taken
    cid, account, said = next((c, a, at) for c, a, at in customers if shard_of(a, N) != shard_of(boss, N)
                              and c.endswith("1"))  # fmt: skip
    split = said + 30 * 60
    shards.run_until(split, random.Random(7))
    assert shards.deciders[shard_of(account, N)].step(split).forwarded == 1
    assert [row.contact for row in shards.views[shard_of(boss, N)].waiting_forwards()] == [cid]
    before = {r.key: r.state for r in store.touches()}
    fc = forecast(store, paths, split, end)  # `plan --db` now, with that forward waiting in the store
    assert {r.key: r.state for r in store.touches()} == before  # nothing written
    shards.restart(split)
    shards.run_until(end)
    rows = [r for r in store.touches() if r.state != "held"]
    # the supervisor's shard decided every escalation, from the customers of every shard
    escalations = [r for r in rows if r.step == "escalation"]
    assert len(escalations) == 9 + 6 and {r.account for r in escalations} == {boss}
    assert {_ledger_shard(store, r.key) for r in escalations} == {shard_of(boss, N)}
    accounts = dict((c, a) for c, a, _ in customers)
    assert {shard_of(accounts[r.contact or ""], N) for r in escalations} == set(range(N))
    with store.database.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.forwards)).scalar_one() == 0
    # the limit: at most K a day for the supervisor, and it did hold them back
    per_day = Counter(CLOCK.date_of(r.at) for r in rows if r.account == boss and r.outcome != "skipped")
    assert max(per_day.values()) == K and sum(per_day.values()) == 15 and len(per_day) == 8
    assert Counter(r.outcome for r in escalations) == {"ok": 2, "deferred": 13}
    # plan --db made at the split equals what the shards then decided
    planned = sorted((x.key, x.at, x.due, x.outcome, str(x.reason), x.text, x.account, x.contact)
                     for x in fc.touches if x.at < end)  # fmt: skip
    assert planned == _decided([r for r in rows if r.key not in before or before[r.key] == "held"], end)
    assert any(x.step == "escalation" and x.contact == cid for x in fc.touches)
    # and `plan` (one engine, from the files) equals everything the shards decided
    result = run_plan(PlanInput(paths=paths, contacts=str(tmp_path / "contacts.csv"),
                                accounts=str(tmp_path / "accounts.csv"), events=str(tmp_path / "events.jsonl"),
                                start="2026-12-01 00:00", days=10))  # fmt: skip
    assert not result.problems
    assert _decided(list(result.touches), end) == _decided(rows, end)
    store.close()


def test_a_held_escalation_stays_with_the_supervisor_when_its_customer_moves(
    tmp_path: Path, open_store: Callable[..., Store], backend: str
) -> None:
    """The supervisor and c1's, c2's staff in shard A: the second escalation waits for the
    supervisor's next day (`limit task 1 per account per day`). c2 then moves to an account of
    shard B: c2's rows go there, but the held task is the supervisor's — it stays in A, with
    its retry, and A sends it the next morning."""
    ids = _ids(lambda found: len(found) >= 2 and any(len(v) >= 2 for v in found.values()))
    sa_ = next(shard for shard, v in sorted(ids.items()) if len(v) >= 2)
    (a, boss), b = ids[sa_][:2], next(v[0] for shard, v in sorted(ids.items()) if shard != sa_)
    sb = shard_of(b, N)
    store = _sharded(open_store, backend)
    paths = _write_playbook(tmp_path, boss, k=1)
    store.import_records("accounts", [{"id": x, "name": x} for x in (a, boss, b)])
    nine = START + 9 * 3600
    store.append_events([Event("friend_added", c, nine, {"account": a, "name": c}) for c in ("c1", "c2")]
                        + [Event("message", "c1", nine + 60, {}), Event("message", "c2", nine + 8 * 60, {}),
                           Event("contact_updated", "c2", nine + 40 * 60, {"account": b})], "cli")  # fmt: skip
    da, db = Decider(store.view(sa_), paths), Decider(store.view(sb), paths)
    for decider in (da, db):
        decider.load(nine)
    _run(da, nine + 40 * 60)
    assert da.step(nine + 40 * 60).handed_over == 1
    version = da.playbooks[-1].version
    key = f"{version}/及时回复/c2/1/escalate1"
    [held] = store.touches(keys=[key])
    assert (held.state, held.account, held.contact, _ledger_shard(store, key)) == ("held", boss, "c2", sa_)
    assert key not in {r.key for r in store.view(sb).load_state().held}
    assert da.engine is not None and "c2" not in da.engine.contacts.fields  # built again: c2 is B's now
    req = da.engine.held_touch(key)
    assert req is not None and req.account_only and req.counted_contact is None
    assert any(item.payload.kind == "retry" and item.payload.key == key for item in da.engine.items())
    db.step(nine + 40 * 60 + 1)
    assert db.engine is not None and "c2" in db.engine.contacts.fields and db.engine.held_touch(key) is None
    morning = START + DAY + 8 * 3600
    _run(da, morning + 1)
    [sent] = store.touches(keys=[key])
    assert (sent.state, sent.outcome, sent.at, _ledger_shard(store, key)) == ("pending", "deferred", morning, sa_)


def test_a_forward_outlives_a_reload_of_the_supervisors_shard(
    tmp_path: Path, open_store: Callable[..., Store], backend: str
) -> None:
    """The supervisor's shard reloads an edited playbook before the customer's shard (which
    still runs the version it had) escalates: the forward names that older version, and the
    supervisor's engine is built again with it (finishing) to decide it as it was decided."""
    store = _sharded(open_store, backend)
    a, boss, sa_, sb = _two_shards()
    paths, te, key = _escalating(tmp_path, store, a, boss)
    da, db = Decider(store.view(sa_), paths), Decider(store.view(sb), paths)
    for decider in (da, db):
        decider.load(START + 9 * 3600)
        _run(decider, te)
    old = db.playbooks[-1].version
    _write_playbook(tmp_path, boss, k=3)  # an edit: another version
    db.load(te - 1)
    new = db.playbooks[-1].version
    assert db.engine is not None and new != old and {p.version for p in db.engine.programs} == {new}
    assert da.step(te).forwarded == 1
    assert [row.version for row in store.view(sb).waiting_forwards()] == [old]
    report = db.step(te)
    assert report.rebuilt and report.received == 1
    assert db.engine is not None and [p.version for p in db.engine.programs] == [old, new]
    [done] = store.touches(keys=[key])
    assert (done.version, done.account, done.outcome, done.at) == (old, boss, "ok", te)
