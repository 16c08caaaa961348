"""A running playbook edited (issue 12, item 1): what a limit, re-entry and the other
per-playbook state counted belongs to the playbook, not to one version of it — an edit
(a new version, reloaded by SIGHUP or a file change) never resets it.

The first tests drive the real daemon process (jsonl adapter) on SQLite and PostgreSQL;
the release "next day" is shown by a Decider over the same store with the clock moved on
(the real process reads the wall clock, which a test cannot move).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.adapters.jsonl import JsonlAdapter
from playbook.engine.model import Event
from playbook.engine.timeutil import LocalTime
from playbook.runtime.decide import Decider
from playbook.runtime.dispatch import Dispatcher
from playbook.runtime.store import Store

PLAYBOOK = """\
playbook "限额测试"
timezone "Asia/Shanghai"
limit dm 1 per contact per day

journey 一 {
  on ping
  dm hi
}

journey 二 {
  on pong
  dm yo
}

content hi = "hi"
content yo = "yo"
"""
LIMIT = "limit dm 1 per contact per day"


def _config(tmp: Path, url: str) -> Path:
    path = tmp / "playbook.toml"
    path.write_text(
        f"""\
[store]
url = "{url}"
[adapter]
name = "jsonl"
[adapter.options]
path = "{tmp / "outbox.jsonl"}"
[intake]
port = 0
[daemon]
tick = 0.1
""",
        encoding="utf-8",
    )
    return path


def _start(tmp: Path, config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "playbook", "run", str(tmp / "p.pb"), "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _outbox(tmp: Path) -> list[dict]:
    path = tmp / "outbox.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _wait(what: Callable[[], object], seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def _midnight_after(now: int) -> int:
    return LocalTime("Asia/Shanghai").next_period_start(now, "day")


@pytest.mark.parametrize("how", ["sighup", "file"])
def test_a_limit_survives_an_edit_of_the_running_playbook(tmp_path: Path, store_url: str, how: str) -> None:
    now = int(time.time())
    if _midnight_after(now) - now < 120:
        pytest.skip("too close to midnight in Asia/Shanghai: the day's limit would roll over mid-test")
    (tmp_path / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    config = _config(tmp_path, store_url)
    store = Store(store_url)
    store.migrate()
    store.append_events([Event("friend_added", "c1", now, {"account": "a1", "name": "客户"})], "cli")
    proc = _start(tmp_path, config)
    try:
        store.append_events([Event("ping", "c1", int(time.time()), {})], "cli")
        _wait(lambda: len(_outbox(tmp_path)) == 1)
        (before,) = [v.version for v in store.versions(active=True)]
        path = tmp_path / "p.pb"
        stat = path.stat()
        path.write_text(PLAYBOOK.replace('"yo"', '"yo!"'), encoding="utf-8")
        if how == "sighup":
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # only the signal can tell
            proc.send_signal(signal.SIGHUP)
        else:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        _wait(lambda: [v.version for v in store.versions(active=True)] not in ([before], []))
        (after,) = [v.version for v in store.versions(active=True)]
        store.append_events([Event("pong", "c1", int(time.time()), {})], "cli")
        held = _wait(lambda: [r for r in store.touches() if r.flow == "二"])
        time.sleep(0.5)  # a dispatch round that would send it
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert [d["text"] for d in _outbox(tmp_path)] == ["hi"]  # no second dm the same day
    (row,) = held
    assert row.version == after and row.state == "held" and row.reason == LIMIT
    # the next day (the Decider the process runs, its clock moved on): it goes out
    tomorrow = _midnight_after(int(time.time()))
    decider = Decider(store, [str(tmp_path / "p.pb")])
    decider.load(tomorrow + 5)
    decider.step(tomorrow + 5)
    adapter = JsonlAdapter({"path": str(tmp_path / "outbox.jsonl")})
    adapter.open()
    dispatcher = Dispatcher(store, adapter, owner="test", clock=lambda: tomorrow + 5, workers=1)
    while dispatcher.run_once(tomorrow + 5).claimed:
        pass
    dispatcher.close()
    adapter.close()
    sent = _outbox(tmp_path)
    assert [d["text"] for d in sent] == ["hi", "yo!"]
    assert sent[1]["at"] == dt_iso(tomorrow)
    store.close()


def dt_iso(epoch: int) -> str:
    from playbook.adapters.jsonl import iso_utc

    return iso_utc(epoch)
