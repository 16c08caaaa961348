"""`playbook run`: the daemon — deciding, dispatching, intake, reloads and a clean stop.

One loop on the main thread, woken by APScheduler: an interval job (the due-timer tick,
every `[daemon] tick` seconds) and a date job set to the engine's next timeline item, so a
step, a schedule firing or a held touch's release is decided on time rather than at the
next tick. Playbook schedules are timeline items of the engine (one notion of time for
plan and run); APScheduler is the clock that wakes the loop for them. Each wake-up:

1. reload if asked (SIGHUP) or a playbook file changed — a broken edit is reported and
   the running versions carry on;
2. decide (`Decider.step`): events in, engine to now, one commit;
3. dispatch rounds until nothing more is due.

SIGTERM / SIGINT stop the loop after the round in flight: its adapter calls finish and
are settled, then the adapter, intake and store close and the process exits 0.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from playbook.adapters.base import Adapter, Fenced
from playbook.diagnostics import PlaybookError, render_all
from playbook.i18n import t
from playbook.runtime.config import DaemonConfig, intake_settings, load_secrets
from playbook.runtime.decide import Decider, LoadReport
from playbook.runtime.dispatch import Dispatcher, RetryPolicy
from playbook.runtime.importing import sync_contacts
from playbook.runtime.lease import Balance, ShardLeases, WriterLease, describe
from playbook.runtime.logs import RELOAD_REFUSED, refused_record
from playbook.runtime.rows import Journal
from playbook.runtime.store import LeaseLost, ShardCountRefused, Store, StoreError
from playbook.vocab.shards import ranges

log = logging.getLogger("playbook.daemon")
IDS_PRUNED_EVERY = 3600.0  # seconds between forgetting old event ids
LOOK_EVERY = 1.0  # seconds between two looks at the shares (scale-out): free shards are taken within it
RESTORE_SLICE = 1.0  # scale-out: seconds of restoring taken shards between two rounds of the running shards' turns
# Scale-out: a shard whose turn did nothing is *idle*: its next turns are skipped (its engine's
# clock moved on in memory; receipts and event-id pruning still done when due) until it may
# have work (`Daemon._to_turn`). What a turn can find, and what makes an idle shard's turn run:
# - unprocessed events of the shard (the intake, `playbook event`, an adapter's callbacks,
#   a platform sync, another process; those moved with a contact handed over): the probe
#   (`Store.waiting`, one query a loop iteration for every idle shard of the process);
# - a contact handed over to the shard (its generation bumped, its rows moved): the probe;
# - forwards waiting (other shards' escalation tasks for its accounts): the probe;
# - ledger rows a claim would take (pending — requeued by hand, put off by the adapter's
#   throttle — or failed with their retry time come): the probe;
# - contacts or accounts imported (`playbook import`, a platform sync), approvals asked,
#   decided or replaced: the probe (store-wide counts: a change turns every shard once);
# - timeline items (steps, schedule firings, held touches released, SLA checks, the day
#   tick): `Decider.next_due`;
# - a reload (SIGHUP, a playbook file changed): every shard turns;
# - the platform's contacts to read (`Adapter.sync_due`, store-wide): a shard turns;
# - what a turn leaves in memory for the next (welcomes and spent quota counted, a round's
#   results the store refused): such a turn did something, or met an outage — not idle.
# The safety net: an idle shard turns anyway IDLE_CHECK ticks after its last turn — at most
# 1/IDLE_CHECK of the shards in one loop iteration, the longest idle first, so a quiet
# process's shards do not all turn in the same second. Nothing above relies on it; it bounds
# how long anything unforeseen (a row written by hand) waits.
IDLE_CHECK = 60  # ticks ([daemon] tick: a minute by default)
EXIT_HELD = 3  # another process holds the store's lease (refused, or lost while running)
EXIT_CONFIG = 2  # the configuration cannot run on this store (another count of shards)
_T = TypeVar("_T")


class _Stopped(Exception):
    """A stop came while waiting for the store to come back."""


class _Outage:
    """One spell of the store being unavailable: one clear error when it starts (what,
    where, what to do), quiet retries with exponential backoff, one line when it ends."""

    def __init__(self, daemon: Daemon, exc: StoreError) -> None:
        self.daemon = daemon
        self.started = time.monotonic()
        self.delay = 0.5
        self.tries = 0
        log.error(t("the store is unavailable: {reason}. Deciding and sending are paused and the HTTP intake answers "
                    "503 meanwhile; trying again with backoff (at most every {cap} s). Check that the database is "
                    "running and reachable, that its disk is not full and that it is writable.", reason=exc,
                    cap=daemon.config.daemon.store_retry_cap))  # fmt: skip

    def wait(self) -> None:
        self.tries += 1
        if self.daemon._stopping.wait(self.delay):
            raise _Stopped()
        self.delay = min(self.delay * 2, self.daemon.config.daemon.store_retry_cap)

    def failed(self, exc: StoreError) -> None:
        log.debug("the store is still unavailable: %s", exc)

    def over(self) -> None:
        log.warning(t("the store is back after {seconds} s ({tries} tries); carrying on from what it holds",
                      seconds=round(time.monotonic() - self.started, 1), tries=self.tries))  # fmt: skip


@dataclass
class RunOptions:
    paths: Sequence[str]
    migrate: bool = False
    once: bool = False  # decide and dispatch what is due now, then stop (cron-style use, tests)
    standby: bool = False  # wait for the store's lease instead of refusing when another process holds it
    yes: bool = False  # approve at the start what waits for approval (scripted use)


@dataclass
class _ShardWork:
    """A shard this process holds: its engine and its dispatcher, over the shard's view of
    the store (reads of its rows, writes fenced by its lease)."""

    decider: Decider
    dispatcher: Dispatcher
    idle: bool = False  # its last turn did nothing: skipped until it may have work (IDLE_CHECK)
    turned_at: float = 0.0  # when its last turn started (the daemon's clock)


@dataclass
class _Held:
    """The shards this process holds: those running (`work`), those taken and still to
    restore (`pending`, in the order taken), and what changed since the last log line."""

    work: dict[int, _ShardWork] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)
    taken: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    collector_paused: bool = False  # by `_restore_next`, until `pending` is empty
    seen: tuple[int, int] | None = None  # the store-wide counts (imports, approval changes) the last probe found

    def note(self, found: Balance) -> None:
        self.taken += found.taken
        self.extra += found.extra
        self.lost += found.lost

    def pause_collector(self) -> None:
        """While shards are restored one after another: each restore makes objects by the
        hundred thousand that all stay alive, which the cyclic collector would walk again
        after every shard (a fifth of a 1M-contact start). `resume_collector` once none is
        pending, or at the end."""
        if gc.isenabled():
            gc.disable()
            self.collector_paused = True

    def resume_collector(self) -> None:
        if self.collector_paused:
            self.collector_paused = False
            gc.enable()


class Daemon:
    def __init__(self, config: DaemonConfig, options: RunOptions, *, adapter: Adapter | None = None,
                 clock: Callable[[], float] = time.time):  # fmt: skip
        self.config = config
        self.options = options
        self.clock = clock
        self._adapter = adapter
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reload = threading.Event()
        self._mtimes: dict[Path, float] = {}
        self._ids_pruned_at = 0.0  # when event ids older than [intake] remember_ids were last forgotten
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self._lost: LeaseLost | None = None
        # The timezone log lines are stamped in (runtime/logs.py): the store's playbook's
        # until the playbooks are loaded, then the newest current one's.
        self.timezone = "UTC"
        self._in_use: Adapter | None = None  # the adapter run() opened (told the timezone too)
        self._current: list[dict[str, Any]] = []  # scale-out: the playbooks compiled once for every shard
        self._logged_load = False

    # ---- control (signal handlers and tests) ----------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def stop(self, *_: Any) -> None:
        self._stopping.set()
        self._wake.set()

    def reload(self, *_: Any) -> None:
        self._reload.set()
        self._wake.set()

    # ---- the process -------------------------------------------------------------------------------
    def run(self) -> int:
        cfg = self.config
        store = Store(cfg.store.url, idle_in_transaction=cfg.daemon.lease, busy_timeout=cfg.daemon.busy_timeout)
        adapter = self._adapter
        scheduler = None
        intake = None
        dispatcher = None
        lease = None
        try:
            settings = None if self.options.once else self._intake_settings()
            self._install_signals()  # a stop ends a wait for the store or its lease too
            if settings is not None:  # up first: while starting (or the store is away) it answers 503
                intake = self._early_intake(store, settings)
            self._surviving(store.migrate)
            from playbook.runtime.importing import store_timezone

            self.timezone = self._surviving(lambda: store_timezone(store))
            shards = cfg.daemon.shards
            self._surviving(lambda: store.record_shards(shards))  # refused: another count, or SQLite
            if shards > 1:  # scale-out: this process runs the shards it gets of the live processes' share
                lease = ShardLeases(store, self.owner, cfg.daemon.lease, shards)
                adapter = self._open_adapter(store, adapter)
                return self._run_shards(store, lease, adapter, settings, intake)
            # one writer per store: nothing is decided or reconciled before the lease is ours
            lease = WriterLease(store, self.owner, cfg.daemon.lease)
            if not self._surviving(lambda: self._hold(lease, store)):
                return 0 if self._stopping.is_set() else EXIT_HELD
            lease.start(self._lease_lost)
            adapter = self._open_adapter(store, adapter)
            caps = adapter.capabilities
            d = cfg.daemon
            decider = Decider(store, self.options.paths, shared_limits=caps.limits,
                              can_dissolve_groups=caps.dissolve_groups, grace=int(d.grace),
                              sync_tags=caps.tags, approve=d.approve, yes=self.options.yes)  # fmt: skip
            loaded = self._surviving(lambda: decider.load(int(self.clock()), migrate=self.options.migrate))
            self._surviving(lambda: self._after_load(decider))
            self._log_load(loaded)
            self._mtimes = self._playbook_mtimes()
            dispatcher = Dispatcher(store, adapter, owner=self.owner, adapter_name=cfg.adapter.name, batch=d.batch,
                                    workers=d.workers, at_least_once=cfg.adapter.at_least_once, clock=self.clock,
                                    retry=RetryPolicy(d.max_attempts, d.backoff, d.backoff_cap),
                                    guard=lease.ensure_fresh)  # fmt: skip
            assert lease.fence is not None
            adapter.fence(lease.fence.token)  # calls of an older holder are refused from now on
            reconciled = self._surviving(dispatcher.reconcile)
            if reconciled.unknown or reconciled.sent or reconciled.resent or reconciled.absent:
                log.warning(t("after a stop during dispatch: {sent} found sent, {resent} to send again, {unknown} unknown",
                              sent=reconciled.sent, resent=reconciled.resent + reconciled.absent,
                              unknown=reconciled.unknown))  # fmt: skip
                if reconciled.unknown:
                    log.warning(t("{n} touches are unknown: the adapter cannot tell whether they went out; check with "
                                  "`playbook status`, then `playbook requeue --state unknown` to send them again",
                                  n=reconciled.unknown))  # fmt: skip
            if self.options.once:
                self._turn_surviving(decider, dispatcher)
                return self._lease_exit()
            intake = self._start_intake(store, adapter, settings, intake)
            scheduler = self._scheduler()
            self._install_signals()
            self._loop(decider, dispatcher, scheduler)
            return self._lease_exit()
        except ShardCountRefused as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
        except LeaseLost as exc:
            self._lost = self._lost or exc
            return self._lease_exit()
        except Fenced as exc:  # the platform saw a newer holder's token first
            log.error(t("this process lost the store's lease: {reason}", reason=exc))
            return EXIT_HELD
        except _Stopped:  # stopped while waiting for the store (a signal, or the lease was lost meanwhile)
            return self._lease_exit()
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if intake is not None:
                intake.stop()
            if dispatcher is not None:
                dispatcher.close()
            if adapter is not None:
                adapter.close()
            if lease is not None:
                lease.release()
            store.close()

    def _open_adapter(self, store: Store, adapter: Adapter | None) -> Adapter:
        """The configured adapter (or the one given), told the timezone, opened and probed."""
        cfg = self.config
        if adapter is None:
            from playbook.adapters.registry import build

            adapter = build(cfg.adapter.name, cfg.adapter.options, load_secrets(cfg))
        self._in_use = adapter
        adapter.timezone = self.timezone
        adapter.open()
        accounts = self._surviving(store.load_accounts)  # a store outage is waited out here too
        for problem in adapter.probe([str(a["id"]) for a in accounts if a.get("id")]):
            log.error(problem)  # the adapter holds what it cannot send; fix and it resumes
        return adapter

    def _start_intake(self, store: Store, adapter: Adapter, settings: Any, intake: Any) -> Any:
        """The HTTP intake once started (bound early, or now), with the adapter's callbacks;
        the intake serving, or None."""
        routes = adapter.callbacks(self._adapter_events(store))
        if settings is None and routes and self.config.intake.port:
            from playbook.runtime.intake import IntakeConfig

            section = self.config.intake  # the platform's callbacks, without POST /events
            settings = IntakeConfig(events=False, **section.limits())
        if settings is None:
            return intake
        from playbook.runtime.intake import IntakeServer
        from playbook.vocab.localtime import LocalTime

        clock = LocalTime(self.timezone)
        if intake is not None:
            intake.ready(clock, routes)
            return intake
        intake = IntakeServer(store, settings, clock, routes)
        intake.start()
        return intake

    def _early_intake(self, store: Store, settings: Any) -> Any:
        """The HTTP intake, bound before the store is touched: until the daemon has started
        it answers every request 503 with Retry-After (a client retries instead of meeting
        "connection refused" during a store outage at start-up). When the port is taken
        (another daemon on this host holds it) it is bound after the start, as before."""
        from playbook.runtime.intake import IntakeServer

        try:
            intake = IntakeServer(store, settings, starting=True)
        except OSError as exc:
            log.debug("the intake port is taken (%s); binding it once started", exc)
            return None
        intake.start()
        return intake

    def _adapter_events(self, store: Store) -> Callable[[Sequence[Any]], None]:
        """Where an adapter's callback route puts its events: the store, then a wake-up — a
        reply to a friend request must go within seconds (WeCom's WelcomeCode lives 20 s)."""

        def deliver(events: Sequence[Any]) -> None:
            store.append_events(list(events), "adapter")
            self.wake()

        return deliver

    # ---- scale-out: the shards this process holds ---------------------------------------------------
    def _run_shards(self, store: Store, leases: ShardLeases, adapter: Adapter, settings: Any, intake: Any) -> int:
        """Several processes on one PostgreSQL store (docs/daemon.md, "Scale-out"): this one
        runs an engine and a dispatcher per shard it holds, takes its share of the shards as
        processes come and go (`ShardLeases.balance`, every second; renewed every third of the
        lease), restores the shards it took one at a time, a second's worth between two rounds
        of turns of those it runs (so a shard taken over starts about as soon as its own rows
        are restored, not after all of them), gives the extra ones up after their step is
        committed, and drops a shard whose lease was taken (its engine never writes again)
        while the others go on. A shard whose turn did nothing is skipped until it may have
        work (IDLE_CHECK, `_to_turn`). The playbooks are compiled once for every shard.
        SIGTERM gives every shard up at once."""
        held = _Held()
        scheduler = own_intake = None
        try:
            self._surviving(leases.heartbeat)
            leases.start()
            self._current = Decider(store, self.options.paths).compile()
            self._mtimes = self._playbook_mtimes()
            self._logged_load = False
            self._rebalance(leases, held)
            if self.options.once:
                while held.pending:
                    self._restore_next(leases, adapter, held)
                held.resume_collector()
                for shard in sorted(held.work):
                    self._shard_turn(leases, held, shard)
                return 0
            started = self._start_intake(store, adapter, settings, intake)
            own_intake = started if started is not intake else None  # the caller stops the one it bound
            scheduler = self._scheduler()
            self._install_signals()
            balanced = looked = time.monotonic()
            while not self._stopping.is_set():
                restoring = time.monotonic()
                while held.pending and time.monotonic() - restoring < RESTORE_SLICE and not self._stopping.is_set():
                    self._restore_next(leases, adapter, held)
                if not held.pending:
                    held.resume_collector()
                if self._reload.is_set() or self._files_changed():
                    self._reload.clear()
                    self._reload_shards(store, held.work)
                self._turns(store, leases, held)
                now = time.monotonic()
                if not self._stopping.is_set() and now - looked >= LOOK_EVERY:
                    full = now - balanced >= leases.ttl / 3
                    balanced, looked = (now if full else balanced), now
                    self._rebalance(leases, held, renew=full)
                if held.pending:
                    continue  # the next shard to restore comes before any wait
                dues = [d for d in (w.decider.next_due() for w in held.work.values()) if d is not None]
                self._wake_at_next_due(min(dues, default=None), scheduler)
                self._wake.wait(self.config.daemon.tick)
                self._wake.clear()
            return 0
        finally:
            held.resume_collector()
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if own_intake is not None:
                own_intake.stop()
            for w in held.work.values():
                w.dispatcher.close()

    def _rebalance(self, leases: ShardLeases, held: _Held, *, renew: bool = True) -> None:
        """Renew (every third of the lease; the looks between only look), drop what was lost,
        give up what is above the share, and take what is free: its lease now, its engine
        restored by `_restore_next`, one shard at a time."""
        found = self._surviving(lambda: leases.balance(renew=renew))
        for shard in found.lost:
            self._drop(leases, held, shard, t("its lease was taken by another process"))
        for shard in found.extra:
            gone = held.work.pop(shard, None)
            if gone is not None:
                gone.dispatcher.close()  # its round's calls are settled; its step was committed
            if shard in held.pending:
                held.pending.remove(shard)
            leases.give_up(shard)
        # lowest first: a process that took more than its share (it looked before the others
        # registered) gives the highest up (`ShardLeases.balance`), so those wait unrestored
        held.pending = sorted({*held.pending, *found.taken})
        held.note(found)
        if not held.pending:
            self._log_holding(leases, held)

    def _restore_next(self, leases: ShardLeases, adapter: Adapter, held: _Held) -> None:
        """Restore the next shard taken (its engine from its rows) and start running it. The
        cyclic garbage collector stays paused until every shard taken is restored (`_Held`)."""
        held.pause_collector()
        shard = held.pending.pop(0)
        try:
            held.work[shard] = self._take(leases.lease(shard), adapter)
        except (LeaseLost, Fenced) as exc:
            leases.drop(shard)
            held.lost.append(shard)
            log.warning(t("could not take shard {shard}: {reason}", shard=shard, reason=exc))
        if not held.pending:
            self._log_holding(leases, held)

    def _log_holding(self, leases: ShardLeases, held: _Held) -> None:
        """Once what was taken is restored: the shards held now, and what changed."""
        if held.taken or held.extra or held.lost:
            log.info(t("holding shards {shards} of {count} (took {taken}, gave up {extra}, lost {lost})",
                       shards=ranges(sorted(held.work)), count=leases.count, taken=ranges(held.taken),
                       extra=ranges(held.extra), lost=ranges(held.lost)))  # fmt: skip
            held.taken, held.extra, held.lost = [], [], []

    def _take(self, lease: WriterLease, adapter: Adapter) -> _ShardWork:
        """A shard just taken: its engine restored from the store (its rows only), the adapter
        told its token, what a previous holder left `sending` reconciled."""
        cfg, d = self.config, self.config.daemon
        view, caps = lease.store, adapter.capabilities
        decider = Decider(view, self.options.paths, shared_limits=caps.limits, can_dissolve_groups=caps.dissolve_groups,
                          grace=int(d.grace), sync_tags=caps.tags, approve=d.approve, yes=self.options.yes)  # fmt: skip
        loaded = self._surviving(lambda: decider.load(int(self.clock()), migrate=self.options.migrate,
                                                      current=self._current))  # fmt: skip
        self._surviving(lambda: self._after_load(decider))
        if not self._logged_load:
            self._logged_load = True
            self._log_load(loaded)
        dispatcher = Dispatcher(view, adapter, owner=self.owner, adapter_name=cfg.adapter.name, batch=d.batch,
                                workers=d.workers, at_least_once=cfg.adapter.at_least_once, clock=self.clock,
                                retry=RetryPolicy(d.max_attempts, d.backoff, d.backoff_cap),
                                guard=lease.ensure_fresh)  # fmt: skip
        assert lease.fence is not None
        adapter.fence(lease.fence.token, lease.shard)  # that shard's calls of an older holder are refused from now on
        reconciled = self._surviving(dispatcher.reconcile)
        if reconciled.unknown or reconciled.sent or reconciled.resent or reconciled.absent:
            log.warning(t("shard {shard}, after its previous holder stopped during dispatch: {sent} found sent, "
                          "{resent} to send again, {unknown} unknown", shard=lease.shard, sent=reconciled.sent,
                          resent=reconciled.resent + reconciled.absent, unknown=reconciled.unknown))  # fmt: skip
        return _ShardWork(decider, dispatcher)

    def _turns(self, store: Store, leases: ShardLeases, held: _Held) -> list[int]:
        """One round of the held shards' turns: a full turn for each shard that may have work
        (`_to_turn`), the others skipped. The shards that took a full turn."""
        turn = self._to_turn(store, held)
        turned = []
        for shard in sorted(held.work):
            if self._stopping.is_set():
                break
            if self._shard_turn(leases, held, shard, skip=shard not in turn):
                turned.append(shard)
        return turned

    def _to_turn(self, store: Store, held: _Held) -> set[int]:
        """The shards whose turn runs in this loop iteration: those not idle, and the idle ones
        that may have work — a timeline item due, the safety net's time come (IDLE_CHECK), or
        the store holding something for them (one query for all of them)."""
        now = self.clock()
        turn, idle, stale = set(), [], []
        for shard, w in held.work.items():
            due = w.decider.next_due()
            if not w.idle or (due is not None and due <= now):
                turn.add(shard)
                continue
            if now - w.turned_at >= IDLE_CHECK * self.config.daemon.tick:
                stale.append((w.turned_at, shard))
            idle.append(shard)
        stale.sort()
        turn.update(shard for _, shard in stale[: -(-len(held.work) // IDLE_CHECK)])  # the safety net
        idle = [shard for shard in idle if shard not in turn]
        if not idle:
            return turn
        if not turn and held.work[idle[0]].dispatcher.adapter.sync_due(now):
            turn.add(idle[0])  # the platform's contacts are read in a turn (for every shard: one turn)
        try:
            found = store.waiting(sorted(idle), int(now))
        except StoreError:
            return set(held.work)  # their turns meet the outage and wait it out
        if (found.imports, found.approvals) != held.seen:
            held.seen = (found.imports, found.approvals)
            return set(held.work)
        for shard in idle:
            if shard in found.busy or found.generations.get(shard) != held.work[shard].decider.generation:
                turn.add(shard)
        return turn

    def _shard_turn(self, leases: ShardLeases, held: _Held, shard: int, *, skip: bool = False) -> bool:
        """A shard's turn; `skip` (an idle shard with nothing to do): its engine's clock moves
        on in memory and only receipts and event-id pruning are done, when due. Whether it
        took a full turn."""
        w = held.work[shard]
        try:
            now = self.clock()
            if skip and w.decider.skip_to(int(now)):
                self._surviving(lambda: self._upkeep(w.decider, w.dispatcher))
                return False
            w.idle = not self._turn_surviving(w.decider, w.dispatcher)
            w.turned_at = now
        except (LeaseLost, Fenced) as exc:
            self._drop(leases, held, shard, str(exc))
            held.lost.append(shard)
            self._log_holding(leases, held)
        return True

    def _drop(self, leases: ShardLeases, held: _Held, shard: int, reason: str) -> None:
        """A shard lost: its engine goes and nothing of it is written any more."""
        gone = held.work.pop(shard, None)
        if shard in held.pending:
            held.pending.remove(shard)
        leases.drop(shard)
        if gone is not None:
            gone.dispatcher.close()
            log.warning(t("lost shard {shard} ({reason}): it is no longer decided or sent here", shard=shard,
                          reason=reason))  # fmt: skip

    def _reload_shards(self, store: Store, work: dict[int, _ShardWork]) -> None:
        """A reload: the playbooks compiled once, then every shard's engine loads them."""
        self._mtimes = self._playbook_mtimes()
        try:
            current = Decider(store, self.options.paths).compile()
        except PlaybookError as exc:
            text = render_all(exc.diagnostics)
            log.error("%s\n%s", t("reload refused, the running versions carry on:"), text)
            record = refused_record(int(self.clock()), text, exc.diagnostics)
            self._surviving(lambda: store.write(Journal(engine_state={RELOAD_REFUSED: record})))  # for `status`
            return
        self._current = current
        now = int(self.clock())
        for w in work.values():
            loaded = self._surviving(lambda w=w: w.decider.load(now, current=current))
            self._after_load(w.decider)
            w.idle = False
        if work:
            self._log_load(loaded)

    # ---- the store's lease ----------------------------------------------------------------------------
    def _hold(self, lease: WriterLease, store: Store) -> bool:
        """Take the store's lease; when another process holds it, refuse naming the holder,
        or (--standby) wait until it ends. False: not taken (refused, or stopped waiting)."""
        holder = lease.take()
        if holder is None:
            return True
        where = store.engine.url.render_as_string(hide_password=True)
        if not self.options.standby:
            if store.dialect == "sqlite":  # one process, whatever asks: scale-out is PostgreSQL's
                log.error(t("the store {store} is in use by another playbook run: {holder}. A SQLite store is run "
                            "by one process; several processes (scale-out) need a PostgreSQL store. Stop that one "
                            "first, or start this one with --standby to take over when its lease ends", store=where,
                            holder=describe(holder)))  # fmt: skip
            else:
                log.error(t("the store {store} is in use by another playbook run: {holder}. Stop that one first, or "
                            "start this one with --standby to take over when its lease ends", store=where,
                            holder=describe(holder)))  # fmt: skip
            return False
        self._install_signals()  # SIGTERM ends the wait
        log.info(t("standby: the store is held by {holder}; taking over when its lease ends", holder=describe(holder)))
        if not lease.wait(self._stopping):
            return False
        log.info(t("took over the store {store} (lease token {token})", store=where, token=lease.fence.token
                   if lease.fence else "?"))  # fmt: skip
        return True

    def _lease_lost(self, exc: LeaseLost) -> None:
        """From the renewal thread: another process took the lease; stop without writing."""
        self._lost = exc
        self.stop()

    def _lease_exit(self) -> int:
        if self._lost is None:
            return 0
        holder = self._lost.holder
        log.error(t("this process lost the store's lease to {holder}; it stopped without writing anything more",
                    holder=describe(holder) if holder is not None else "?"))  # fmt: skip
        return EXIT_HELD

    def _intake_settings(self) -> Any:
        """The HTTP intake's settings; without a token or secret it stays off (with a
        warning) unless the configuration asked for it explicitly — then that is an error."""
        try:
            return intake_settings(self.config)
        except PlaybookError:
            if "port" in self.config.intake.model_fields_set:
                raise
            log.warning(t("the HTTP event intake is off: set PLAYBOOK_INTAKE_TOKEN (or a secret) to turn it on"))
            return None

    def _scheduler(self) -> Any:
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(self.wake, "interval", seconds=self.config.daemon.tick, id="tick", coalesce=True,
                          max_instances=1)  # fmt: skip
        scheduler.start()
        return scheduler

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set handlers (tests run the loop elsewhere)
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self.reload)

    def _loop(self, decider: Decider, dispatcher: Dispatcher, scheduler: Any) -> None:
        while not self._stopping.is_set():
            if self._reload.is_set() or self._files_changed():
                self._reload.clear()
                self._surviving(lambda: self._do_reload(decider))
            self._turn_surviving(decider, dispatcher)
            self._wake_at_next_due(decider.next_due(), scheduler)
            self._wake.wait(self.config.daemon.tick)
            self._wake.clear()

    # ---- store outages ---------------------------------------------------------------------------------
    def _surviving(self, action: Callable[[], _T]) -> _T:
        """Run a store action; while the store is unavailable (unreachable, locked, disk full,
        read-only), say so once and try again with backoff until it works or a stop."""
        outage: _Outage | None = None
        while True:
            try:
                result = action()
            except StoreError as exc:
                outage = outage or _Outage(self, exc)
                outage.wait()
                continue
            if outage is not None:
                outage.over()
            return result

    def _turn_surviving(self, decider: Decider, dispatcher: Dispatcher) -> bool:
        """A turn; when the store fails during it, the engine in memory may be ahead of the
        store (a step decided, its commit refused) and claimed rows may be left `sending`: so
        once the store is back the engine is built again from the store — as at a start —
        and this process's unsent claims go back to pending before the next turn. Whether the
        turn did anything (after an outage: yes)."""
        try:
            return self._turn(decider, dispatcher)
        except StoreError as exc:
            outage = _Outage(self, exc)
        while True:
            outage.wait()
            try:
                decider.load(int(self.clock()))
                dispatcher.recover(strays=True)
            except StoreError as exc:
                outage.failed(exc)
                continue
            outage.over()
            return True

    def _turn(self, decider: Decider, dispatcher: Dispatcher) -> bool:
        """Decide up to now, then dispatch until nothing more is due (or a stop). Whether it
        did anything: read the platform's contacts, took something in, decided something,
        claimed touches (scale-out skips an idle shard's next turns: IDLE_CHECK)."""
        worked = dispatcher.adapter.sync_due(self.clock())
        if worked:  # contacts from the platform first (importing.py)
            synced = sync_contacts(dispatcher.adapter, decider.store, self.clock(), self.config.adapter.name)
            if synced is not None and synced.spent:
                decider.count_spent(synced.spent, int(self.clock()))
        step = decider.step(int(self.clock()))
        worked = worked or not step.idle
        for version, state in step.decisions.items():
            if state == "approved":
                log.info(t("{version} was approved: its touches go out", version=version))
            elif state == "rejected":
                log.warning(t("{version} was rejected: its held touches are skipped", version=version))
        if step.events or step.touches:
            log.debug(t("decided: {events} events, {touches} touches, {states} state events", events=step.events,
                        touches=step.touches, states=step.state_events))  # fmt: skip
        while True:
            done = dispatcher.run_once()
            worked = worked or done.claimed > 0
            if decider.engine is not None and decider.engine.welcomes and done.refs:
                decider.count_welcomes(done.refs, int(self.clock()))  # welcomes that went as tasks
            if done.claimed:
                log.debug(t("dispatched {n}: {sent} sent, {failed} failed, {dead} dead ({calls} calls)", n=done.claimed,
                            sent=done.sent, failed=done.failed, dead=done.dead, calls=done.calls))  # fmt: skip
            if done.claimed < dispatcher.batch or self._stopping.is_set():
                break
        self._upkeep(decider, dispatcher)
        return worked

    def _upkeep(self, decider: Decider, dispatcher: Dispatcher) -> None:
        """What keeps its own clock, turn or no turn: event ids forgotten (hourly), the
        platform asked about sent touches (every `[daemon] receipts`)."""
        self._forget_old_event_ids(decider.store)
        d = self.config.daemon
        if dispatcher.adapter.gives_receipts and self.clock() - dispatcher.receipts_at >= d.receipts:
            dispatcher.receipts_at = self.clock()
            recorded = dispatcher.collect_receipts(horizon=d.receipt_horizon)
            if recorded:
                log.debug(t("{n} receipts from the platform", n=recorded))

    def _forget_old_event_ids(self, store: Store) -> None:
        """Event ids are remembered `[intake] remember_ids` (a repeat within it is not
        stored again); older ones are forgotten, hourly, so the table stays bounded."""
        now = self.clock()
        if now - self._ids_pruned_at < IDS_PRUNED_EVERY:
            return
        self._ids_pruned_at = now
        before = dt.datetime.fromtimestamp(now - self.config.intake.remember_ids, dt.UTC)
        forgotten = store.prune_event_ids(before)
        if forgotten:
            log.debug(t("{n} event ids older than the retention window forgotten", n=forgotten))

    def _wake_at_next_due(self, due: int | None, scheduler: Any) -> None:
        if due is None or due <= self.clock() + self.config.daemon.tick:
            return  # the tick comes first anyway
        when = dt.datetime.fromtimestamp(due, dt.UTC)
        scheduler.add_job(self.wake, "date", run_date=when, id="next-due", replace_existing=True,
                          misfire_grace_time=None)  # fmt: skip

    # ---- reloads ------------------------------------------------------------------------------------------
    def _playbook_mtimes(self) -> dict[Path, float]:
        from playbook.compiler import playbook_files

        found: dict[Path, float] = {}
        for path in self.options.paths:
            try:
                files = playbook_files(path)
            except PlaybookError:  # moved away or emptied: a reload then says so, as `check` would
                found[Path(path)] = -1.0
                continue
            for file in files:
                try:
                    found[file] = file.stat().st_mtime
                except OSError:
                    continue
        return found

    def _files_changed(self) -> bool:
        return self._playbook_mtimes() != self._mtimes

    def _do_reload(self, decider: Decider) -> None:
        self._mtimes = self._playbook_mtimes()
        try:
            loaded = decider.load(int(self.clock()))
        except PlaybookError as exc:
            # What `playbook check` prints for the same files (one rendering function), in
            # the log and, for `playbook status`, in the store.
            text = render_all(exc.diagnostics)
            log.error("%s\n%s", t("reload refused, the running versions carry on:"), text)
            decider.store.write(Journal(engine_state={RELOAD_REFUSED: refused_record(int(self.clock()), text,
                                                                                     exc.diagnostics)}))  # fmt: skip
            return
        self._after_load(decider)
        self._log_load(loaded)

    def _after_load(self, decider: Decider) -> None:
        """A load went through: times in the (newest) playbook's timezone from now on, and no
        refused reload for `status` to show any more."""
        if decider.playbooks:
            self.timezone = decider.playbooks[-1].timezone
            if self._in_use is not None:
                self._in_use.timezone = self.timezone
        decider.store.write(Journal(engine_state={RELOAD_REFUSED: None}))

    def _log_load(self, loaded: LoadReport) -> None:
        versions = ", ".join(loaded.versions)
        log.info(t("running {versions} (new)", versions=versions) if loaded.new else t("running {versions}",
                                                                                       versions=versions))  # fmt: skip
        if loaded.finishing:
            log.info(t("finishing what contacts started in {versions}", versions=", ".join(loaded.finishing)))
        if loaded.missed:
            log.warning(t("{n} schedule firings were missed while stopped (older than the grace period)",
                          n=loaded.missed))  # fmt: skip
        if loaded.caught_up:
            log.info(t("{n} overdue timeline items run now", n=loaded.caught_up))
        if loaded.migrated:
            log.info(t("{n} contacts moved to the current version", n=loaded.migrated))
        for version in loaded.replaced:
            log.warning(t("{version} was replaced before anyone approved it: its held touches are skipped",
                          version=version))  # fmt: skip
        for version, touches in loaded.awaiting.items():
            log.warning(t("{version} waits for approval: it would send {n} touches in its first hour ({policy}); "
                          "nothing goes out until `playbook approve {version}`", version=version, n=touches,
                          policy=str(self.config.daemon.approve)))  # fmt: skip
