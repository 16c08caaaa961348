"""A SQLite store is run by one process: real `playbook run` processes on one SQLite file.

What happens, all checked here: a second `playbook run` beside a running daemon exits 3
naming the holder and saying that several processes (scale-out) need PostgreSQL, in English
and in Chinese; so does a cron-style `run --once`; `--standby` on SQLite is the
single-machine failover it always was — it waits (it decides and sends nothing) and takes
over the moment the running daemon stops. Meanwhile the first daemon sends every touch once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from playbook.runtime.store import Store
from playbook.vocab.model import Event
from tests.runtime.processes import read_jsonl, wait, write_jsonl_config

PLAYBOOK = """\
playbook "一进程"
timezone "Asia/Shanghai"
journey 欢迎 {
  on friend_added
  dm 欢迎语
}
content 欢迎语 = "{name|亲}，欢迎！"
"""
CONTACTS = 40


class _Run:
    """`playbook run` as a real process, its stderr in a file (read while it runs)."""

    def __init__(self, tmp: Path, name: str, *extra: str, lang: str = "en") -> None:
        self.log = tmp / f"{name}.err"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "playbook", "--lang", lang, "run", str(tmp / "p.pb"), "--config",
                 str(tmp / "playbook.toml"), *extra],
                stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"},
            )  # fmt: skip

    @property
    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def exited(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def _setup(tmp: Path) -> Store:
    (tmp / "p.pb").write_text(PLAYBOOK, encoding="utf-8")
    url = f"sqlite:///{tmp / 'playbook.db'}"
    write_jsonl_config(tmp / "playbook.toml", url, tmp / "outbox.jsonl", tick=0.2, lease=2, approve="never")
    store = Store(url)
    store.migrate()
    return store


def test_a_second_process_on_sqlite_is_refused_naming_the_holder(tmp_path: Path) -> None:
    store = _setup(tmp_path)
    first = _Run(tmp_path, "first")
    try:
        wait(lambda: store.lease_holder() is not None)
        pid = first.proc.pid
        second = _Run(tmp_path, "second")
        assert second.exited() == 3
        text = second.text
        assert f"pid {pid}" in text and "is in use by another playbook run" in text
        assert "A SQLite store is run by one process; several processes (scale-out) need a PostgreSQL store" in text
        assert "Traceback" not in text
        once = _Run(tmp_path, "once", "--once")  # a cron job beside the daemon
        assert once.exited() == 3
        assert f"pid {pid}" in once.text and "need a PostgreSQL store" in once.text
        zh = _Run(tmp_path, "zh", lang="zh")
        assert zh.exited() == 3
        assert (
            str(pid) in zh.text and "SQLite 存储只能由一个进程运行；多个进程（横向扩展）需要 PostgreSQL 存储" in zh.text
        )
        # the refused ones wrote nothing: the first is still the holder, and it goes on
        holder = store.lease_holder()
        assert holder is not None and holder.pid == pid
        now = int(time.time())
        store.append_events([Event("friend_added", f"c{i:02}", now, {"account": "a1"}) for i in range(CONTACTS)], "cli")
        wait(lambda: len(read_jsonl(tmp_path / "outbox.jsonl", skip_torn=True)) >= CONTACTS)
    finally:
        assert first.stop() == 0, first.text
        store.close()
    keys = Counter(r["key"] for r in read_jsonl(tmp_path / "outbox.jsonl"))
    assert len(keys) == CONTACTS and set(keys.values()) == {1}


def test_standby_on_sqlite_waits_and_takes_over_when_the_daemon_stops(tmp_path: Path) -> None:
    store = _setup(tmp_path)
    first = _Run(tmp_path, "first")
    standby: _Run | None = None
    try:
        wait(lambda: store.lease_holder() is not None)
        standby = _Run(tmp_path, "standby", "--standby")
        wait(lambda: "taking over when its lease ends" in standby.text)  # type: ignore[union-attr]
        time.sleep(3)  # longer than the lease: the running daemon renews it, the standby keeps waiting
        assert standby.proc.poll() is None
        holder = store.lease_holder()
        assert holder is not None and holder.pid == first.proc.pid
        assert first.stop() == 0  # a clean stop gives the lease up: the standby takes over at once
        wait(lambda: "took over the store" in standby.text, timeout=30)  # type: ignore[union-attr]
        holder = store.lease_holder()
        assert holder is not None and holder.pid == standby.proc.pid
        now = int(time.time())
        store.append_events([Event("friend_added", f"c{i:02}", now, {"account": "a1"}) for i in range(CONTACTS)], "cli")
        wait(lambda: len(read_jsonl(tmp_path / "outbox.jsonl", skip_torn=True)) >= CONTACTS)
    finally:
        first.stop()
        if standby is not None:
            assert standby.stop() == 0, standby.text
        store.close()
    keys = Counter(r["key"] for r in read_jsonl(tmp_path / "outbox.jsonl"))
    assert len(keys) == CONTACTS and set(keys.values()) == {1}
