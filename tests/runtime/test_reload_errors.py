"""A refused reload, with the real daemon process (issue 12, items 5 and 6): the log and
`playbook status` show exactly what `playbook check` prints for the same file — location,
the line, the caret, the hint, in the configured language — the running version carries
on, and log lines are stamped in the playbook's timezone with the offset.

The playbook's timezone is Asia/Kathmandu (+05:45): no machine runs in it by accident."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.processes import read_jsonl, wait

GOOD = """\
playbook "欢迎"
timezone "Asia/Kathmandu"
journey 欢迎 {
  on friend_added
  dm 欢迎语
}
content 欢迎语 = "{text}"
"""
SYNTAX_ERROR = GOOD.replace("  dm 欢迎语\n", "  dm 欢迎语 7\n")  # 这里应为 …，但写的是 '7'
COMPILE_ERROR = GOOD.replace("  dm 欢迎语\n", "  if in 老课 { dm 欢迎语 }\n")  # unknown segment, and a warning
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+05:45 (INFO|WARNING|ERROR|DEBUG) ")


def _cli(*args: str, lang: str = "zh") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook", "--lang", lang, *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"}, timeout=60)  # fmt: skip


def _check_text(path: Path, lang: str) -> str:
    """What `playbook check` prints for the file's diagnostics (before its ✗ and summary lines)."""
    done = _cli("check", str(path), lang=lang)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    return "\n".join(lines[: next(i for i, x in enumerate(lines) if x.startswith("✗"))])


def _outbox(tmp: Path) -> list[dict]:
    return read_jsonl(tmp / "outbox.jsonl")


def test_a_refused_reload_prints_what_check_prints(tmp_path: Path, store_url: str) -> None:
    pb = tmp_path / "p.pb"
    pb.write_text(GOOD.replace("{text}", "旧的欢迎语"), encoding="utf-8")
    (tmp_path / "playbook.toml").write_text(
        f'[store]\nurl = "{store_url}"\n[adapter]\nname = "jsonl"\n[adapter.options]\n'
        f'path = "{tmp_path / "outbox.jsonl"}"\n[intake]\nport = 0\n[daemon]\ntick = 0.1\n',
        encoding="utf-8",
    )
    log = tmp_path / "daemon.log"
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "playbook", "--lang", "zh", "run", str(pb), "--config",
                                 str(tmp_path / "playbook.toml")], stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "TZ": "UTC"})  # fmt: skip
    try:
        text = lambda: log.read_text(encoding="utf-8")  # noqa: E731
        wait(lambda: "正在运行" in text(), timeout=20.0)
        # A syntax error, noticed as a file change.
        time.sleep(0.05)
        pb.write_text(SYNTAX_ERROR.replace("{text}", "新的欢迎语"), encoding="utf-8")
        wait(lambda: "重新加载被拒绝" in text(), timeout=20.0)
        expected = _check_text(pb, "zh")
        assert "p.pb:5:" in expected and "^" in expected and "'7'" in expected
        wait(lambda: expected in text(), timeout=20.0)
        assert f"重新加载被拒绝，继续运行当前版本：\n{expected}\n" in text()
        # `status` shows the same text, and the diagnostics as data in JSON.
        status = _cli("status", "--db", store_url)
        assert status.returncode == 0, status.stderr
        assert expected in status.stdout and "重新加载被拒绝" in status.stdout
        doc = json.loads(_cli("status", "--db", store_url, "--format", "json").stdout)
        refused = doc["reload_refused"]
        assert refused["text"] == expected
        assert [(d["file"], d["line"], d["column"]) for d in refused["diagnostics"]] == [(str(pb), 5, 10)]
        assert refused["at"].endswith("+05:45")
        # The running version carries on.
        assert _cli("event", "friend_added", "--contact", "c1", "account=a1", "--db", store_url).returncode == 0
        wait(lambda: len(_outbox(tmp_path)) == 1, timeout=20.0)
        assert _outbox(tmp_path)[0]["text"] == "旧的欢迎语"
        # A compile error with a warning, asked for by SIGHUP: the error and the warning, as check shows them.
        pb.write_text(COMPILE_ERROR.replace("{text}", "新的欢迎语"), encoding="utf-8")
        expected = _check_text(pb, "zh")
        assert "未知的客群 '老课'" in expected and "^^^^" in expected and "警告" in expected
        wait(lambda: expected in text(), timeout=20.0)
        before = text().count("重新加载被拒绝")
        proc.send_signal(signal.SIGHUP)
        wait(lambda: text().count("重新加载被拒绝") == before + 1, timeout=20.0)
        assert text().count(expected) == 2
        # The file moved away (an editor saving by delete-and-write): refused as check says, not a crash.
        aside = tmp_path / "p.pb.aside"
        pb.rename(aside)
        missing = _check_text(pb, "zh")
        assert "p.pb" in missing
        wait(lambda: missing in text(), timeout=20.0)
        assert proc.poll() is None
        aside.rename(pb)
        # A good edit goes through, and status no longer shows a refusal.
        pb.write_text(GOOD.replace("{text}", "新的欢迎语"), encoding="utf-8")
        wait(lambda: "（新版本）" in text(), timeout=20.0)
        wait(lambda: json.loads(_cli("status", "--db", store_url, "--format", "json").stdout)["reload_refused"]
                  is None, timeout=20.0)  # fmt: skip
        assert "重新加载被拒绝" not in _cli("status", "--db", store_url).stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    # Every log line starts with the time in the playbook's timezone, to the second, with the offset;
    # only the lines of a multi-line message (the diagnostics) do not.
    lines = text().splitlines()
    heads = [x for x in lines if STAMP.match(x)]
    assert len(heads) >= 5
    continuation = [x for x in lines if not STAMP.match(x)]
    diagnostics = {*expected.splitlines(), *missing.splitlines(), *_check_text_lines(SYNTAX_ERROR, tmp_path)}
    assert continuation and all(x in diagnostics for x in continuation)


def _check_text_lines(source: str, tmp: Path) -> list[str]:
    pb = tmp / "p.pb"
    pb.write_text(source.replace("{text}", "新的欢迎语"), encoding="utf-8")
    return _check_text(pb, "zh").splitlines()


def test_the_log_in_english_carries_check_s_english(tmp_path: Path) -> None:
    """The configured language decides: --lang en gives check's English text. (With the
    console adapter, whose lines carry the playbook's time too.)"""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    pb = tmp_path / "p.pb"
    pb.write_text(GOOD.replace("{text}", "hi"), encoding="utf-8")
    (tmp_path / "playbook.toml").write_text(
        f'[store]\nurl = "{url}"\n[adapter]\nname = "console"\n[intake]\nport = 0\n[daemon]\ntick = 0.1\n',
        encoding="utf-8",
    )
    log, shown = tmp_path / "daemon.log", tmp_path / "console.txt"
    with log.open("w", encoding="utf-8") as err, shown.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "playbook", "--lang", "en", "run", str(pb), "--config",
                                 str(tmp_path / "playbook.toml")], stdout=out, stderr=err,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        text = lambda: log.read_text(encoding="utf-8")  # noqa: E731
        wait(lambda: "running " in text(), timeout=20.0)
        time.sleep(0.05)
        pb.write_text(COMPILE_ERROR.replace("{text}", "hi"), encoding="utf-8")
        expected = _check_text(pb, "en")
        assert "unknown segment '老课'" in expected
        wait(lambda: expected in text(), timeout=20.0)
        assert re.search(
            r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+05:45 ERROR   reload refused, the running versions carry on:\n",
            text(),
            re.M,
        )
        assert "reload refused at " in _cli("status", "--db", url, lang="en").stdout
        # The console adapter shows each touch's time as the log does: the playbook's, with the offset.
        assert _cli("event", "friend_added", "--contact", "c1", "account=a1", "--db", url).returncode == 0
        wait(lambda: "a1 → c1" in shown.read_text(encoding="utf-8"), timeout=20.0)
        (head, *_) = [x for x in shown.read_text(encoding="utf-8").splitlines() if "a1 → c1" in x]
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+05:45  dm ", head), head
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
