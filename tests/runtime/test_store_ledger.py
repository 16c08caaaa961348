"""The touch ledger: compare-and-set claims (two processes never both send), settling,
retries, reconciliation, leases and status counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from playbook.runtime.rows import Journal, Settlement, TouchRow
from playbook.runtime.store import Store

V = "pb-000000000001"
T0 = 1796086800


def _pending(store: Store, n: int, *, accounts: int = 1, at: int = T0) -> list[str]:
    store.save_version({"version": V, "name": "x"})
    rows = [TouchRow(f"{V}/j/c{i:04d}/n1/1", V, "j", "dm", "dm", at, "pending", account=f"a{i % accounts}",
                     contact=f"c{i:04d}", at=at, text="hi", outcome="ok", next_attempt_at=at + i % 3)
            for i in range(n)]  # fmt: skip
    store.write(Journal(touches=rows))
    return [r.key for r in rows]


def _race(open_store: Callable[..., Store], claimers: int, work: Callable[[Store, str], list[str]]) -> list[list[str]]:
    """Run `work` in threads, each with its own store (connections), started together."""
    barrier = threading.Barrier(claimers)
    results: list[list[str]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        store = open_store()
        try:
            barrier.wait()
            results[i] = work(store, f"p{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(claimers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return results


def test_two_claimers_of_the_same_touches_one_wins_each(store: Store, open_store: Callable[..., Store]) -> None:
    keys = _pending(store, 60)
    for round_ in range(3):  # several races; each key must go to exactly one claimer
        if round_:
            store.transition(keys, "sending", "pending")
        won = _race(open_store, 2, lambda s, me: s.transition(keys, "pending", "sending", owner=me))
        assert sorted(won[0] + won[1]) == sorted(keys)
        assert not set(won[0]) & set(won[1])
    rows = store.touches(keys=keys)
    assert {r.state for r in rows} == {"sending"}


def test_concurrent_claim_due_takes_each_touch_once(store: Store, open_store: Callable[..., Store]) -> None:
    keys = _pending(store, 300, accounts=4)

    def claim_all(s: Store, me: str) -> list[str]:
        mine: list[str] = []
        while batch := s.claim_due(T0 + 10, owner=me, limit=25):
            mine += [r.key for r in batch]
        return mine

    won = _race(open_store, 3, claim_all)
    everything = [k for w in won for k in w]
    assert sorted(everything) == sorted(keys) and len(set(everything)) == len(keys)
    rows = {r.key: r for r in store.touches()}
    for i, mine in enumerate(won):
        assert all(rows[k].owner == f"p{i}" and rows[k].attempts == 1 for k in mine)


def test_claim_due_respects_time_accounts_and_order(store: Store) -> None:
    _pending(store, 9, accounts=3)
    assert store.claim_due(T0 - 1, owner="p") == []
    first = store.claim_due(T0, owner="p", accounts=["a0", "a1"])
    assert [r.contact for r in first] == ["c0000", "c0003", "c0006"]  # due at T0 (i % 3 == 0), a0 and a1 only
    rest = store.claim_due(T0 + 5, owner="p")
    assert [r.next_attempt_at for r in rest] == sorted(r.next_attempt_at for r in rest)
    assert len(first) + len(rest) == 9


def test_settle_retry_and_dead_letters(store: Store) -> None:
    keys = _pending(store, 4)
    claimed = store.claim_due(T0 + 10, owner="p1")
    assert len(claimed) == 4
    lost = store.settle([
        Settlement(keys[0], "sent", adapter="console", adapter_ref="msg-1"),
        Settlement(keys[1], "failed", error="HTTP 503", adapter="webhook", next_attempt_at=T0 + 70),
        Settlement(keys[2], "dead", error="40003 invalid openid", adapter="wecom"),
    ], owner="p1")  # fmt: skip
    assert lost == []
    assert store.settle([Settlement(keys[3], "sent")], owner="someone else") == [keys[3]]
    rows = {r.key: r for r in store.touches()}
    assert (rows[keys[0]].state, rows[keys[0]].adapter_ref, rows[keys[0]].error) == ("sent", "msg-1", None)
    assert (rows[keys[1]].state, rows[keys[1]].next_attempt_at) == ("failed", T0 + 70)
    assert (rows[keys[2]].state, rows[keys[2]].error) == ("dead", "40003 invalid openid")
    assert rows[keys[3]].state == "sending"
    # a failed touch is due again at next_attempt_at, and counts its attempts
    assert store.claim_due(T0 + 69, owner="p2") == []
    (retry,) = store.claim_due(T0 + 70, owner="p2")
    assert (retry.key, retry.attempts, retry.owner) == (keys[1], 2, "p2")
    assert store.settle([Settlement(keys[1], "sent", adapter_ref="msg-2")], owner="p1") == [keys[1]]  # not p1's now
    with pytest.raises(ValueError, match="cannot become"):
        store.settle([Settlement(keys[1], "held")], owner="p2")


def test_reconcile_sending_rows_after_a_crash(store: Store) -> None:
    keys = _pending(store, 3)
    store.claim_due(T0 + 10, owner="crashed")
    stuck = store.touches(states=["sending"], owner="crashed")
    assert [r.key for r in stuck] == keys
    # the adapter confirms one; the others cannot be known: never re-sent blindly
    assert store.transition([keys[0]], "sending", "sent", adapter_ref="found") == [keys[0]]
    moved = store.transition(keys[1:], "sending", "unknown", error="crashed while sending; the adapter cannot tell")
    assert moved == keys[1:]
    assert store.transition(keys, "sending", "pending") == []  # nothing is sending any more
    with pytest.raises(ValueError, match="unknown touch state"):
        store.transition(keys, "unknown", "nope")
    with pytest.raises(ValueError, match="not touch columns"):
        store.transition(keys, "unknown", "pending", colour="red")


def test_status_counts(store: Store) -> None:
    keys = _pending(store, 5)
    store.claim_due(T0 + 10, owner="p")
    dead = Settlement(keys[0], "dead", error="permanent")
    failed = Settlement(keys[1], "failed", error="transient", next_attempt_at=T0 + 99)
    store.settle([dead, failed], owner="p")
    store.activate_version(V)
    status = store.status()
    assert status.touches == {"dead": 1, "failed": 1, "sending": 3}
    assert [r.error for r in status.dead] == ["permanent"]
    assert [r.error for r in status.errors] == ["transient"]
    assert [v.version for v in status.versions] == [V] and status.versions[0].document is None
    assert (status.timers, status.next_due, status.contacts, status.accounts) == (0, None, 0, 0)


def test_leases(store: Store, open_store: Callable[..., Store]) -> None:
    clock: dict[str, Any] = {"now": store.now()}
    import datetime as dt

    a = open_store(now=lambda: clock["now"])
    b = open_store(now=lambda: clock["now"])
    assert a.acquire_lease(3, "a", ttl=30)
    assert not b.acquire_lease(3, "b", ttl=30)
    assert a.acquire_lease(3, "a", ttl=30)  # renewal
    clock["now"] += dt.timedelta(seconds=31)  # a died: its lease ran out
    assert b.acquire_lease(3, "b", ttl=30)
    assert not a.release_lease(3, "a")
    assert b.release_lease(3, "b")
    assert a.acquire_lease(3, "a", ttl=30)
    assert [(shard, owner) for shard, owner, _ in a.leases()] == [(3, "a")]
    won = _race(open_store, 4, lambda s, me: [me] if s.acquire_lease(7, me, ttl=60) else [])
    assert sum(len(w) for w in won) == 1
