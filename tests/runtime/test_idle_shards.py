"""Idle shards cost (almost) nothing (docs/daemon.md, "Scale-out: what a process does each
second"): a shard whose turn did nothing is skipped — no statement of its own — until it may
have work, and then it turns at the next loop iteration. Each source of work is made here
the way it comes in a deployment (another process's store, the requeue and approve paths,
an import, a hand-over, a forward, time passing), and its touch must go out: a source the
daemon's probe missed would leave the shard skipped and the touch unsent. In this process
(one loop iteration at a time, `Daemon._turns`, over an injected clock), on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from playbook.runtime import schema
from playbook.runtime.config import load_config
from playbook.runtime.daemon import IDLE_CHECK, Daemon, RunOptions, _Held
from playbook.runtime.decide import Decider
from playbook.runtime.lease import ShardLeases
from playbook.runtime.store import Store
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of
from tests.runtime.processes import read_jsonl

N = 4
TICK = 100.0  # [daemon] tick: the safety net (IDLE_CHECK ticks) lies beyond every move of the clock but its own test
TZ = dt.timezone(dt.timedelta(hours=8))
T = int(dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ).timestamp())  # no day tick before 11:40 + the safety net
CUSTOMER, BOSS = 0, N - 1  # the shards of a customer's account and of the supervisor SLAs escalate to
PLAYBOOK = """\
playbook "空闲"
timezone "Asia/Shanghai"

segment 会员 = spent >= 1000

content 欢迎 = "{{name|亲}}，欢迎！"
content 跟进 = "{{name|亲}}，还在吗？"
content 入会 = "{{name|亲}}，欢迎入会！"

journey 欢迎 {{
  on friend_added
  dm 欢迎
  after 5m: dm 跟进
}}

journey 入会 {{
  on enter 会员
  dm 入会
}}

sla 及时回复 {{
  message answered by staff_message within 10m
  escalate to {boss} after 20m
}}
"""


def _accounts() -> dict[int, str]:
    """An account of each shard."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < N:
        found.setdefault(shard_of(f"acct{i}", N), f"acct{i}")
        i += 1
    return found


class Deployment:
    """A 4-shard store and one daemon holding every shard, run a loop iteration at a time."""

    def __init__(self, tmp: Path, url: str, approve: str) -> None:
        self.tmp, self.now = tmp, float(T)
        self.accounts = _accounts()
        (tmp / "p.pb").write_text(PLAYBOOK.format(boss=self.accounts[BOSS]), encoding="utf-8")
        (tmp / "playbook.toml").write_text(
            f'[store]\nurl = "{url}"\n[adapter]\nname = "jsonl"\n[adapter.options]\npath = "{tmp / "outbox.jsonl"}"\n'
            f'[daemon]\nshards = {N}\ntick = {TICK}\napprove = "{approve}"\n',
            encoding="utf-8",
        )
        self.store = Store(url)
        self.store.migrate()
        self.store.import_records("accounts", [{"id": a, "name": f"店{s}"} for s, a in self.accounts.items()])
        self.store.record_shards(N)
        self.other = Store(url)  # another process of the deployment, or a shell's `playbook …`
        paths = [str(tmp / "p.pb")]
        self.daemon = Daemon(load_config(tmp / "playbook.toml"), RunOptions(paths), clock=lambda: self.now)
        self.daemon._current = Decider(self.store, paths).compile()
        self.leases = ShardLeases(self.store, self.daemon.owner, 600.0, N)
        self.leases.heartbeat()
        self.adapter = self.daemon._open_adapter(self.store, None)
        self.held = _Held()
        self.daemon._rebalance(self.leases, self.held)
        while self.held.pending:
            self.daemon._restore_next(self.leases, self.adapter, self.held)
        self.held.resume_collector()

    def iteration(self) -> list[int]:
        """One loop iteration of `_run_shards`: the shards that took a full turn."""
        return self.daemon._turns(self.store, self.leases, self.held)

    def settle(self) -> None:
        """Iterations until every shard is idle (a turn that did something is followed by one
        more; the first look at the store turns every shard once)."""
        for _ in range(5):
            if not self.iteration():
                return
        raise AssertionError("the shards never went idle")

    def at(self, seconds: float) -> None:
        self.now = T + seconds

    def event(self, kind: str, contact: str, data: dict) -> None:
        """An event stored by another process (the intake of another daemon, `playbook event`)."""
        self.other.append_events([Event(kind, contact, int(self.now), data)], "http")

    def sent(self) -> list[tuple[str, str, str]]:
        """(contact, content — a task: "task" —, account) of every line of the outbox, in order."""
        lines = read_jsonl(self.tmp / "outbox.jsonl")
        return [(x["contact"], x["content"] or x["channel"], x["account"]) for x in lines]

    def clocks(self) -> dict[int, int]:
        """Each shard engine's clock as the store has it (written by a full turn only)."""
        es = schema.engine_state
        with self.store.database.read() as conn:
            rows = conn.execute(sa.select(es.c.shard, es.c.value).where(es.c.name == "clock"))
            return {shard: value["now"] for shard, value in rows}

    def close(self) -> None:
        for w in self.held.work.values():
            w.dispatcher.close()
        self.leases.release()
        self.adapter.close()
        self.other.close()
        self.store.close()


@pytest.fixture(params=["postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param  # several shards are PostgreSQL's (a SQLite store is one process)


@pytest.fixture
def deploy(tmp_path: Path, store_url: str) -> Iterator:
    made: list[Deployment] = []

    def make(approve: str = "never") -> Deployment:
        made.append(Deployment(tmp_path, store_url, approve))
        return made[-1]

    try:
        yield make
    finally:
        gc.enable()
        for d in made:
            d.close()


def test_an_idle_shards_turn_is_skipped(deploy) -> None:  # noqa: ANN001
    d = deploy()
    assert d.iteration() == list(range(N))  # restored: every shard turns
    d.settle()
    before = d.clocks()
    statements: list[str] = []
    sa_event.listen(d.store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    d.at(7)
    assert d.iteration() == []
    assert len(statements) == 1 and "engine_state" in statements[0]  # one look at the store for all four
    assert d.clocks() == before  # nothing written
    assert all(w.decider.engine.now == T + 7 for w in d.held.work.values())  # their clocks moved on in memory
    # a turn that did nothing makes a shard idle again at once
    s = 1
    d.event("friend_added", "x1", {"account": d.accounts[s], "name": "小X"})
    assert d.iteration() == [s]
    assert d.iteration() == [s]  # the turn after one that did something
    assert d.iteration() == []


def test_an_event_another_process_stored(deploy) -> None:  # noqa: ANN001
    d = deploy()
    d.settle()
    s = 2
    d.at(3)
    d.event("friend_added", "e1", {"account": d.accounts[s], "name": "小E"})
    assert d.iteration() == [s]
    assert d.sent() == [("e1", "欢迎", d.accounts[s])]


def test_a_touch_requeued(deploy) -> None:  # noqa: ANN001
    d = deploy()
    s = 1
    d.event("friend_added", "r1", {"account": d.accounts[s], "name": "小R"})
    d.settle()
    [row] = d.store.touches(states=("sent",))
    d.store.transition([row.key], "sent", "dead", error="refused by the platform")  # a dead letter
    d.at(2)
    assert d.iteration() == []  # dead: nothing to do
    d.at(4)
    assert d.other.requeue("dead", keys=[row.key], actor="ops@host (1)", now=int(d.now)) == [row.key]
    assert d.iteration() == [s]
    assert [x for x in d.sent() if x[0] == "r1"] == [("r1", "欢迎", d.accounts[s])] * 2


def test_a_contact_handed_over_into_the_shard(deploy) -> None:  # noqa: ANN001
    d = deploy()
    a, b = 0, 2
    d.event("friend_added", "h1", {"account": d.accounts[a], "name": "小H"})
    d.settle()
    d.at(60)
    d.event("contact_updated", "h1", {"account": d.accounts[b]})  # stored in a's shard, where h1 is
    assert d.iteration() == [a]  # a decides it and hands h1 over to b (b's generation bumped)
    assert d.iteration() == [a, b]  # a after a turn that did something; b's engine built again with h1
    d.at(299)
    d.settle()
    d.at(300)
    assert d.iteration() == [b]  # h1's follow-up, now on b's timeline
    assert d.sent() == [("h1", "欢迎", d.accounts[a]), ("h1", "跟进", d.accounts[b])]


def test_an_import(deploy) -> None:  # noqa: ANN001
    d = deploy()
    d.settle()
    s = 3
    d.at(5)
    d.other.import_records("contacts", [{"id": "i1", "name": "小I", "account": d.accounts[s], "spent": 2000}])
    assert d.iteration() == list(range(N))  # the store-wide count of imports: every shard looks
    assert d.sent() == [("i1", "入会", d.accounts[s])]
    assert d.iteration() == [s] and d.iteration() == []


def test_a_forward(deploy) -> None:  # noqa: ANN001
    d = deploy()
    d.event("friend_added", "f1", {"account": d.accounts[CUSTOMER], "name": "小F"})
    d.at(1)
    d.event("message", "f1", {})
    d.settle()
    d.at(601)
    assert d.iteration() == [CUSTOMER]  # its follow-up, and the SLA missed
    d.settle()
    d.at(1801)  # 20 minutes after the SLA was missed
    assert d.iteration() == [CUSTOMER]  # escalated: the supervisor's task forwarded to its shard
    assert d.iteration() == [CUSTOMER, BOSS]  # taken there
    assert d.sent()[-1] == ("f1", "task", d.accounts[BOSS])


def test_an_approval_decided(deploy) -> None:  # noqa: ANN001
    d = deploy("always")
    [asked] = d.store.approvals()
    s = 2
    d.event("friend_added", "p1", {"account": d.accounts[s], "name": "小P"})
    d.settle()
    assert d.sent() == []  # held until approved
    d.at(30)
    d.other.decide_approval(asked.version, "approved", "ops", None)
    assert d.iteration() == list(range(N))  # the store-wide count of approval changes: every shard looks
    assert d.sent() == [("p1", "欢迎", d.accounts[s])]


def test_a_timeline_item_falling_due(deploy) -> None:  # noqa: ANN001
    d = deploy()
    s = 1
    d.event("friend_added", "t1", {"account": d.accounts[s], "name": "小T"})
    d.settle()
    d.at(299)
    assert d.iteration() == []
    d.at(300)
    assert d.iteration() == [s]
    assert d.sent() == [("t1", "欢迎", d.accounts[s]), ("t1", "跟进", d.accounts[s])]


def test_the_safety_net(deploy) -> None:  # noqa: ANN001
    """An idle shard turns anyway IDLE_CHECK ticks after its last turn, the longest idle first
    and at most one in IDLE_CHECK of the shards an iteration (here one)."""
    d = deploy()
    d.settle()
    first = d.clocks()
    net = IDLE_CHECK * TICK
    d.at(net - 1)
    assert d.iteration() == []
    d.at(net)
    turned = [d.iteration() for _ in range(N + 1)]
    assert sorted(s for t in turned for s in t) == list(range(N)) and all(len(t) <= 1 for t in turned)
    assert turned[-1] == []
    after = d.clocks()
    assert all(after[s] == T + net > first[s] for s in range(N))  # each wrote its clock: a full turn
