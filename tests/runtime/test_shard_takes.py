"""A process restores the shards it takes one at a time (issue 18, failover time): their
leases at once, then each engine between the turns of the shards already running, so a
shard runs as soon as its own rows are restored. The cyclic collector stays paused until
none is left to restore; a shard given up or lost before its restore is never restored.
In this process, on real PostgreSQL (scale-out is PostgreSQL's)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from playbook.runtime.config import load_config
from playbook.runtime.daemon import Daemon, RunOptions, _Held
from playbook.runtime.decide import Decider
from playbook.runtime.lease import ShardLeases
from playbook.runtime.store import Store
from playbook.vocab.model import Event
from playbook.vocab.shards import shard_of
from tests.runtime.processes import read_jsonl

SHARDS = 4
PLAYBOOK = """\
playbook "欢迎"
timezone "Asia/Shanghai"
journey 欢迎 {
  on friend_added
  dm 欢迎语
}
content 欢迎语 = "{name|亲}，欢迎！"
"""


@pytest.fixture
def deployment(tmp_path: Path, store_url: str) -> Iterator[tuple[Daemon, Store, Path]]:
    """A 4-shard store with one account on each shard and a new friend of each waiting."""
    if not store_url.startswith("postgresql"):
        pytest.skip("several shards are PostgreSQL's (a SQLite store is one process)")
    accounts: dict[int, str] = {}
    n = 0
    while len(accounts) < SHARDS:
        accounts.setdefault(shard_of(f"a{n}", SHARDS), f"a{n}")
        n += 1
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "playbook.toml").write_text(
        f'[store]\nurl = "{store_url}"\n[adapter]\nname = "jsonl"\n[adapter.options]\n'
        f'path = "{tmp_path / "outbox.jsonl"}"\n[daemon]\nshards = {SHARDS}\napprove = "never"\n',
        encoding="utf-8",
    )
    store = Store(store_url)
    store.migrate()
    store.import_records("accounts", [{"id": a, "name": f"店{a}"} for a in accounts.values()])
    store.record_shards(SHARDS)
    now = int(time.time())
    store.append_events([Event("friend_added", f"c{shard}", now, {"account": a, "name": f"客{shard}"})
                         for shard, a in accounts.items()], "cli")  # fmt: skip
    daemon = Daemon(load_config(tmp_path / "playbook.toml"), RunOptions([str(tmp_path / "p.pb")]))
    daemon._current = Decider(store, [str(tmp_path / "p.pb")]).compile()
    was = gc.isenabled()  # an earlier test in this process may have left it off (`plan` turns it off)
    gc.enable()
    try:
        yield daemon, store, tmp_path
    finally:
        if not was:
            gc.disable()
        store.close()


def _sent(tmp: Path) -> list[str]:
    path = tmp / "outbox.jsonl"
    return sorted(line["contact"] for line in read_jsonl(path)) if path.exists() else []


def test_taken_shards_are_restored_one_at_a_time_and_run_at_once(
    deployment: tuple[Daemon, Store, Path], caplog: pytest.LogCaptureFixture
) -> None:
    daemon, store, tmp = deployment
    leases = ShardLeases(store, daemon.owner, 15.0, SHARDS)
    leases.heartbeat()
    adapter = daemon._open_adapter(store, None)
    held = _Held()
    try:
        with caplog.at_level(logging.INFO, logger="playbook"):
            daemon._rebalance(leases, held)
            assert sorted(held.pending) == list(range(SHARDS)) and held.work == {}  # leases now, engines later
            assert sorted(leases.held) == list(range(SHARDS))
            daemon._restore_next(leases, adapter, held)
            (first,) = held.work
            assert not gc.isenabled()  # paused while shards remain to restore
            daemon._shard_turn(leases, held, first)
            assert _sent(tmp) == [f"c{first}"]  # it runs before the others are restored
            assert "holding shards" not in caplog.text
            while held.pending:
                daemon._restore_next(leases, adapter, held)
            held.resume_collector()
            assert gc.isenabled()
            for shard in sorted(held.work):
                daemon._shard_turn(leases, held, shard)
        assert _sent(tmp) == [f"c{s}" for s in range(SHARDS)]  # each once
        said = [r.getMessage() for r in caplog.records if "holding shards" in r.getMessage()]
        assert said == ["holding shards 0-3 of 4 (took 0-3, gave up -, lost -)"], said
    finally:
        for w in held.work.values():
            w.dispatcher.close()
        leases.release()
        adapter.close()


def test_a_shard_given_up_before_its_restore_is_never_restored(deployment: tuple[Daemon, Store, Path]) -> None:
    daemon, store, tmp = deployment
    leases = ShardLeases(store, daemon.owner, 15.0, SHARDS)
    leases.heartbeat()
    adapter = daemon._open_adapter(store, None)
    other = ShardLeases(Store(store.url), "other", 15.0, SHARDS)
    held = _Held()
    try:
        daemon._rebalance(leases, held)
        daemon._restore_next(leases, adapter, held)
        assert len(held.work) == 1 and len(held.pending) == SHARDS - 1
        other.heartbeat()  # a second process joins: the share is 2
        daemon._rebalance(leases, held)
        assert len(leases.held) == 2  # the two extra shards given up, restored or not
        assert set(held.pending) | set(held.work) == set(leases.held)
        assert len(held.pending) + len(held.work) == 2
        taken = other.balance().taken
        assert sorted(taken) == sorted(set(range(SHARDS)) - set(leases.held))  # given up at once, not after a restore
        while held.pending:
            daemon._restore_next(leases, adapter, held)
        held.resume_collector()
        assert gc.isenabled() and sorted(held.work) == sorted(leases.held)
        for shard in sorted(held.work):
            daemon._shard_turn(leases, held, shard)
        assert _sent(tmp) == sorted(f"c{s}" for s in held.work)  # the given-up shards' friends wait for their owner
    finally:
        for w in held.work.values():
            w.dispatcher.close()
        leases.release()
        other.release()
        other.store.close()
        adapter.close()
