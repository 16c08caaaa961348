"""Events known and unknown (issue 14 item 5): a journey on an event that is neither built
in nor declared (`event NAME`) is a warning with a did-you-mean; Chinese names of the
built-in events are those events, in the language and in every intake; `plan --events`
and `playbook event` warn on types no playbook listens to."""

from __future__ import annotations

import json
from pathlib import Path

from playbook.compiler import compile_path
from playbook.data.files import read_events
from playbook.eventnames import BUILTIN_EVENTS, EVENT_ALIASES, canonical_event
from playbook.runtime.store import Store
from playbook.vocab.localtime import LocalTime
from tests.cli_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
BOOK = """quiet 22:00-08:00
event 直播预约
content 欢迎 = "你好"
journey 新客 {
  on 加好友
  dm 欢迎
}
journey 预约 {
  on 直播预约
  dm 欢迎
}
journey 报名 {
  on 直播报名
  dm 欢迎
}
journey 错字 {
  on purchse
  dm 欢迎
}
"""


def test_undeclared_events_warn_declared_and_aliases_do_not(tmp_path: Path) -> None:
    path = tmp_path / "p.pb"
    path.write_text(BOOK, encoding="utf-8")
    result = compile_path(str(path))
    assert result.ok
    warned = {d.line: d for d in result.warnings if d.code == "unknown-event"}
    assert sorted(warned) == [13, 17]  # 直播报名 and purchse; not 加好友 (an alias), not 直播预约 (declared)
    assert "event 直播报名" in warned[13].hint  # how to declare it
    assert "did you mean 'purchase'?" in warned[17].hint
    assert set(result.doc["events"]) == {"friend_added", "直播预约", "直播报名", "purchse"}  # type: ignore[index]


def test_every_alias_is_a_builtin_event() -> None:
    assert set(EVENT_ALIASES.values()) <= set(BUILTIN_EVENTS)
    assert canonical_event("加好友") == "friend_added" and canonical_event("直播报名") == "直播报名"


def test_an_alias_event_in_a_file_is_the_builtin(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "加好友", "contact": "k1", "at": "2026-12-01 10:00", "account": "a1"}\n', encoding="utf-8")
    (event,), problems = read_events(path, LocalTime("Asia/Shanghai"))
    assert not problems and event.type == "friend_added"


def test_plan_and_event_warn_on_types_nobody_listens_to(tmp_path: Path) -> None:
    book = tmp_path / "p.pb"
    book.write_text(BOOK, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({"type": kind, "contact": "k1", "at": "2026-12-01T10:00:00+08:00",
                                          "account": "a1"}, ensure_ascii=False) + "\n"
                              for kind in ("加好友", "直播预约", "直播签到", "直播签到", "purchase")),
                      encoding="utf-8")  # fmt: skip
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,name,account\nk1,张三,a1\n", encoding="utf-8")
    out = run_cli("plan", str(book), "--contacts", str(contacts), "--events", str(events), "--start", "2026-12-01",
                  "--days", "1", "--format", "json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "2 events of type '直播签到': no playbook listens to them" in out.stderr
    assert out.stderr.count("no playbook listens") == 1  # built-in and listened-to types are fine
    db = tmp_path / "s.db"
    with Store(f"sqlite:///{db}") as store:
        store.migrate()
        result = compile_path(str(book))
        store.save_version(result.doc)  # type: ignore[arg-type]
        store.activate_version(result.version)  # type: ignore[arg-type]
    one = run_cli("event", "直播签到", "--contact", "k1", "--db", str(db))
    assert one.returncode == 0 and "1 event of type '直播签到': no playbook listens to it" in one.stderr
    heard = run_cli("event", "直播预约", "--contact", "k1", "--db", str(db))
    assert heard.returncode == 0 and "no playbook listens" not in heard.stderr
    from_file = run_cli("event", "--file", str(events), "--db", str(db))
    assert from_file.returncode == 0 and "2 events of type '直播签到'" in from_file.stderr


def test_fmt_keeps_an_event_declaration(tmp_path: Path) -> None:
    from playbook.syntax.fmt import format_source

    text = format_source("event   直播预约\n" + BOOK.replace("event 直播预约\n", ""))
    assert text.startswith("event 直播预约\n") and format_source(text) == text
    path = tmp_path / "p.pb"
    path.write_text(text, encoding="utf-8")
    assert not [d for d in compile_path(str(path)).warnings if d.code == "unknown-event" and "直播预约" in d.message]


def test_the_timeline_s_chinese_label_of_an_event_is_one_of_its_names() -> None:
    """What `plan --contact` shows in Chinese (words.py: 加好友 (friend_added)) can be
    written back in a playbook or an event and means the same event."""
    from playbook.i18n_zh import ZH
    from playbook.words import EVENT_WORDS

    for kind in BUILTIN_EVENTS:
        assert canonical_event(ZH[EVENT_WORDS[kind]]) == kind
