"""The writer's lease: one holder per store, a fencing token bumped at every take-over,
and every write under a fence refused (nothing written) once another process took it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest

from playbook.runtime.rows import Journal, Settlement, TouchRow
from playbook.runtime.store import Fence, Holder, LeaseLost, Store

V = "pb-000000000001"
T0 = 1796086800


def _clocked(open_store: Callable[..., Store], clock: dict[str, Any]) -> Store:
    return open_store(now=lambda: clock["now"])


def _pending(store: Store, n: int) -> list[str]:
    store.save_version({"version": V, "name": "x"})
    rows = [TouchRow(f"{V}/j/c{i:04d}/n1/1", V, "j", "dm", "dm", T0, "pending", account="a", contact=f"c{i:04d}",
                     at=T0, text="hi", outcome="ok", next_attempt_at=T0) for i in range(n)]  # fmt: skip
    store.write(Journal(touches=rows))
    return [r.key for r in rows]


def test_one_holder_then_take_over_at_expiry_with_a_new_token(store: Store, open_store: Callable[..., Store]) -> None:
    clock: dict[str, Any] = {"now": store.now()}
    a, b = _clocked(open_store, clock), _clocked(open_store, clock)
    token = a.take_lease("A", 10, host="h1", pid=11)
    assert token == 1
    held = b.take_lease("B", 10, host="h2", pid=22)
    assert isinstance(held, Holder)
    assert (held.owner, held.host, held.pid, held.token) == ("A", "h1", 11, 1)
    assert b.lease_holder() == held
    fence = Fence(0, "A", 1)
    clock["now"] += dt.timedelta(seconds=8)
    assert a.renew_lease(fence, 10)  # renewed: still held 9 s later
    clock["now"] += dt.timedelta(seconds=9)
    assert isinstance(b.take_lease("B", 10, host="h2", pid=22), Holder)
    clock["now"] += dt.timedelta(seconds=2)  # expired: B takes it, with the next token
    assert b.take_lease("B", 10, host="h2", pid=22) == 2
    assert not a.renew_lease(fence, 10)  # A cannot extend what it lost
    assert not a.give_up_lease(fence)
    assert b.give_up_lease(Fence(0, "B", 2))
    assert a.lease_holder() is None  # released: free at once, no wait for the expiry
    assert a.take_lease("A", 10, host="h1", pid=11) == 3


def test_writes_under_a_lost_lease_write_nothing(store: Store, open_store: Callable[..., Store]) -> None:
    clock: dict[str, Any] = {"now": store.now()}
    a, b = _clocked(open_store, clock), _clocked(open_store, clock)
    keys = _pending(store, 4)
    a.fence = Fence(0, "A", a.take_lease("A", 5, host="h", pid=1))  # type: ignore[arg-type]
    claimed = a.claim_due(T0 + 10, "A", limit=2)
    assert len(claimed) == 2
    clock["now"] += dt.timedelta(seconds=6)  # A paused past its lease; B takes over
    b.fence = Fence(0, "B", b.take_lease("B", 5, host="h", pid=2))  # type: ignore[arg-type]
    before = {r.key: r.state for r in store.touches()}
    with pytest.raises(LeaseLost, match="held by B"):
        a.settle([Settlement(r.key, "sent", None, "jsonl") for r in claimed], "A")
    with pytest.raises(LeaseLost):
        a.claim_due(T0 + 10, "A")
    with pytest.raises(LeaseLost):
        a.transition(keys, "sending", "unknown")
    with pytest.raises(LeaseLost):
        a.write(Journal(engine_state={"clock": 1}))
    assert {r.key: r.state for r in store.touches()} == before
    assert b.transition([claimed[0].key], "sending", "pending") == [claimed[0].key]  # the holder writes


def test_a_race_for_the_lease_has_one_winner(store: Store, open_store: Callable[..., Store]) -> None:
    barrier = threading.Barrier(4)
    won: list[int] = []

    def run(i: int) -> None:
        s = open_store()
        barrier.wait()
        got = s.take_lease(f"p{i}", 30, host="h", pid=i)
        if isinstance(got, int):
            won.append(got)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert won == [1]


def test_the_guard_before_an_adapter_call_renews_a_stale_lease_and_refuses_a_lost_one(
    store: Store, open_store: Callable[..., Store]
) -> None:
    from playbook.runtime.lease import WriterLease

    clock: dict[str, Any] = {"now": store.now()}
    ticks = [0.0]
    a, b = _clocked(open_store, clock), _clocked(open_store, clock)
    lease = WriterLease(a, "A", 10, monotonic=lambda: ticks[0])
    assert lease.take() is None and a.fence == Fence(0, "A", 1)
    expiry = a.lease_holder().expires_at  # type: ignore[union-attr]
    ticks[0] = 4.0  # fresh enough (under ttl/2): no renewal, no store write
    clock["now"] += dt.timedelta(seconds=4)
    lease.ensure_fresh()
    assert a.lease_holder().expires_at == expiry  # type: ignore[union-attr]
    ticks[0] = 6.0  # older than ttl/2: renewed before the call
    clock["now"] += dt.timedelta(seconds=2)
    lease.ensure_fresh()
    assert a.lease_holder().expires_at == clock["now"] + dt.timedelta(seconds=10)  # type: ignore[union-attr]
    ticks[0] = 30.0  # stopped for 24 s: B took over meanwhile
    clock["now"] += dt.timedelta(seconds=24)
    assert b.take_lease("B", 10, host="h", pid=2) == 2
    with pytest.raises(LeaseLost, match="held by B"):
        lease.ensure_fresh()
    with pytest.raises(LeaseLost):
        lease.ensure_fresh()  # and stays refused
    lease.release()  # gives nothing up: it is B's
    assert a.lease_holder().owner == "B"  # type: ignore[union-attr]
