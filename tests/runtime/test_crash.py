"""Crash safety of the real daemon process: SIGKILL at random moments — while it starts,
decides, and (mostly) while it dispatches — then restart, again and again; at the end
every planned touch has exactly one terminal outcome and no idempotency key reached the
adapter (the jsonl outbox) twice. And SIGTERM drains in-flight calls and exits 0.

`PLAYBOOK_CRASH_KILLS` sets the number of kills (CI: 20; the marked slow run: 50).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from playbook.engine.model import Event
from playbook.runtime.store import Store

PLAYBOOK = """\
playbook "崩溃测试"
timezone "Asia/Shanghai"

journey 欢迎 {
  on friend_added
  dm 欢迎语
  task "跟进{name|客户}"
}

content 欢迎语 = "{name|亲}，欢迎！"
"""
CONTACTS = 800  # two touches each: enough work for every kill to land mid-dispatch


def _setup(tmp: Path, batch: int = 5) -> tuple[Path, Store, set[str]]:
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    (tmp / "playbook.toml").write_text(
        f"""\
[store]
url = "sqlite:///{tmp / "store.db"}"
[adapter]
name = "jsonl"
[adapter.options]
path = "{tmp / "outbox.jsonl"}"
[intake]
port = 0
[daemon]
tick = 0.2
batch = {batch}
workers = 2
approve = "never"  # the launch gate (above 50 by default) would hold the 1,600 touches
""",
        encoding="utf-8",
    )
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    store.migrate()
    now = int(time.time())
    store.append_events(
        [Event("friend_added", f"c{i:03}", now, {"account": f"a{i % 3}", "name": f"客户{i}"}) for i in range(CONTACTS)],
        "cli",
    )
    from playbook.compiler import compile_path

    version = compile_path(str(tmp / "p.pb")).doc["version"]
    expected = {f"{version}/欢迎/c{i:03}/{step}/1" for i in range(CONTACTS) for step in ("s1", "s2")}
    return tmp / "playbook.toml", store, expected


def _start(tmp: Path, config: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "playbook", "run", str(tmp / "p.pb"), "--config", str(config), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _outbox(tmp: Path) -> list[str]:
    path = tmp / "outbox.jsonl"
    if not path.exists():
        return []
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            keys.append(json.loads(line)["key"])
        except ValueError:
            continue  # a line torn by the kill: that delivery never completed
    return keys


def _kill_at_random(tmp: Path, config: Path, rng: random.Random) -> bool:
    """Start the daemon and SIGKILL it: now and then after a short random delay (start-up,
    deciding), mostly once the outbox has grown by a few lines (mid-dispatch). True when
    the kill landed (the process was still running)."""
    before = len(_outbox(tmp))
    proc = _start(tmp, config, "--once")
    if rng.random() < 0.2:
        deadline = time.monotonic() + rng.uniform(0.05, 1.0)
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
    else:
        grow = rng.randint(1, 30)
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            size = (tmp / "outbox.jsonl").stat().st_size if (tmp / "outbox.jsonl").exists() else 0
            if size and len(_outbox(tmp)) >= before + grow:
                break
            time.sleep(0.002)
    landed = proc.poll() is None
    if landed:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return landed


def _crash_and_check(tmp: Path, kills: int, seed: int) -> None:
    config, store, expected = _setup(tmp)
    rng = random.Random(seed)
    landed = sum(_kill_at_random(tmp, config, rng) for _ in range(kills))
    assert len(_outbox(tmp)) < len(expected)  # the kills interrupted the work, not an idle daemon
    assert landed >= kills * 0.8, landed
    final = _start(tmp, config, "--once")
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()

    rows = {r.key: r for r in store.touches()}
    assert set(rows) == expected  # every planned touch is in the ledger …
    states = Counter(r.state for r in rows.values())
    assert set(states) <= {"sent", "unknown"}, states  # … with one terminal outcome
    delivered = _outbox(tmp)
    twice = [k for k, n in Counter(delivered).items() if n > 1]
    assert not twice, f"delivered twice: {twice[:5]}"
    sent = {k for k, r in rows.items() if r.state == "sent"}
    assert set(delivered) == sent  # sent means in the outbox, and nothing else is there
    for key in (k for k, r in rows.items() if r.state == "unknown"):
        assert rows[key].error  # an unknown one says why
    store.close()


def test_sigkill_during_dispatch_never_loses_or_repeats_a_touch(tmp_path: Path) -> None:
    _crash_and_check(tmp_path, int(os.environ.get("PLAYBOOK_CRASH_KILLS", "20")), seed=1)


@pytest.mark.slow
def test_sigkill_50_times(tmp_path: Path) -> None:
    _crash_and_check(tmp_path, 50, seed=2)


def test_sigterm_drains_and_exits_zero(tmp_path: Path) -> None:
    config, store, expected = _setup(tmp_path, batch=2)
    proc = _start(tmp_path, config)
    deadline = time.monotonic() + 30
    while len(_outbox(tmp_path)) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    rows = store.touches()
    assert not [r for r in rows if r.state == "sending"]  # in-flight calls were finished and recorded
    assert {r.key for r in rows if r.state == "sent"} == set(_outbox(tmp_path))
    # a restart picks up the rest
    final = _start(tmp_path, config, "--once")
    final.communicate(timeout=120)
    assert {r.key for r in store.touches(states=("sent",))} == expected
    store.close()


def test_sighup_reloads_a_changed_playbook(tmp_path: Path) -> None:
    config, store, _ = _setup(tmp_path)
    proc = _start(tmp_path, config)
    try:
        deadline = time.monotonic() + 30
        while not store.versions(active=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        (before,) = [v.version for v in store.versions(active=True)]
        path = tmp_path / "p.pb"
        stat = path.stat()
        path.write_text(PLAYBOOK.replace("欢迎！", "欢迎光临！"), encoding="utf-8")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # unchanged mtime: only the signal can tell
        time.sleep(0.5)
        assert [v.version for v in store.versions(active=True)] == [before]
        proc.send_signal(signal.SIGHUP)
        while [v.version for v in store.versions(active=True)] == [before] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [v.version for v in store.versions(active=True)] not in ([before], [])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    store.close()
