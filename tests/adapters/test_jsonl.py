"""The jsonl outbox: one sorted JSON line per delivery, fsync'd per batch, and reconcile from the file."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from playbook.adapters import jsonl
from playbook.adapters.base import ABSENT, SENT, Delivery, Fenced, Result, TransientError
from playbook.adapters.jsonl import JsonlAdapter
from playbook.diagnostics import PlaybookError

Make = Callable[..., Delivery]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_one_line_per_delivery_with_every_field(tmp_path: Path, make_delivery: Make) -> None:
    out = tmp_path / "outbox.jsonl"
    adapter = JsonlAdapter({"path": str(out)})
    batch = [
        make_delivery("k1", parts={"image": "https://img/1.png"}),
        make_delivery("k2", channel="moment", contact=None, audience=("c1", "c2"), attempt=2),
    ]
    assert adapter.send(batch) == [Result("k1", SENT), Result("k2", SENT)]
    adapter.close()
    lines = _lines(out)
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first == {
        "key": "k1", "version": "pb-1", "flow": "新客培育", "step": "after 5m: dm 欢迎语", "channel": "dm",
        "account": "a1", "contact": "c1", "group": None, "audience": None, "content": "欢迎语",
        "text": "你好 [bold]小王[/bold]，欢迎！", "parts": {"image": "https://img/1.png"},
        "at": "2026-12-01T00:00:00+00:00", "due": "2026-11-30T23:55:00+00:00", "attempt": 1,
    }  # fmt: skip
    assert json.loads(lines[1])["audience"] == ["c1", "c2"]
    # Stable bytes: sorted keys, Chinese as it is.
    assert lines[0] == json.dumps(first, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert "新客培育" in lines[0]


def test_appends_and_fsyncs_each_batch(tmp_path: Path, make_delivery: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "sub" / "outbox.jsonl"
    out.parent.mkdir()
    out.write_text('{"key":"old"}\n', encoding="utf-8")
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    adapter = JsonlAdapter({"path": str(out)})
    adapter.open()
    adapter.send([make_delivery("k1"), make_delivery("k2")])
    adapter.send([make_delivery("k3")])
    assert len(synced) == 2  # once per batch, not per line
    adapter.close()
    JsonlAdapter({"path": str(out)}).send([make_delivery("k4")])  # a restart appends too
    assert [json.loads(line)["key"] for line in _lines(out)] == ["old", "k1", "k2", "k3", "k4"]


def test_reconcile_reports_written_keys_as_sent_and_the_others_absent(tmp_path: Path, make_delivery: Make) -> None:
    out = tmp_path / "outbox.jsonl"
    assert JsonlAdapter({"path": str(out)}).reconcile([make_delivery("k1")]) == [Result("k1", ABSENT)]  # no file yet
    before_crash = JsonlAdapter({"path": str(out)})
    before_crash.send([make_delivery("k1"), make_delivery("k2")])
    # The process dies here: the ledger still says `sending` for k1, k2 and k3 (never written).
    after = JsonlAdapter({"path": str(out)})
    asked = [make_delivery("k3"), make_delivery("k2"), make_delivery("k1")]
    assert after.reconcile(asked) == [Result("k3", ABSENT), Result("k2", SENT), Result("k1", SENT)]


def test_a_torn_last_line_is_neither_reconciled_nor_glued_to(tmp_path: Path, make_delivery: Make) -> None:
    out = tmp_path / "outbox.jsonl"
    JsonlAdapter({"path": str(out)}).send([make_delivery("k1")])
    with out.open("a", encoding="utf-8") as f:
        f.write('{"key":"k2","text":"half')  # a crash in the middle of a write
    adapter = JsonlAdapter({"path": str(out)})
    assert adapter.reconcile([make_delivery("k1"), make_delivery("k2")]) == [Result("k1", SENT), Result("k2", ABSENT)]
    adapter.send([make_delivery("k3")])
    lines = _lines(out)
    assert len(lines) == 3 and json.loads(lines[2])["key"] == "k3"


def test_a_failed_write_is_cut_back_off(tmp_path: Path, make_delivery: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "outbox.jsonl"
    adapter = JsonlAdapter({"path": str(out)})
    adapter.send([make_delivery("k1")])
    size = out.stat().st_size
    real_write_all = jsonl._write_all

    def half_then_fail(file: object, data: bytes) -> None:
        real_write_all(file, data[: len(data) // 2])  # type: ignore[arg-type]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl, "_write_all", half_then_fail)
    with pytest.raises(TransientError, match="No space left on device"):
        adapter.send([make_delivery("k2"), make_delivery("k3")])
    assert out.stat().st_size == size  # a retry cannot write k2 twice


def test_the_path_is_required(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="adapter 'jsonl' needs the option 'path'"):
        JsonlAdapter({})
    assert JsonlAdapter.idempotent is False
    assert repr(JsonlAdapter({"path": "x.jsonl"})) == "JsonlAdapter(path='x.jsonl')"


def test_an_unopenable_path_is_transient(tmp_path: Path, make_delivery: Make) -> None:
    (tmp_path / "file").write_text("")
    adapter = JsonlAdapter({"path": str(tmp_path / "file" / "outbox.jsonl")})  # a file where a folder should be
    with pytest.raises(TransientError, match="cannot open the outbox"):
        adapter.send([make_delivery()])


def test_a_writer_fenced_off_by_a_newer_token_writes_nothing(tmp_path: Path, make_delivery: Make) -> None:
    out = tmp_path / "outbox.jsonl"
    old, new = JsonlAdapter({"path": str(out)}), JsonlAdapter({"path": str(out)})
    old.fence(1)
    old.send([make_delivery("k1")])
    new.fence(2)  # the next holder took the store over
    with pytest.raises(Fenced):
        old.send([make_delivery("k2")])
    new.send([make_delivery("k3")])
    assert [json.loads(line)["key"] for line in _lines(out)] == ["k1", "k3"]
    assert (tmp_path / "outbox.jsonl.fence").read_text() == "2"
    old.fence(1)  # an older token never lowers the file's
    assert (tmp_path / "outbox.jsonl.fence").read_text() == "2"
