"""The daemon's hold on its store: one writer per shard — with one shard, per store.

A `WriterLease` takes the store's lease row (`Store.take_lease`: owner, host, pid, since,
expiry) before the daemon decides or reconciles anything, and sets the store's `fence`, so
every later write of this process checks, in its own transaction, that the lease still
carries our token. A thread renews it every third of its time to live. A process paused
past its expiry (SIGSTOP, a frozen VM) that another one took over from finds, when it
resumes, its renewal and every write refused (`LeaseLost`) and stops.

Writes to the store are fenced by the transaction itself; a call to the adapter is not (the
platform knows nothing of our tokens). So before each adapter call the dispatcher asks
`ensure_fresh`: if the last successful renewal is older than half the time to live (by the
monotonic clock, which runs on while a process is stopped), the lease is renewed first —
refused if another process took it. A taker waits for the expiry, so a call starts at most
ttl/2 after a renewal that proved the lease ours, and the new holder's reconcile comes at
least ttl/2 after that.

With several shards (`[daemon] shards`, scale-out), `ShardLeases` spreads them over the
live processes: each process renews its row in `processes` (a heartbeat) and holds one
`WriterLease` per shard it runs, each fencing the writes of that shard's view of the store
(`Store.view`) with that shard's token. `balance()` renews what is held (a refused renewal:
the shard is lost — its engine is dropped and never writes again), and compares what is
held with the fair share, ceil(shards / live processes): below it, free or expired shards
are taken (each take bumps that shard's token); above it, the extra shards are named for
the daemon to give up once its current step is committed.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from playbook.i18n import t
from playbook.runtime.store import STORE_SHARD, Fence, Holder, LeaseLost, Store, StoreError

log = logging.getLogger("playbook.daemon")


def describe(holder: Holder) -> str:
    since = holder.since.isoformat(timespec="seconds") if holder.since is not None else "?"
    until = holder.expires_at.isoformat(timespec="seconds") if holder.expires_at is not None else "?"
    return t("{host} pid {pid} (owner {owner}), since {since}, lease until {until}", host=holder.host or "?",
             pid=holder.pid if holder.pid is not None else "?", owner=holder.owner, since=since,
             until=until)  # fmt: skip


class WriterLease:
    def __init__(self, store: Store, owner: str, ttl: float, *, shard: int = STORE_SHARD,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.shard = shard
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.fence: Fence | None = None
        self.lost: LeaseLost | None = None
        self._monotonic = monotonic
        self._renewed = 0.0  # monotonic time of the last successful take or renewal
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> Holder | None:
        """Take the lease if it is free: None, and the store's writes are fenced from now on.
        Otherwise who holds it."""
        started = self._monotonic()
        got = self.store.take_lease(self.owner, self.ttl, host=self.host, pid=self.pid, shard=self.shard)
        if isinstance(got, Holder):
            return got
        self.fence = Fence(self.shard, self.owner, got)
        self.store.fence = self.fence
        self._renewed = started
        return None

    def wait(self, stopping: threading.Event, poll: float | None = None) -> bool:
        """As a standby: try until the lease is ours (True) or `stopping` is set (False)."""
        poll = poll if poll is not None else min(1.0, self.ttl / 5)
        shown: str | None = None
        unreachable = False
        while not stopping.is_set():
            try:
                holder = self.take()
                unreachable = False
            except StoreError as exc:
                if not unreachable:  # once per spell, not every poll
                    log.warning(t("standby: cannot reach the store, trying again: {reason}", reason=exc))
                unreachable = True
                holder = None
            if self.fence is not None:
                return True
            if holder is not None and holder.owner != shown:
                shown = holder.owner
                log.info(t("standby: the store is held by {holder}; taking over when its lease ends",
                           holder=describe(holder)))  # fmt: skip
            stopping.wait(poll)
        return False

    # ---- while held ----------------------------------------------------------------------------
    def start(self, on_lost: Callable[[LeaseLost], None]) -> None:
        """Renew every ttl/3 in a thread; `on_lost` is called once if the lease was taken."""

        def renew() -> None:
            while not self._stop.wait(self.ttl / 3):
                try:
                    self.renew()
                except LeaseLost as exc:
                    on_lost(exc)
                    return
                except StoreError as exc:  # the store is down: the daemon reports it; keep trying
                    log.debug("lease renewal failed: %s", exc)

        self._thread = threading.Thread(target=renew, name="lease", daemon=True)
        self._thread.start()

    def renew(self) -> None:
        """Extend the lease now; LeaseLost if another process holds it."""
        assert self.fence is not None
        with self._lock:
            if self.lost is not None:
                raise self.lost
            started = self._monotonic()
            if not self.store.renew_lease(self.fence, self.ttl):
                self.lost = LeaseLost(self.fence, self.store.lease_holder(self.shard))
                raise self.lost
            self._renewed = max(self._renewed, started)

    def ensure_fresh(self) -> None:
        """Before an adapter call: renew first if the last renewal is older than ttl/2."""
        if self.lost is not None:
            raise self.lost
        if self._monotonic() - self._renewed > self.ttl / 2:
            self.renew()

    def release(self) -> None:
        """At a clean stop: stop renewing and give the lease up, so a standby takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.fence is None or self.lost is not None:
            return
        try:
            self.store.give_up_lease(self.fence)
        except StoreError as exc:
            log.warning(t("could not give up the store's lease (it ends by itself at its expiry): {reason}",
                          reason=exc))  # fmt: skip


@dataclass
class Balance:
    """What a `ShardLeases.balance()` found: shards taken now (restore their engines), lost
    (their renewal was refused: drop them without writing), and extra (above the fair share:
    give them up once the step in hand is committed)."""

    taken: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)


class ShardLeases:
    """One process's shards of a deployment (see the module's docstring)."""

    def __init__(self, store: Store, owner: str, ttl: float, count: int, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.count = count
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.held: dict[int, WriterLease] = {}
        self._monotonic = monotonic
        self._lost: set[int] = set()  # found by the renewal thread, handed over at the next balance
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the process ------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        self.store.heartbeat(self.owner, self.ttl, host=self.host, pid=self.pid)

    def target(self) -> int:
        """The fair share: ceil(shards / live processes), this one counted."""
        live = {row.owner for row in self.store.processes()} | {self.owner}
        return math.ceil(self.count / len(live))

    def start(self) -> None:
        """Heartbeat and renew every ttl/3 in a thread (a renewal refused: the shard is lost)."""

        def renew() -> None:
            while not self._stop.wait(self.ttl / 3):
                try:
                    self.heartbeat()
                    self._renew_held()
                except StoreError as exc:  # the store is down: the daemon reports it; keep trying
                    log.debug("lease renewal failed: %s", exc)

        self._thread = threading.Thread(target=renew, name="leases", daemon=True)
        self._thread.start()

    def _renew_held(self) -> None:
        with self._lock:
            leases = list(self.held.items())
        for shard, lease in leases:
            try:
                lease.renew()
            except LeaseLost:
                with self._lock:
                    self._lost.add(shard)

    # ---- taking and giving up -------------------------------------------------------------------------
    def balance(self) -> Balance:
        """Renew, then take or name shards to reach the fair share (see `Balance`)."""
        self.heartbeat()
        self._renew_held()
        found = Balance()
        with self._lock:
            found.lost = sorted(self._lost & set(self.held))
            self._lost.clear()
            for shard in found.lost:
                self.held.pop(shard)
        target = self.target()
        if len(self.held) < target:
            free = self.store.free_shards(self.count)
            start = sum(self.owner.encode()) % max(len(free), 1)  # processes starting together try different shards first
            for shard in free[start:] + free[:start]:
                if len(self.held) >= target:
                    break
                lease = WriterLease(self.store.view(shard), self.owner, self.ttl, shard=shard,
                                    monotonic=self._monotonic)  # fmt: skip
                if lease.take() is None:
                    with self._lock:
                        self.held[shard] = lease
                    found.taken.append(shard)
        elif len(self.held) > target:
            found.extra = sorted(self.held)[target:]
        return found

    def lease(self, shard: int) -> WriterLease:
        return self.held[shard]

    def drop(self, shard: int) -> None:
        """A shard found lost while working on it (a write or the platform refused our token)."""
        with self._lock:
            self.held.pop(shard, None)

    def give_up(self, shard: int) -> None:
        """Give a shard up (its engine's last step committed): the others may take it at once."""
        with self._lock:
            lease = self.held.pop(shard, None)
        if lease is not None:
            lease.release()

    def release(self) -> None:
        """At a clean stop: every shard given up at once and this process's row gone."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for shard in sorted(self.held):
            self.give_up(shard)
        try:
            self.store.leave(self.owner)
        except StoreError as exc:
            log.debug("could not remove this process's row: %s", exc)
