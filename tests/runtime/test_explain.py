"""`playbook explain --contact ID`: a contact's journeys (entered, or why not, worked out
from the store) and every touch as a sentence; the CLI's text and stable JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from io import StringIO

import pytest
from click.testing import CliRunner
from rich.console import Console

from playbook.cli.main import cli
from playbook.compiler import compile_text, ir
from playbook.diagnostics import PlaybookError
from playbook.i18n import set_language
from playbook.runtime.explain import explain, touch_sentence, why_text
from playbook.runtime.rows import EnrolmentRow, Journal, Settlement, TouchRow
from playbook.runtime.store import Store
from playbook.vocab.model import Event, StateEvent
from playbook.vocab.values import Instant

T0 = 1796086800  # 2026-12-01 09:00 +08:00
H, M = 3600, 60
NOW = T0 + 5 * 24 * H  # 2026-12-06 09:00: before the 12-12 one-time entry
SOURCE = """playbook "解释测试"
timezone "Asia/Shanghai"
quiet 22:00-08:00
limit dm 1 per contact per day

segment 已购 = orders >= 1
segment 高价值 = spent >= 3000 and city == "上海" and tag "VIP"

content 欢迎 = "{name|亲}您好"
content 关怀 = "{name|亲}，好久不见"

journey 门店新客 {
  on friend_added where event.source == "门店二维码" and not in 已购
  goal purchase within 14d
  after 5m: dm 欢迎
  split {
    50%: dm 关怀
    50%: dm 欢迎
  }
}
journey 高价值关怀 {
  on enter 高价值
  dm 关怀
}
journey 每周回访 {
  every mon at 10:00 for 已购
  dm 关怀
}
journey 双12 {
  at 2026-12-12 10:00 for 已购
  dm 关怀
}
journey 问价 {
  on tag_added where event.tag == "问过价格"
  dm 关怀
}
moments 日常 {
  every day at 08:30: post 关怀
}
"""
PB = compile_text(SOURCE, "explain.pb").playbook
assert PB is not None
V = PB.version


class Clock:
    def __init__(self) -> None:
        self.t = T0 - 24 * H

    def __call__(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)


def touch(key: str, at: int, *, due: int | None = None, outcome: str = "ok", reason: str = "", state: str = "pending",
          contact: str | None = "c1", channel: str = "dm", flow: str = "门店新客", step: str = "after 5m: dm 欢迎",
          audience: list[str] | None = None, request: dict | None = None) -> TouchRow:  # fmt: skip
    return TouchRow(key=key, version=V, flow=flow, step=step, channel=channel, due=at if due is None else due,
                    state=state, account="a1", contact=contact, at=None if state == "held" else at, content="欢迎",
                    text="阿四您好", outcome=outcome, reason=reason, audience=audience, request=request,
                    next_attempt_at=at if state == "pending" else None)  # fmt: skip


@pytest.fixture
def db(open_store: Callable[..., Store]) -> Store:
    clock = Clock()
    store = open_store(now=clock)
    store.migrate()
    store.save_version(ir.to_doc(PB))
    store.activate_version(V)  # activated a day before T0
    store.write(Journal(
        accounts=[{"id": "a1", "name": "小美"}],
        contacts=[
            {"id": "c1", "name": "阿四", "account": "a1", "tags": frozenset({"VIP", "水果"}), "city": "上海",
             "spent": 5000, "orders": 1, "added_at": Instant(T0)},
            {"id": "c2", "name": "白一", "account": "a1", "city": "杭州", "spent": 5000},
            {"id": "c3", "name": "丁二"},
            {"id": "c4", "name": "张伟", "account": "a1"},
            {"id": "c5", "name": "李娜", "account": "a1", "orders": 2},
        ],
        deleted_contacts={"c3"},
        enrolments=[
            EnrolmentRow(V, "门店新客", "c1", 1, T0, status="done", arms={"s2": "A"}, goal_at=T0 + 30 * H,
                         segments=["已购", "高价值"]),
            EnrolmentRow(V, "高价值关怀", "c1", 1, T0 + H, status="exited"),
        ],
        state_events=[
            StateEvent(T0, "enter", "c1", "门店新客", {"n": 1}, V),
            StateEvent(T0 + 5 * M, "split", "c1", "门店新客", {"step": "s2", "arm": "A"}, V),
            StateEvent(T0 + H, "enter", "c1", "高价值关怀", {"n": 1}, V),
            StateEvent(T0 + 2 * H, "exit", "c1", "高价值关怀", {"reason": "exit on purchase"}, V),
            StateEvent(T0 + 30 * H, "goal", "c1", "门店新客", {"event": "purchase", "after_seconds": 30 * H}, V),
            StateEvent(T0 + 2 * 24 * H, "exit", "c1", "门店新客", {"reason": "completed"}, V),
        ],
        touches=[
            touch("t1", T0 + 5 * M),  # sent at once
            touch("t2", T0 + 23 * H, due=T0 + 13 * H + 30 * M, outcome="deferred", reason="quiet hours 22:00-08:00",
                  step="dm 关怀"),  # sent at 08:00 the next day
            touch("t3", T0 + 24 * H, outcome="skipped", reason="limit dm 1 per contact per day", state="skipped",
                  flow="高价值关怀", step="dm 关怀"),
            touch("t4", T0 + 25 * H, flow="高价值关怀", step="dm 关怀"),  # failed, retrying
            touch("t5", T0 + 26 * H, flow="问价", step="dm 关怀"),  # dead
            touch("t6", T0 + 27 * H, due=T0 + 36 * H, state="held", flow="问价", step="dm 关怀",
                  request={"reasons": ["quiet hours 22:00-08:00"]}),
            touch("m1", T0 - 30 * M, contact=None, channel="moment", flow="日常", step="every day at 08:30: post 关怀",
                  audience=["c1", "c4"]),
            touch("m2", T0 - 30 * M + 24 * H, contact=None, channel="moment", flow="日常",
                  step="every day at 08:30: post 关怀", audience=["c4"]),  # not in c1's audience
            touch("x1", T0, contact="c4"),  # someone else's
        ],
    ))  # fmt: skip
    for key, sent, state, extra in (
        ("t1", T0 + 5 * M + 2, "sent", {}),
        ("t2", T0 + 23 * H + 10, "sent", {}),
        ("m1", T0 - 30 * M + 5, "sent", {}),
        ("t4", T0 + 25 * H + 5, "failed", {"error": "timeout", "next_attempt_at": T0 + 25 * H + 65}),
        ("t5", T0 + 26 * H + 5, "dead", {"error": "48002 customer refused"}),
    ):
        clock.t = sent
        store.transition([key], "pending", "sending", owner="p1", attempts=3 if key == "t4" else 1)
        assert store.settle([Settlement(key, state, **extra)], "p1") == []
    seqs = store.append_events([
        Event("friend_added", "c2", T0 + H, {"source": "朋友推荐", "account": "a1"}),
        Event("friend_added", "c4", T0 + 2 * H, {"source": "门店二维码"}),  # not processed yet
        Event("friend_added", "c5", T0 - 2 * 24 * H, {"source": "门店二维码"}),  # before the activation
        Event("tag_added", "c5", T0 + H, {"tag": "问过价格"}),
    ], "file")  # fmt: skip
    store.mark_events(processed=[seqs[0], seqs[2]], rejected={seqs[3]: "unknown contact"})
    return store


def journeys(doc: dict) -> dict[str, dict]:
    return {j["journey"]: j for j in doc["journeys"]}


def test_an_enrolled_contact(db: Store) -> None:
    doc = explain(db, "c1", now=NOW)
    assert doc["contact"]["name"] == "阿四" and doc["contact"]["account"] == "a1"
    assert doc["contact"]["fields"]["tags"] == ["VIP", "水果"]
    assert doc["contact"]["fields"]["added_at"] == "2026-12-01T09:00:00+08:00"
    assert doc["account"] == {"id": "a1", "name": "小美"}
    js = journeys(doc)
    assert list(js) == sorted(js)
    new = js["门店新客"]
    assert new["entry"] == {"kind": "event", "event": "friend_added",
                            "text": 'on friend_added where event.source == "门店二维码" and not in 已购'}  # fmt: skip
    assert new["enrolments"] == [{
        "version": V, "journey": "门店新客", "n": 1, "entered_at": "2026-12-01T09:00:00+08:00", "status": "done",
        "exited_at": "2026-12-03T09:00:00+08:00", "exit_reason": "completed", "arms": {"s2": "A"},
        "goal_at": "2026-12-02T15:00:00+08:00", "hours_to_goal": 30.0, "segments": ["已购", "高价值"],
    }]  # fmt: skip
    assert new["why_not"] == []
    care = js["高价值关怀"]["enrolments"][0]
    assert (care["status"], care["exit_reason"], care["exited_at"]) == ("exited", "exit on purchase",
                                                                         "2026-12-01T11:00:00+08:00")  # fmt: skip
    # c1 never asked for a price: the tag_added entry never came
    assert js["问价"]["why_not"] == [{"code": "event_never_received", "event": "tag_added"}]
    # c1 has orders: it matches 已购, and waits for the schedule / the one-time entry
    assert js["每周回访"]["why_not"] == [{"code": "waits_for_schedule", "segment": "已购",
                                          "schedule": "every mon at 10:00"}]  # fmt: skip
    assert js["双12"]["why_not"] == [{"code": "once_ahead", "segment": "已购", "at": "2026-12-12T10:00:00+08:00"}]
    assert js["双12"]["entry"]["at"] == "2026-12-12T10:00:00+08:00"


def test_touches_as_sentences(db: Store) -> None:
    doc = explain(db, "c1", now=NOW)
    touches = {x["key"]: x for x in doc["touches"]}
    assert [x["key"] for x in doc["touches"]] == ["m1", "t1", "t2", "t3", "t4", "t5", "t6"]  # by when, m2 and x1 not
    said = {key: touch_sentence(x) for key, x in touches.items()}
    assert said["t1"] == "went out at 2026-12-01 09:05 (on time)"
    assert said["t2"] == ("deferred from 2026-12-01 22:30 to 2026-12-02 08:00 by quiet hours 22:00-08:00; "
                          "went out at 2026-12-02 08:00 (on time)")  # fmt: skip
    assert said["t3"] == "skipped: limit dm 1 per contact per day"
    assert said["t4"] == "failed: timeout (attempt 3, retrying at 2026-12-02 10:01)"
    assert said["t5"] == "dead letter: 48002 customer refused"
    assert said["t6"] == "held since 2026-12-02 21:00: quiet hours 22:00-08:00"
    assert said["m1"] == "went out at 2026-12-01 08:30 (on time)"
    assert touches["t2"]["on_time"] is True and touches["t4"]["next_attempt_at"] == "2026-12-02T10:01:05+08:00"
    late = {**touches["t1"], "on_time": False}
    assert touch_sentence(late) == "went out at 2026-12-01 09:05 (late)"
    waiting = {**touches["t1"], "state": "pending", "next_attempt_at": "2026-12-01T09:05:00+08:00"}
    assert touch_sentence(waiting) == "waiting to go out at 2026-12-01 09:05"
    unknown = {**touches["t1"], "state": "unknown", "error": "the process stopped during the call"}
    assert touch_sentence(unknown) == "unknown whether it went out: the process stopped during the call"


def test_why_not_from_the_data(db: Store) -> None:
    c2 = journeys(explain(db, "c2", now=NOW))
    where = c2["门店新客"]["why_not"]
    assert where == [{"code": "where_false", "event": "friend_added", "at": "2026-12-01T10:00:00+08:00",
                      "received": 1, "failed": ['event.source == "门店二维码"']}]  # fmt: skip
    assert why_text(where[0]) == ('friend_added at 2026-12-01 10:00 was received, but its `where` is false: '
                                  'event.source == "门店二维码"')  # fmt: skip
    segment = c2["高价值关怀"]["why_not"]
    assert segment == [{"code": "segment_no_match", "segment": "高价值", "failed": ['city == "上海"', 'tag "VIP"']}]
    assert why_text(segment[0]) == 'does not match segment 高价值 now: city == "上海"; tag "VIP"'
    assert c2["每周回访"]["why_not"] == [{"code": "segment_no_match", "segment": "已购", "failed": ["orders >= 1"]}]

    c3 = journeys(explain(db, "c3", now=NOW))
    assert [r["code"] for r in c3["门店新客"]["why_not"]] == ["deleted", "no_account", "event_never_received"]
    assert why_text(c3["门店新客"]["why_not"][0]) == "the contact is deleted: no journey takes it any more"

    c4 = journeys(explain(db, "c4", now=NOW))
    assert c4["门店新客"]["why_not"][0]["code"] == "event_not_processed"

    c5 = journeys(explain(db, "c5", now=NOW + 7 * 24 * H))
    assert c5["门店新客"]["why_not"] == [{"code": "before_activation", "event": "friend_added", "received": 1,
                                          "at": "2026-11-29T09:00:00+08:00",
                                          "activated_at": "2026-11-30T09:00:00+08:00"}]  # fmt: skip
    assert c5["问价"]["why_not"] == [{"code": "event_rejected", "event": "tag_added", "received": 1,
                                      "at": "2026-12-01T10:00:00+08:00", "reason": "unknown contact"}]  # fmt: skip
    assert c5["双12"]["why_not"] == [{"code": "once_passed", "segment": "已购", "at": "2026-12-12T10:00:00+08:00"}]
    assert why_text(c5["双12"]["why_not"][0]) == "the one-time entry at 2026-12-12 10:00 has passed"
    assert c5["高价值关怀"]["why_not"][0]["failed"] == ["spent >= 3000", 'city == "上海"', 'tag "VIP"']


def test_one_flow(db: Store) -> None:
    doc = explain(db, "c1", "高价值关怀", now=NOW)
    assert [j["journey"] for j in doc["journeys"]] == ["高价值关怀"]
    assert [x["key"] for x in doc["touches"]] == ["t3", "t4"]
    assert [x["key"] for x in explain(db, "c1", "日常", now=NOW)["touches"]] == ["m1"]
    assert explain(db, "c1", "解释测试/门店新客", now=NOW)["journeys"][0]["journey"] == "门店新客"


def test_unknown_contact_or_flow(db: Store) -> None:
    with pytest.raises(PlaybookError, match="no contact 'nobody' in the store"):
        explain(db, "nobody", now=NOW)
    with pytest.raises(PlaybookError) as caught:
        explain(db, "c1", "门店新", now=NOW)
    assert caught.value.diagnostics[0].hint == "did you mean '门店新客'?"


def test_sentences_in_chinese(db: Store) -> None:
    from playbook import i18n
    from playbook.cli.explain import render

    set_language("zh")
    i18n.clear_missing()
    doc = explain(db, "c1", now=NOW)
    said = {x["key"]: touch_sentence(x) for x in doc["touches"]}
    assert (
        said["t2"]
        == "因免打扰时段 22:00-08:00从 2026-12-01 22:30 延后到 2026-12-02 08:00；2026-12-02 08:00 已发出（按时）"
    )
    assert said["t3"] == "已跳过：频次限制：每个联系人每天最多 1 条私聊"
    out = Console(file=StringIO(), width=100)
    render(doc, out)
    render(explain(db, "c3", now=NOW), out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "第 1 次进入" in text and "从未进入" in text and "联系人已删除" in text
    assert i18n.missing() == frozenset()


# ---- the command -----------------------------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--lang", "en", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_explain_command_text(db: Store, store_url: str) -> None:
    code, out, _ = invoke("explain", "--contact", "c1", "--db", store_url)
    assert code == 0
    for text in ("阿四 (c1) · account a1 小美", "journeys of the playbooks", "门店新客",
                 "#1 entered 2026-12-01 09:00 · completed 2026-12-03 09:00 · arm A · goal 2026-12-02 15:00 (30.0 h",
                 "exited the journey (exit on purchase) 2026-12-01 11:00", "never entered",
                 "no tag_added event was ever received for this contact", "went out at 2026-12-01 09:05 (on time)",
                 "dead letter: 48002 customer refused"):  # fmt: skip
        assert text in out, text
    code, out, _ = invoke("explain", "--contact", "c2", "--flow", "门店新客", "--db", store_url)
    assert code == 0 and "its `where` is false" in out and "no touches" in out and "高价值关怀" not in out


def test_explain_command_json_is_stable(db: Store, store_url: str) -> None:
    code, out, _ = invoke("explain", "--contact", "c2", "--db", store_url, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert out == json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert journeys(doc)["门店新客"]["why_not"][0]["code"] == "where_false"
    zh = CliRunner().invoke(cli, ["--lang", "zh", "explain", "--contact", "c2", "--db", store_url, "--format", "json"])
    without_clock = {k: v for k, v in doc.items() if k != "evaluated_at"}
    assert {k: v for k, v in json.loads(zh.stdout).items() if k != "evaluated_at"} == without_clock  # data, no prose


def test_explain_command_errors(db: Store, store_url: str) -> None:
    code, _, err = invoke("explain", "--contact", "nobody", "--db", store_url)
    assert code == 1 and "no contact 'nobody' in the store" in err and "Traceback" not in err
    code, _, err = invoke("explain", "--contact", "c1", "--flow", "门店新", "--db", store_url)
    assert code == 1 and "no flow '门店新' in the active playbooks" in err and "did you mean '门店新客'?" in err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explain_fits_80_columns_and_labels_events(db: Store, lang: str) -> None:
    from io import StringIO

    from rich.console import Console

    from playbook.cli.explain import render
    from playbook.textcells import cell_width

    set_language(lang)
    out = Console(file=StringIO(), width=80)
    render(explain(db, "c1", now=T0 + 100 * 3600), out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert not [line for line in text.splitlines() if cell_width(line) > 80]
    assert "…" not in text
    if lang == "zh":
        assert "打标签 (tag_added)" in text and "私聊" in text


def test_explain_s_tree_wraps_on_a_narrow_terminal_and_cuts_nothing(db: Store) -> None:
    """The CLI's console soft-wraps (lines are left whole for the terminal); a rich Tree under
    soft wrap is cropped at the width with no mark (`spent >= 300` for `spent >= 3000`)."""
    import re
    from io import StringIO

    from rich.console import Console

    from playbook.cli.explain import render
    from playbook.textcells import cell_width

    set_language("en")
    doc = explain(db, "c1", now=T0 + 100 * 3600)
    wide = Console(file=StringIO(), width=400, soft_wrap=True)
    render(doc, wide)
    narrow = Console(file=StringIO(), width=40, soft_wrap=True)
    render(doc, narrow)
    wide_text, narrow_text = wide.file.getvalue(), narrow.file.getvalue()  # type: ignore[attr-defined]
    squeeze = lambda text: re.sub(r"[\s\u2500-\u257f]", "", text)  # noqa: E731 (whitespace and box drawing)
    tree = wide_text.split("journeys of the playbooks", 1)[1].split("touches", 1)[0]
    assert squeeze(tree) and squeeze(tree) in squeeze(narrow_text)
    tree_lines = narrow_text.split("journeys of the playbooks", 1)[1].split("touches", 1)[0].splitlines()
    assert not [line for line in tree_lines if cell_width(line) > 40]
