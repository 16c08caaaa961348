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
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playbook.adapters.base import Adapter
from playbook.diagnostics import PlaybookError, render_all
from playbook.i18n import t
from playbook.runtime.config import DaemonConfig, intake_settings, load_secrets
from playbook.runtime.decide import Decider, LoadReport
from playbook.runtime.dispatch import Dispatcher, RetryPolicy
from playbook.runtime.logs import RELOAD_REFUSED, refused_record
from playbook.runtime.rows import Journal
from playbook.runtime.store import Store

log = logging.getLogger("playbook.daemon")


@dataclass
class RunOptions:
    paths: Sequence[str]
    migrate: bool = False
    once: bool = False  # decide and dispatch what is due now, then stop (cron-style use, tests)


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
        self._receipts_at = 0.0  # when the platform was last asked for receipts
        self.owner = f"{uuid.uuid4().hex[:12]}"
        # The timezone log lines are stamped in (runtime/logs.py): the store's playbook's
        # until the playbooks are loaded, then the newest current one's.
        self.timezone = "UTC"
        self._in_use: Adapter | None = None  # the adapter run() opened (told the timezone too)

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
        store = Store(cfg.store.url)
        adapter = self._adapter
        scheduler = None
        intake = None
        dispatcher = None
        try:
            settings = None if self.options.once else self._intake_settings()
            store.migrate()
            from playbook.runtime.importing import store_timezone

            self.timezone = store_timezone(store)
            if adapter is None:
                from playbook.adapters.registry import build

                adapter = build(cfg.adapter.name, cfg.adapter.options, load_secrets(cfg))
            self._in_use = adapter
            adapter.timezone = self.timezone
            adapter.open()
            caps = adapter.capabilities
            d = cfg.daemon
            decider = Decider(store, self.options.paths, shared_limits=caps.limits,
                              can_dissolve_groups=caps.dissolve_groups, grace=int(d.grace),
                              sync_tags=caps.tags)  # fmt: skip
            loaded = decider.load(int(self.clock()), migrate=self.options.migrate)
            self._after_load(decider)
            self._log_load(loaded)
            self._mtimes = self._playbook_mtimes()
            dispatcher = Dispatcher(store, adapter, owner=self.owner, adapter_name=cfg.adapter.name, batch=d.batch,
                                    workers=d.workers, at_least_once=cfg.adapter.at_least_once, clock=self.clock,
                                    retry=RetryPolicy(d.max_attempts, d.backoff, d.backoff_cap))  # fmt: skip
            reconciled = dispatcher.reconcile()
            if reconciled.unknown or reconciled.sent or reconciled.resent:
                log.warning(t("after a stop during dispatch: {sent} found sent, {resent} to send again, {unknown} unknown",
                              sent=reconciled.sent, resent=reconciled.resent, unknown=reconciled.unknown))  # fmt: skip
            if self.options.once:
                self._turn(decider, dispatcher)
                return 0
            routes = adapter.callbacks(lambda events: store.append_events(list(events), "adapter"))
            if settings is None and routes and self.config.intake.port:
                from playbook.runtime.intake import IntakeConfig

                section = self.config.intake  # the platform's callbacks, without POST /events
                settings = IntakeConfig(host=section.host, port=section.port, max_body=section.max_body, events=False)
            if settings is not None:
                from playbook.engine.timeutil import LocalTime
                from playbook.runtime.intake import IntakeServer

                intake = IntakeServer(store, settings, LocalTime(decider.playbooks[-1].timezone), routes)
                intake.start()
            scheduler = self._scheduler()
            self._install_signals()
            self._loop(decider, dispatcher, scheduler)
            return 0
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if intake is not None:
                intake.stop()
            if dispatcher is not None:
                dispatcher.close()
            if adapter is not None:
                adapter.close()
            store.close()

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
                self._do_reload(decider)
            self._turn(decider, dispatcher)
            self._wake_at_next_due(decider, scheduler)
            self._wake.wait(self.config.daemon.tick)
            self._wake.clear()

    def _turn(self, decider: Decider, dispatcher: Dispatcher) -> None:
        """Decide up to now, then dispatch until nothing more is due (or a stop)."""
        step = decider.step(int(self.clock()))
        if step.events or step.touches:
            log.debug(t("decided: {events} events, {touches} touches, {states} state events", events=step.events,
                        touches=step.touches, states=step.state_events))  # fmt: skip
        while True:
            done = dispatcher.run_once()
            if done.claimed:
                log.debug(t("dispatched {n}: {sent} sent, {failed} failed, {dead} dead ({calls} calls)", n=done.claimed,
                            sent=done.sent, failed=done.failed, dead=done.dead, calls=done.calls))  # fmt: skip
            if done.claimed < dispatcher.batch or self._stopping.is_set():
                break
        d = self.config.daemon
        if dispatcher.adapter.gives_receipts and self.clock() - self._receipts_at >= d.receipts:
            self._receipts_at = self.clock()
            recorded = dispatcher.collect_receipts(horizon=d.receipt_horizon)
            if recorded:
                log.debug(t("{n} receipts from the platform", n=recorded))

    def _wake_at_next_due(self, decider: Decider, scheduler: Any) -> None:
        due = decider.next_due()
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
