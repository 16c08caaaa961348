"""ShardLeases (issue 18): shards spread over the live processes, taken over after expiry,
a paused owner's writes refused per shard, everything given up at a clean stop. In one
process, with the store's bookkeeping clock injected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from playbook.runtime.lease import ShardLeases
from playbook.runtime.rows import Journal
from playbook.runtime.store import LeaseLost, Store
from playbook.vocab.shards import ranges

COUNT = 8
TTL = 15.0


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)  # from the wall clock: `playbook status` reads the same store

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make(open_store: Callable[..., Store], clock: Clock) -> Callable[[str], ShardLeases]:
    first = open_store(now=clock)
    first.migrate()

    def make(owner: str) -> ShardLeases:
        return ShardLeases(open_store(now=clock), owner, TTL, COUNT)

    return make


def _settle(owners: list[ShardLeases], rounds: int = 6) -> None:
    """Every process balances in turn, giving up its extra shards, until nothing moves."""
    for owner in owners:
        owner.heartbeat()
    for _ in range(rounds):
        for owner in owners:
            found = owner.balance()
            for shard in found.extra:
                owner.give_up(shard)


@pytest.mark.parametrize("processes", [1, 2, 3, 4])
def test_shards_are_spread_over_the_live_processes(make: Callable[[str], ShardLeases], processes: int) -> None:
    owners = [make(f"p{i}") for i in range(processes)]
    first = owners[0].balance()  # alone at first: it takes every shard
    if processes == 1:
        assert first.taken == list(range(COUNT))
    _settle(owners)
    held = [set(o.held) for o in owners]
    assert set().union(*held) == set(range(COUNT))
    assert sum(map(len, held)) == COUNT  # no shard twice
    share = -(-COUNT // processes)
    assert all(len(h) <= share for h in held)
    # each held shard's view is fenced by that shard's own token
    for owner in owners:
        for shard, lease in owner.held.items():
            assert lease.store.shard == shard and lease.store.fence is not None
            assert lease.store.fence.shard == shard


def test_a_joining_process_gets_its_share_without_stopping_the_others(make: Callable[[str], ShardLeases]) -> None:
    a = make("a")
    assert len(a.balance().taken) == COUNT
    b = make("b")
    b.heartbeat()
    assert b.balance().taken == []  # everything held by a live process: wait
    extra = a.balance().extra
    assert len(extra) == COUNT // 2
    kept = set(a.held) - set(extra)
    for shard in extra:
        a.give_up(shard)
    assert sorted(b.balance().taken) == sorted(extra)
    assert set(a.held) == kept


def test_an_expired_process_is_taken_over(make: Callable[[str], ShardLeases], clock: Clock) -> None:
    a, b = make("a"), make("b")
    _settle([a, b])
    lost = set(a.held)
    clock.advance(TTL + 1)  # a stops renewing (killed): its row and its leases expire
    taken = b.balance().taken
    assert set(taken) == lost and set(b.held) == set(range(COUNT))
    tokens = {shard: lease.fence.token for shard, lease in b.held.items() if lease.fence is not None}
    assert all(tokens[s] == 2 for s in lost)  # each take-over bumped that shard's token


def test_a_paused_owner_cannot_write_the_shards_it_lost(make: Callable[[str], ShardLeases], clock: Clock) -> None:
    a = make("a")
    a.balance()
    b = make("b")
    clock.advance(TTL + 1)  # a is paused past its leases
    taken = sorted(b.balance().taken)
    assert taken == list(range(COUNT))
    shard = taken[0]
    stale = a.lease(shard)
    with pytest.raises(LeaseLost):
        stale.store.write(Journal(engine_state={"clock": {"start": 0, "now": 1}}))
    with pytest.raises(LeaseLost):
        stale.store.claim_due(0, owner="a")
    b.lease(shard).store.write(Journal(engine_state={"clock": {"start": 0, "now": 2}}))
    found = a.balance()  # on resuming: every renewal refused, so every shard is lost
    assert found.lost == list(range(COUNT)) and a.held == {}


def test_a_lost_shard_does_not_stop_the_others(make: Callable[[str], ShardLeases], clock: Clock) -> None:
    a, b = make("a"), make("b")
    _settle([a, b])
    mine = sorted(a.held)
    other = sorted(b.held)
    clock.advance(TTL / 2)
    a.balance()
    clock.advance(TTL / 2 + 1)  # b's leases ran out, a's renewed
    taken = a.balance().taken
    assert sorted(taken) == other
    for shard in mine:
        a.lease(shard).store.write(Journal(engine_state={"clock": {"start": 0, "now": shard}}))
    found = b.balance()
    assert found.lost == other


def test_a_clean_stop_gives_every_shard_up_at_once(make: Callable[[str], ShardLeases]) -> None:
    a, b = make("a"), make("b")
    _settle([a, b])
    a_held = set(a.held)
    a.release()
    assert {row.owner for row in b.store.processes()} == {"b"}
    assert set(b.balance().taken) == a_held  # no waiting for an expiry
    assert set(b.held) == set(range(COUNT))


def test_status_shows_the_processes_and_their_shards(make: Callable[[str], ShardLeases], clock: Clock,
                                                      backend: str) -> None:  # fmt: skip
    from click.testing import CliRunner

    from playbook.cli.main import cli
    from playbook.runtime.report import status

    if backend != "postgresql":
        pytest.skip("scale-out needs PostgreSQL")
    a, b, c = make("a"), make("b"), make("c")
    a.store.record_shards(COUNT)
    _settle([a, b])
    c.heartbeat()
    clock.advance(4)
    a.heartbeat()
    doc = status(a.store)["deployment"]
    assert doc["shards"] == COUNT and doc["free"] == "-" and doc["expired"] == "-"
    rows = {p["owner"]: p for p in doc["processes"]}
    assert set(rows) == {"a", "b", "c"}
    assert (rows["a"]["held"], rows["b"]["held"], rows["c"]["held"]) == (4, 4, 0)
    assert rows["a"]["lease_age"] == 0.0 and rows["b"]["lease_age"] == 4.0
    assert rows["a"]["shards"] == ranges(a.held) and rows["c"]["shards"] == "-"
    b.release()
    doc = status(a.store)["deployment"]
    assert doc["free"] == rows["b"]["shards"] and {p["owner"] for p in doc["processes"]} == {"a", "c"}
    url = a.store.url
    for lang, words in (("en", "deployment: 8 shards over 2 processes"), ("zh", "部署：8 个分片，分布在 2 个进程上")):
        result = CliRunner().invoke(cli, ["--lang", lang, "status", "--db", url], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert words in result.output
    result = CliRunner().invoke(cli, ["status", "--db", url, "--format", "json"])
    assert '"deployment"' in result.output
