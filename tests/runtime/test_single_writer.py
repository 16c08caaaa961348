"""One writer per store, with real `playbook run` processes on SQLite and PostgreSQL:
two daemons started together (one runs, the other is refused naming the holder, or waits
as a standby and takes over when the first is killed), and a daemon stopped (SIGSTOP) past
its lease and resumed after another took over writes nothing at all. Throughout, every
touch reaches the outbox once and `limit dm 1 per contact per day` holds."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from playbook.runtime.store import Store, sqlite_path
from playbook.vocab.model import Event
from tests.runtime.processes import read_jsonl, start_run, stop, wait, write_jsonl_config

PLAYBOOK = """\
playbook "单写"
timezone "Asia/Shanghai"
limit dm 1 per contact per day else skip

journey 欢迎 {
  on friend_added
  dm 欢迎语
  task "跟进{name|客户}"
}
journey 介绍 {
  on friend_added
  priority 5
  dm 介绍
}
content 欢迎语 = "{name|亲}，欢迎！"
content 介绍 = "{name|亲}，介绍一下"
"""
CONTACTS = 300
LEASE = 2  # seconds: a killed or stopped holder is taken over from this quickly


def _setup(tmp: Path, url: str, batch: int = 5) -> tuple[Path, Store]:
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    # approve = "never": the launch gate (above 50 by default) would hold these touches
    write_jsonl_config(tmp / "playbook.toml", url, tmp / "outbox.jsonl", tick=0.2, batch=batch, workers=2, lease=LEASE,
                       approve="never")  # fmt: skip
    store = Store(url)
    store.migrate()
    return tmp / "playbook.toml", store


def _events(store: Store, n: int = CONTACTS) -> None:
    now = int(time.time())
    store.append_events([Event("friend_added", f"c{i:03}", now, {"account": f"a{i % 3}", "name": f"客户{i}"})
                         for i in range(n)], "cli")  # fmt: skip


def _start(tmp: Path, config: Path, *extra: str) -> subprocess.Popen:
    return start_run(tmp / "p.pb", config, *extra, lang="en", env={"COLUMNS": "400"})


class _StderrLines:
    """A daemon's stderr read as it comes (a thread drains the pipe), so a test can wait for
    a line while the process runs; `stop()` is processes.stop for it."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace"))

    def stop(self, timeout: float = 60) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=timeout)
        return self.proc.returncode, "".join(self.lines)


def _outbox(tmp: Path) -> list[dict]:
    return read_jsonl(tmp / "outbox.jsonl", skip_torn=True)


def _holder_pid(store: Store) -> int | None:
    holder = store.lease_holder()
    return holder.pid if holder is not None else None


def _check_outbox(tmp: Path) -> None:
    """Every touch once; one dm per contact (the limit), one task per contact."""
    lines = _outbox(tmp)
    twice = [k for k, n in Counter(r["key"] for r in lines).items() if n > 1]
    assert not twice, f"delivered twice: {twice[:5]}"
    dms = Counter(r["contact"] for r in lines if r["channel"] == "dm")
    tasks = Counter(r["contact"] for r in lines if r["channel"] == "task")
    assert set(dms.values()) == {1} and len(dms) == CONTACTS, Counter(dms.values())
    assert len(tasks) == CONTACTS


def test_two_daemons_started_together_one_runs_the_other_names_it(tmp_path: Path, store_url: str) -> None:
    config, store = _setup(tmp_path, store_url)
    _events(store)
    a, b = _start(tmp_path, config), _start(tmp_path, config)
    try:
        wait(lambda: a.poll() is not None or b.poll() is not None, interval=0.02)
        refused, running = (a, b) if a.poll() is not None else (b, a)
        code, err = stop(refused)
        assert code == 3, err
        assert "in use by another playbook run" in err and f"pid {running.pid}" in err, err
        assert running.poll() is None
        status = subprocess.run([sys.executable, "-m", "playbook", "status", "--db", store_url, "--format", "json"],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        assert json.loads(status.stdout)["writer"]["pid"] == running.pid  # status names the holder
        wait(lambda: len(_outbox(tmp_path)) >= 2 * CONTACTS, interval=0.02)
        # a cron `run --once` beside the running daemon is refused the same way, and writes nothing
        once = _start(tmp_path, config, "--once")
        code, err = _stop_when_done(once)
        assert code == 3 and f"pid {running.pid}" in err, err
    finally:
        code, err = stop(running)
    assert code == 0, err
    assert _holder_pid(store) is None  # a clean stop gives the lease up
    _check_outbox(tmp_path)
    assert {r.state for r in store.touches()} <= {"sent", "skipped"}
    store.close()


def test_a_standby_takes_over_from_a_killed_daemon(tmp_path: Path, store_url: str) -> None:
    config, store = _setup(tmp_path, store_url)
    a = _start(tmp_path, config)
    wait(lambda: _holder_pid(store) == a.pid, interval=0.02)
    b = _start(tmp_path, config, "--standby")
    said = _StderrLines(b)
    try:
        # on a loaded machine the standby may take seconds to start: wait until it says it waits
        wait(lambda: any("standby: the store is held by" in line for line in said.lines), timeout=60, interval=0.05)
        assert b.poll() is None and _holder_pid(store) == a.pid  # waiting, not deciding
        _events(store)
        wait(lambda: len(_outbox(tmp_path)) >= 20, interval=0.02)
        a.send_signal(signal.SIGKILL)  # mid-dispatch
        a.wait(timeout=30)
        wait(lambda: _holder_pid(store) == b.pid, timeout=LEASE + 30, interval=0.02)
        wait(lambda: len(_outbox(tmp_path)) >= 2 * CONTACTS, interval=0.02)
        time.sleep(0.5)
    finally:
        code, err = said.stop()
        if a.poll() is None:
            stop(a)
    assert code == 0, err
    assert "standby: the store is held by" in err and f"pid {a.pid}" in err, err
    _check_outbox(tmp_path)
    assert {r.state for r in store.touches()} <= {"sent", "skipped"}
    store.close()


def test_a_stopped_daemon_resumed_after_losing_its_lease_writes_nothing(tmp_path: Path, store_url: str) -> None:
    config, store = _setup(tmp_path, store_url)
    a = _start(tmp_path, config)
    wait(lambda: _holder_pid(store) == a.pid, interval=0.02)
    _events(store)
    wait(lambda: len(_outbox(tmp_path)) >= 20, interval=0.02)
    _pause_outside_its_locks(a, store, tmp_path / "outbox.jsonl")  # paused mid-dispatch, holding claimed rows
    try:
        b = _start(tmp_path, config, "--standby", "--once")  # takes over at the expiry, sends the rest, exits
        code, err = _stop_when_done(b)
        assert code == 0, err
        outbox = (tmp_path / "outbox.jsonl").read_bytes()
        ledger = {(r.key, r.state, r.updated_at) for r in store.touches()}
        events = store.event_counts()
        a.send_signal(signal.SIGCONT)
        code, err = _stop_when_done(a)
    finally:
        if a.poll() is None:
            a.send_signal(signal.SIGCONT)
            stop(a)
    assert code == 3, err
    assert "lost the store's lease" in err, err
    assert (tmp_path / "outbox.jsonl").read_bytes() == outbox  # not a line more
    assert {(r.key, r.state, r.updated_at) for r in store.touches()} == ledger  # not a row changed
    assert store.event_counts() == events
    _check_outbox(tmp_path)
    store.close()


def _pause_outside_its_locks(proc: subprocess.Popen, store: Store, outbox: Path) -> None:
    """SIGSTOP the process where a new holder can take over: not while it writes a batch to
    the outbox (it holds the outbox's fence lock; the next holder then waits until it
    resumes and finishes, and reconciles what it wrote) nor, on SQLite, inside a write
    transaction (it keeps the file's write lock: nobody can write or take its lease). So
    the process is resumed and stopped again until neither lock is held — which leaves the
    moments between its lease check and its write, the ones fencing is for."""
    path = sqlite_path(store.url)
    fence = outbox.with_name(outbox.name + ".fence")
    for _ in range(500):
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.01)
        if _free(path, fence):
            return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.003)
    raise AssertionError("never caught the daemon outside its locks")


def _free(path: Path | None, fence: Path) -> bool:
    fd = os.open(fence, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    if path is None:
        return True
    probe = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _stop_when_done(proc: subprocess.Popen, timeout: float = 90) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYBOOK_DB", raising=False)
