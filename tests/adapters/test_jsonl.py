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
    assert json.loads((tmp_path / "outbox.jsonl.fence").read_text()) == {"0": 2}
    old.fence(1)  # an older token never lowers the file's
    assert json.loads((tmp_path / "outbox.jsonl.fence").read_text()) == {"0": 2}


def test_a_shard_taken_over_is_refused_while_a_shard_still_held_goes_out(tmp_path: Path, make_delivery: Make) -> None:
    """Scale-out: one token per shard. A process paused past shard 1's lease finds its
    shard-1 batch refused once another took shard 1, and its shard-0 batch written."""
    out = tmp_path / "outbox.jsonl"
    paused, other = JsonlAdapter({"path": str(out)}), JsonlAdapter({"path": str(out)})
    paused.fence(4, shard=0)
    paused.fence(4, shard=1)
    other.fence(7, shard=2)
    other.fence(5, shard=1)  # took shard 1 over while `paused` was stopped
    with pytest.raises(Fenced) as refused:
        paused.send([make_delivery("s1-old", shard=1)])
    assert refused.value.shard == 1 and "shard 1" in str(refused.value)
    paused.send([make_delivery("s0", shard=0)])
    other.send([make_delivery("s1-new", shard=1)])
    with pytest.raises(Fenced) as never_held:  # a shard this process never took is not its to write
        paused.send([make_delivery("s2", shard=2)])
    assert never_held.value.shard == 2
    with pytest.raises(Fenced):  # a batch with one lost shard writes nothing at all
        paused.send([make_delivery("s0-b", shard=0), make_delivery("s1-b", shard=1)])
    assert [json.loads(line)["key"] for line in _lines(out)] == ["s0", "s1-new"]
    assert json.loads(out.with_name("outbox.jsonl.fence").read_text()) == {"0": 4, "1": 5, "2": 7}


def test_an_older_single_number_fence_file_is_shard_0s_token(tmp_path: Path, make_delivery: Make) -> None:
    out = tmp_path / "outbox.jsonl"
    out.with_name("outbox.jsonl.fence").write_text("7")  # written by a version before scale-out
    old = JsonlAdapter({"path": str(out)})
    old.fence(6)
    with pytest.raises(Fenced):
        old.send([make_delivery("k1")])
    new = JsonlAdapter({"path": str(out)})
    new.fence(8)
    new.fence(2, shard=3)
    new.send([make_delivery("k2"), make_delivery("k3")])
    new.send([make_delivery("k4", shard=3)])
    assert [json.loads(line)["key"] for line in _lines(out)] == ["k2", "k3", "k4"]
    assert json.loads(out.with_name("outbox.jsonl.fence").read_text()) == {"0": 8, "3": 2}


def test_a_fence_file_never_shrinks_and_padding_reads_back(tmp_path: Path) -> None:
    fence = tmp_path / "outbox.jsonl.fence"
    fence.write_text('{"0":123456,"1":99}')
    adapter = JsonlAdapter({"path": str(tmp_path / "outbox.jsonl")})
    adapter.fence(123457)  # rewritten in place (no truncation first: a crash never leaves it empty)
    assert fence.read_text().rstrip(" ") == '{"0":123457,"1":99}'
    fd = os.open(fence, os.O_RDWR)
    try:
        jsonl._write_tokens(fd, {0: 1})  # shorter: padded with spaces, still one object
        assert jsonl._parse_tokens(jsonl._read_all(fd)) == {0: 1}
    finally:
        os.close(fd)
    assert len(fence.read_bytes()) == len('{"0":123457,"1":99}')


@pytest.mark.parametrize("garbled", ['{"0": "x"}', "[1, 2]", "12 13", '{"a": 1}', "\u00ff"])
def test_an_unreadable_fence_file_stops_writing(tmp_path: Path, make_delivery: Make, garbled: str) -> None:
    out = tmp_path / "outbox.jsonl"
    adapter = JsonlAdapter({"path": str(out)})
    adapter.fence(1)
    out.with_name("outbox.jsonl.fence").write_text(garbled)
    with pytest.raises(TransientError, match="fence file .* is unreadable"):
        adapter.send([make_delivery("k1")])
    with pytest.raises(TransientError, match="fence file .* is unreadable"):
        adapter.fence(2)
    assert not out.exists() or out.read_text() == ""


WRITER = """
import sys
from playbook.adapters.base import Fenced
from playbook.adapters.jsonl import JsonlAdapter
sys.path.insert(0, sys.argv[2])
from conftest import delivery

adapter = JsonlAdapter({"path": sys.argv[1]})
for line in sys.stdin:
    words = line.split()
    try:
        if words[0] == "fence":
            adapter.fence(int(words[1]), shard=int(words[2]))
        elif words[0] == "burst":  # burst SHARD BATCHES SIZE: keys SHARD-b-i, a long text each
            shard, batches, size = map(int, words[1:])
            for b in range(batches):
                adapter.send([delivery(f"{shard}-{b}-{i}", shard=shard, text="长" * 2000) for i in range(size)])
        elif words[0] == "send":  # send SHARD KEY
            adapter.send([delivery(words[2], shard=int(words[1]))])
        print("ok", flush=True)
    except Fenced as exc:
        print(f"fenced {exc.shard}", flush=True)
"""


class _Writer:
    """A separate OS process writing the outbox through its own JsonlAdapter, by command."""

    def __init__(self, out: Path) -> None:
        import subprocess
        import sys

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]),
                                                            os.environ.get("PYTHONPATH", "")])}  # fmt: skip
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(Path(__file__).parent)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip

    def ask(self, command: str) -> str:
        self.start(command)
        return self.answer()

    def start(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def test_two_processes_share_one_outbox_by_shard(tmp_path: Path) -> None:
    """Two real processes on one machine, each holding some shards, write one outbox at
    once: whole lines, every key once; then one takes a shard of the other, whose next batch
    for it is refused while its batch for a shard it still holds is written."""
    out = tmp_path / "outbox.jsonl"
    one, two = _Writer(out), _Writer(out)
    try:
        for writer, shards in ((one, (0, 1)), (two, (2, 3))):
            for shard in shards:
                assert writer.ask(f"fence 1 {shard}") == "ok"
        one.start("burst 0 60 4")
        two.start("burst 2 60 4")
        assert (one.answer(), two.answer()) == ("ok", "ok")
        keys = [json.loads(line)["key"] for line in _lines(out)]  # every line whole
        assert sorted(keys) == sorted(f"{s}-{b}-{i}" for s in (0, 2) for b in range(60) for i in range(4))
        assert two.ask("fence 2 1") == "ok"  # `one` paused past shard 1's lease; `two` took it
        assert one.ask("send 1 late") == "fenced 1"
        assert one.ask("send 0 still-mine") == "ok"
        assert two.ask("send 1 taken") == "ok"
    finally:
        one.close()
        two.close()
    assert [json.loads(line)["key"] for line in _lines(out)][-2:] == ["still-mine", "taken"]
    assert json.loads(out.with_name("outbox.jsonl.fence").read_text()) == {"0": 1, "1": 2, "2": 1, "3": 1}
