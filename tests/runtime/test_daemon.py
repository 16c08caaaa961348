"""The daemon as a whole, in this process (a thread; signals are tested in test_crash.py):
an event posted to the HTTP intake comes out of the adapter, a changed playbook file is
reloaded as a new version, a broken edit is refused, and stop() ends run() with 0."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from playbook.runtime.config import load_config
from playbook.runtime.daemon import Daemon, RunOptions
from playbook.runtime.store import Store
from tests.runtime.processes import free_port, read_jsonl, wait

WELCOME = """\
playbook "欢迎"
timezone "Asia/Shanghai"
journey 欢迎 {{
  on friend_added
  dm 欢迎语
}}
content 欢迎语 = "{text}"
"""
TOKEN = "test-token-123"


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Daemon, Path, int]]:
    port = free_port()
    (tmp_path / "p.pb").write_text(WELCOME.format(text="{name|亲}，欢迎！"), encoding="utf-8")
    (tmp_path / "playbook.toml").write_text(
        f'[adapter]\nname = "jsonl"\n[adapter.options]\npath = "outbox.jsonl"\n'
        f"[intake]\nport = {port}\n[daemon]\ntick = 0.1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PLAYBOOK_INTAKE_TOKEN", TOKEN)
    monkeypatch.delenv("PLAYBOOK_DB", raising=False)
    config = load_config(tmp_path / "playbook.toml")
    daemon = Daemon(config, RunOptions([str(tmp_path / "p.pb")]))
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(daemon.run()), daemon=True)
    thread.start()
    wait(lambda: _health(port), timeout=15.0)
    yield daemon, tmp_path, port
    daemon.stop()
    thread.join(timeout=15)
    assert result == [0]


def _health(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def _outbox(tmp: Path) -> list[dict]:
    return read_jsonl(tmp / "outbox.jsonl")


def _post(port: int, contact: str, name: str) -> httpx.Response:
    now = dt.datetime.now(dt.UTC).isoformat()
    event = {"type": "friend_added", "contact": contact, "at": now, "account": "a1", "name": name}
    return httpx.post(f"http://127.0.0.1:{port}/events", json=event, timeout=5,
                      headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip


def test_an_event_posted_to_the_intake_comes_out_of_the_adapter(running: tuple[Daemon, Path, int]) -> None:
    _, tmp, port = running
    assert _post(port, "n1", "王小明").status_code in (200, 202)
    wait(lambda: len(_outbox(tmp)) == 1, timeout=15.0)
    (line,) = _outbox(tmp)
    assert (line["contact"], line["account"], line["text"], line["channel"]) == ("n1", "a1", "王小明，欢迎！", "dm")
    denied = httpx.post(f"http://127.0.0.1:{port}/events", json={}, headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401


def test_a_changed_playbook_is_reloaded_as_a_new_version(running: tuple[Daemon, Path, int]) -> None:
    _, tmp, port = running
    store = Store(f"sqlite:///{tmp / 'playbook.db'}")
    try:
        (first,) = [v.version for v in store.versions(active=True)]
        time.sleep(0.05)  # a later modification time
        (tmp / "p.pb").write_text(WELCOME.format(text="新的欢迎语"), encoding="utf-8")
        wait(lambda: [v.version for v in store.versions(active=True)] not in ([first], []), timeout=15.0)
        _post(port, "n2", "李雷")
        wait(lambda: len(_outbox(tmp)) == 1, timeout=15.0)
        assert _outbox(tmp)[0]["text"] == "新的欢迎语"
        (tmp / "p.pb").write_text("journey 坏 {", encoding="utf-8")  # refused; the daemon carries on
        time.sleep(0.5)
        _post(port, "n3", "韩梅梅")
        wait(lambda: len(_outbox(tmp)) == 2, timeout=15.0)
        assert _outbox(tmp)[1]["text"] == "新的欢迎语"
    finally:
        store.close()
