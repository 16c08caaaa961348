"""Scale-out under faults (issue 18), with real `playbook run` processes on one PostgreSQL
store (`[daemon] shards = 8`, `lease = 2`) writing one jsonl outbox:

- **kill -9** one process at a random point, 20 times (50 under `-m slow`), restarting it
  each time: its shards move, and in the end every touch has one outcome, no key is twice in
  the outbox, nothing is lost, and the outbox and the ledger equal the plan;
- a process **paused** (SIGSTOP) mid-dispatch past its leases, then resumed (SIGCONT): its
  shards were taken and fenced (the outbox's fence file carries newer tokens), it writes
  none of the touches it had claimed (their new owners did, once), and it stops or rejoins
  without a traceback;
- **rebalance**: a 4th process joins mid-run and takes its share, one leaves with SIGTERM
  and gives its shards up at once; the outbox still equals the plan.

The scenario: the bundled examples (/work/shared/examples, else playbooks/) with a
generated population — 24 staff accounts (three of them with 100 customers, so `limit task
80 per account per day else skip` skips some), customers who spent 2,000–2,900 — and waves
of `purchase` events stamped with the wall clock as they are stored, which bring customers
into `VIP候选` (spent ≥ 3,000): `VIP升级` sends a dm and a task at once. The daemons run on
the wall clock, so the playbooks' timezone is set to the one where it is mid-afternoon now
(quiet hours and the Moments' and rotation's fixed times stay out of the few minutes the
test lasts; the plan is checked to have nothing else in that window). `plan` over the same
files and events is the oracle (tests/runtime/test_plan_equals_run.py's `compare`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from playbook.runtime.importing import import_files
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Event
from tests.runtime.processes import read_jsonl, start_run, wait
from tests.runtime.test_plan_equals_run import EXAMPLES, compare, plan_doc

SHARDS = 8
LEASE = 2  # seconds: a killed or paused process's shards move this quickly
ACCOUNTS = 24
BIG = 3  # accounts with BIG_SIZE customers (the task limit of 80 a day skips some)
BIG_SIZE = 100
SIZE = 30
KILLS = int(os.environ.get("PLAYBOOK_SCALEOUT_KILLS", "20"))
SLOW_KILLS = 50
LEAD = 3  # seconds ahead of the wall clock a wave is stamped (see Deployment.wave)
AFTER = 120  # seconds after the last wave the comparison covers (the plan must be quiet after it)


@pytest.fixture
def backend() -> str:
    """Scale-out needs PostgreSQL: only that backend (tests/runtime/conftest.py's store_url)."""
    return "postgresql"


class Deployment:
    """Files, store and processes of one test: `start()` more daemons, kill, pause, stop;
    `wave()` stores purchase events now; `settle()` waits until nothing is left to send."""

    def __init__(self, tmp: Path, url: str, seed: int) -> None:
        self.tmp = tmp
        self.url = url
        self.rng = random.Random(seed)
        self.zone = _afternoon_zone()
        folder = tmp / "playbooks"
        folder.mkdir()
        self.playbooks: list[str] = []  # one playbook a file (a folder would be one playbook)
        for path in EXAMPLES:
            text = re.sub(r'^timezone ".*"$', f'timezone "{self.zone}"', path.read_text("utf-8"), flags=re.M)
            (folder / path.name).write_text(text, encoding="utf-8")
            self.playbooks.append(str(folder / path.name))
        self.clock = LocalTime(self.zone)
        self.contacts = self._population()
        self.outbox = tmp / "outbox.jsonl"
        self.config = tmp / "playbook.toml"
        self.config.write_text(
            "\n".join([
                "[store]", f'url = "{url}"',
                "[adapter]", 'name = "jsonl"', "[adapter.options]", f'path = "{self.outbox}"',
                "[intake]", "port = 0",
                "[daemon]", f"shards = {SHARDS}", f"lease = {LEASE}", "tick = 0.2", "batch = 5", "workers = 2",
                'approve = "never"',
            ]) + "\n",
            encoding="utf-8",
        )  # fmt: skip
        self.store = Store(url)
        self.store.migrate()
        import_files(self.store, [str(tmp / "accounts.csv")], "accounts", self.clock)
        import_files(self.store, [str(tmp / "contacts.csv")], "contacts", self.clock)
        self.events: list[dict[str, Any]] = []
        self.waiting = list(self.contacts)  # customers who have not bought yet
        self.rng.shuffle(self.waiting)
        self.procs: list[subprocess.Popen] = []
        self.logs: dict[int, Path] = {}
        self.first_wave: int | None = None
        self.last_at = 0  # the instant of the last wave

    def _population(self) -> list[str]:
        accounts = [f"a{i:02}" for i in range(ACCOUNTS)]
        (self.tmp / "accounts.csv").write_text(
            "id,name\n" + "".join(f"{a},顾问{a}\n" for a in accounts), encoding="utf-8"
        )
        rows, ids = [], []
        for i, account in enumerate(accounts):
            for j in range(BIG_SIZE if i < BIG else SIZE):
                cid = f"c{i:02}{j:03}"
                ids.append(cid)
                rows.append(f"{cid},客户{i}-{j},{account},{self.rng.randrange(2000, 2901)},1\n")
        (self.tmp / "contacts.csv").write_text("id,name,account,spent,orders\n" + "".join(rows), encoding="utf-8")
        return ids

    # ---- processes ------------------------------------------------------------------------------
    def start(self) -> subprocess.Popen:
        log = self.tmp / f"run-{len(self.procs)}.err"
        first, *more = self.playbooks
        proc = start_run(Path(first), self.config, *more, lang="en", env={"COLUMNS": "400"})
        self._drain(proc, log)  # every line of every process kept, readable while it runs
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def _drain(self, proc: subprocess.Popen, log: Path) -> None:
        def copy() -> None:
            assert proc.stderr is not None
            with log.open("ab") as out:
                for line in proc.stderr:
                    out.write(line)
                    out.flush()

        threading.Thread(target=copy, daemon=True).start()

    def log(self, proc: subprocess.Popen) -> str:
        return self.logs[proc.pid].read_text(encoding="utf-8", errors="replace")

    def live(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def holders(self) -> dict[int, tuple[int | None, str | None, int]]:
        """shard → (pid, owner, token) of its current (unexpired) lease; pid None: free."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT shard, owner, pid, token, expires_at > now() FROM leases")).all()
        return {r[0]: (r[2] if r[4] else None, r[1] if r[4] else None, int(r[3])) for r in rows}

    def shards_of(self, proc: subprocess.Popen) -> set[int]:
        return {s for s, (pid, _, _) in self.holders().items() if pid == proc.pid}

    def all_held(self, procs: list[subprocess.Popen] | None = None) -> bool:
        """Every shard held, by the given processes only (default: the live ones), each within the balance."""
        procs = self.live() if procs is None else procs
        pids = [p.pid for p in procs]
        held = self.holders()
        if len(held) < SHARDS or any(pid not in pids for pid, _, _ in held.values()):
            return False
        counts = Counter(pid for pid, _, _ in held.values())
        return max(counts.values()) <= -(-SHARDS // len(pids))

    def stop_all(self) -> None:
        for proc in self.live():
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ---- work -------------------------------------------------------------------------------------
    def wave(self, n: int) -> int:
        """`n` customers buy, stamped a few seconds ahead: stored now (routed to their shards),
        decided at that instant — by whoever holds the shard then. Ahead, because an event
        stamped now may reach an engine whose clock has passed it (it is then decided at the
        engine's now, a second later than the plan says); each wave at an instant of its own,
        because events of one instant stored apart are decided apart (the second batch's
        customers after the first's, where the plan, seeing them all, takes them together)."""
        at = max(int(time.time()) + LEAD, self.last_at + 1)
        self.last_at = at
        if self.first_wave is None:
            self.first_wave = at
        buyers, self.waiting = self.waiting[:n], self.waiting[n:]
        events = [Event("purchase", cid, at, {"amount": 1000}) for cid in buyers]
        self.store.append_events(events, "cli")
        stamp = dt.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(self.zone)).isoformat()
        self.events += [{"type": "purchase", "contact": cid, "at": stamp, "amount": 1000} for cid in buyers]
        return len(buyers)

    def delivered(self) -> list[str]:
        return [r["key"] for r in read_jsonl(self.outbox, skip_torn=True)]

    def settle(self, timeout: float = 120) -> None:
        """Until every event is processed and no touch waits to be sent (or is being sent),
        once the last wave's instant has passed (an engine takes an event stamped ahead into
        its timeline at once, marked processed, and decides it at its instant)."""
        time.sleep(max(0.0, self.last_at + 1 - time.time()))

        def quiet() -> bool:
            with self.store.engine.connect() as conn:
                events = conn.execute(sa.text("SELECT count(*) FROM events WHERE status = 'new'")).scalar()
                due = conn.execute(sa.text("SELECT count(*) FROM timers WHERE due <= :t"), {"t": self.last_at}).scalar()
                touches = conn.execute(sa.text(
                    "SELECT count(*) FROM touches WHERE state IN ('pending', 'sending', 'failed')")).scalar()  # fmt: skip
            return events == 0 and due == 0 and touches == 0

        wait(quiet, timeout=timeout, interval=0.2)

    # ---- the oracle ---------------------------------------------------------------------------------
    def check_against_the_plan(self) -> None:
        assert self.first_wave is not None
        (self.tmp / "events.jsonl").write_text(
            "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.events), encoding="utf-8"
        )
        start = dt.datetime.fromtimestamp(self.first_wave - 60, zoneinfo.ZoneInfo(self.zone))
        planned = plan_doc(self.playbooks, str(self.tmp / "contacts.csv"), str(self.tmp / "accounts.csv"),
                           str(self.tmp / "events.jsonl"), start.strftime("%Y-%m-%d %H:%M"), 1)  # fmt: skip
        last = max(int(dt.datetime.fromisoformat(e["at"]).timestamp()) for e in self.events)
        end = last + AFTER
        times = [int(dt.datetime.fromisoformat(t["at"]).timestamp()) for t in planned["doc"]["touches"]]
        # the window compared is the waves' own: the plan does nothing else in or just after it
        assert not [x for x in times if end <= x < end + 1800], "the plan sends something near the cut"
        assert not [x for x in times if x < self.first_wave], "the plan sends something before the first wave"
        outbox = read_jsonl(self.outbox)  # every line whole: a torn one is a failure here
        keys = Counter(r["key"] for r in outbox)
        twice = [k for k, n in keys.items() if n > 1]
        assert not twice, f"delivered twice: {twice[:5]}"
        states = Counter(r.state for r in self.store.touches())
        assert set(states) <= {"sent", "skipped"}, states  # one outcome each, nothing unknown or stuck
        events = self.store.event_counts()
        assert states["sent"] == len(outbox) and states["skipped"] > 0, (states, events)  # the task limit skipped some
        went = [t for t in planned["doc"]["touches"]
                if t["outcome"] != "skipped" and int(dt.datetime.fromisoformat(t["at"]).timestamp()) < end]  # fmt: skip
        _same_touches(outbox, went)
        compare(planned["doc"], end, outbox, self.store)


def _same_touches(outbox: list[dict[str, Any]], went: list[dict[str, Any]]) -> None:
    """Which touches differ between the outbox and the plan (by contact, flow, step and
    time) — said plainly before `compare` checks every field."""

    def ident(t: dict[str, Any]) -> tuple:
        return (
            t.get("contact"),
            t.get("account"),
            t["flow"],
            t["step"],
            int(dt.datetime.fromisoformat(t["at"]).timestamp()),
        )

    sent, planned = Counter(map(ident, outbox)), Counter(map(ident, went))
    missing, extra = planned - sent, sent - planned
    assert not missing and not extra, f"in the plan only: {sorted(missing)[:8]}; sent only: {sorted(extra)[:8]}"


@pytest.fixture
def deploy(tmp_path: Path, store_url: str) -> Iterator[Callable[[int], Deployment]]:
    """A deployment with the given seed; its processes stopped (and checked) at the end."""
    made: list[Deployment] = []

    def make(seed: int) -> Deployment:
        made.append(Deployment(tmp_path, store_url, seed))
        return made[-1]

    yield make
    for d in made:
        d.stop_all()
        for proc in d.procs:
            assert "Traceback" not in d.log(proc), d.log(proc)
        d.store.close()


def _afternoon_zone() -> str:
    """A whole-hour zone (Etc/GMT±N) where the wall clock reads about 15:00 now."""
    hour = dt.datetime.now(dt.UTC).hour
    offset = (15 - hour + 12) % 24 - 12  # -12 … +11
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-8 is UTC+8


def _kill_loop(d: Deployment, kills: int) -> None:
    """Kill -9 a random running process (one that holds shards) at a random point (soon,
    or once the outbox grew by a few lines: mid-dispatch), restart one in its place, and go
    on once the running processes hold every shard again (the restarted one joins as it
    comes up); store a new wave now and then so there is work. (Killing processes still
    starting too would leave shards without an owner for longer than the catch-up rule's
    minute: their events would then be decided late, on purpose, no longer at the plan's
    instants.)"""
    landed = 0
    for i in range(kills):
        if i % 4 == 0 and d.waiting:
            d.wave(60)
        victim = d.rng.choice([p for p in d.live() if d.shards_of(p)])  # a running one, not one still starting
        before = len(d.delivered())
        if d.rng.random() < 0.3:
            time.sleep(d.rng.uniform(0.05, 1.5))
        else:
            grow = d.rng.randint(1, 40)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(d.delivered()) < before + grow:
                time.sleep(0.01)
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)
            landed += 1
        victim.wait(timeout=30)
        d.start()
        wait(lambda: d.all_held([p for p in d.live() if d.shards_of(p)]), timeout=90, interval=0.1)
    assert landed >= kills * 0.9


def _run_kills(d: Deployment, kills: int) -> None:
    for _ in range(3):
        d.start()
    wait(d.all_held, timeout=90, interval=0.2)
    d.wave(120)
    _kill_loop(d, kills)
    while d.waiting:
        d.wave(200)
    wait(d.all_held, timeout=90, interval=0.2)  # the survivors and the restarted hold every shard again
    d.settle()
    d.stop_all()
    d.check_against_the_plan()


def test_kill_9_at_random_points_moves_shards_and_loses_nothing(deploy: Callable[[int], Deployment]) -> None:
    _run_kills(deploy(11), KILLS)


@pytest.mark.slow
def test_kill_9_fifty_times(deploy: Callable[[int], Deployment]) -> None:
    _run_kills(deploy(12), SLOW_KILLS)


def test_a_paused_process_resumed_after_its_shards_moved_sends_nothing(deploy: Callable[[int], Deployment]) -> None:
    d = deploy(13)
    procs = [d.start() for _ in range(3)]
    wait(d.all_held, timeout=90, interval=0.2)
    d.wave(300)
    paused = procs[0]
    wait(lambda: len(d.delivered()) >= 20, timeout=60, interval=0.02)
    claimed, held = _pause_holding_claims(d, paused)
    try:
        tokens = {s: token for s, (_, _, token) in d.holders().items() if s in held}
        # its leases run out; the others take its shards (new tokens) and finish its claims
        wait(lambda: d.all_held([p for p in procs if p is not paused]), timeout=LEASE + 60, interval=0.1)
        d.wave(200)
        d.settle()
        fence = json.loads((d.outbox.with_name(d.outbox.name + ".fence")).read_text())
        assert all(fence[str(s)] > tokens[s] for s in held)  # the outbox refuses its old tokens
        before = d.outbox.read_bytes()
        paused.send_signal(signal.SIGCONT)
        time.sleep(3 * LEASE)  # time to misbehave: a resumed process that sent would show now
        assert d.outbox.read_bytes()[: len(before)] == before
    finally:
        paused.send_signal(signal.SIGCONT)
    if paused.poll() is not None:
        assert paused.returncode == 3, d.log(paused)  # stopped: it lost its shards
    else:
        wait(d.all_held, timeout=90, interval=0.2)  # rejoined: it takes a share again, under new tokens
    got = Counter(d.delivered())
    assert all(got[key] == 1 for key in claimed), {k: got[k] for k in claimed if got[k] != 1}
    while d.waiting:
        d.wave(300)
    d.settle()
    d.stop_all()
    d.check_against_the_plan()


def _pause_holding_claims(d: Deployment, proc: subprocess.Popen) -> tuple[set[str], set[int]]:
    """SIGSTOP `proc` while it holds claimed (`sending`) rows and not the outbox's lock (the
    next holder of a shard waits for that lock; fencing is for the moments outside it).
    Returns the keys it had claimed and the shards it held."""
    fence = d.outbox.with_name(d.outbox.name + ".fence")
    for _ in range(1000):
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.01)
        fd = os.open(fence, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free = True
        except BlockingIOError:
            free = False
        finally:
            os.close(fd)
        held = d.shards_of(proc)
        owners = {owner for s, (pid, owner, _) in d.holders().items() if pid == proc.pid}
        if free and held and owners:
            with d.store.engine.connect() as conn:
                claimed = {k for (k,) in conn.execute(
                    sa.text("SELECT key FROM touches WHERE state = 'sending' AND owner = ANY(:o)"),
                    {"o": list(owners)})}  # fmt: skip
            if claimed:
                return claimed, held
        proc.send_signal(signal.SIGCONT)
        if not d.waiting:
            raise AssertionError("never caught the process holding claims outside the outbox's lock")
        if len(d.delivered()) > len(d.events) - 50:
            d.wave(100)  # keep work coming
        time.sleep(0.003)
    raise AssertionError("never caught the process holding claims outside the outbox's lock")


def test_rebalance_a_fourth_joins_and_one_leaves_with_sigterm(deploy: Callable[[int], Deployment]) -> None:
    d = deploy(14)
    procs = [d.start() for _ in range(3)]
    wait(d.all_held, timeout=90, interval=0.2)
    d.wave(200)
    wait(lambda: len(d.delivered()) >= 20, timeout=60, interval=0.02)
    fourth = d.start()  # joins mid-run: the others give shards up until each holds at most ceil(8/4)
    wait(lambda: len(d.shards_of(fourth)) == SHARDS // 4 and d.all_held(), timeout=90, interval=0.2)
    d.wave(200)
    leaving = procs[1]
    given = d.shards_of(leaving)
    leaving.send_signal(signal.SIGTERM)  # a clean stop: its shards are given up at once
    assert leaving.wait(timeout=60) == 0, d.log(leaving)
    assert not d.shards_of(leaving)
    held_now = d.holders()
    assert all(held_now[s][0] is None or held_now[s][0] != leaving.pid for s in given)
    wait(d.all_held, timeout=30, interval=0.1)  # taken at once, not after the lease
    while d.waiting:
        d.wave(300)
    d.settle()
    d.stop_all()
    d.check_against_the_plan()
