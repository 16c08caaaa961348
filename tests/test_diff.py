"""`playbook diff OLD NEW`: graph changes from the compiled IR, and the effect over the bundled
sample data — golden outputs (table in English and Chinese, JSON) for typical edits of the
bundled examples (tests/golden/diff/<case>/: the edited copy of playbooks/<name>.pb), and
the exit status of `terraform plan -detailed-exitcode` (0 nothing sent changes, 2 it does,
1 an error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN, ROOT, check_golden

from playbook.compiler import compile_path, compile_text
from playbook.compiler.changes import graph_changes
from playbook.diagnostics import cell_width
from playbook.plan.diff import Side, effect
from playbook.vocab.localtime import LocalTime
from playbook.vocab.model import Touch

CASES = sorted(p.name for p in (GOLDEN / "diff").iterdir() if p.is_dir())
DATA = ["--contacts", "playbooks/contacts.csv", "--accounts", "playbooks/accounts.csv", "--events",
        "playbooks/events.jsonl", "--start", "2026-12-01", "--days", "14"]  # fmt: skip


def _diff(*args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "playbook", "--lang", lang, "diff", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "80"}, timeout=120)  # fmt: skip


def _paths(case: str) -> tuple[str, str]:
    (new,) = sorted((GOLDEN / "diff" / case).glob("*.pb"))
    return f"playbooks/{new.name}", str(new.relative_to(ROOT))


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    old, new = _paths(case)
    expected_code = 0 if case == "comment_only" else 2
    folder = GOLDEN / "diff" / case
    for lang, name in (("en", "expected.txt"), ("zh", "expected.zh.txt")):
        done = _diff(old, new, *DATA, lang=lang)
        assert done.returncode == expected_code, done.stderr
        assert all(cell_width(line) <= 80 for line in done.stdout.splitlines()), "wider than 80 columns"
        check_golden(folder / name, done.stdout)
    done = _diff(old, new, *DATA, "--format", "json")
    assert done.returncode == expected_code
    check_golden(folder / "expected.json", done.stdout)
    doc = json.loads(done.stdout)
    assert doc["alters_sending"] is (expected_code == 2)


def test_what_each_edit_is_seen_as() -> None:
    """The cases' graph changes and effect, stated by hand (the goldens hold the rest)."""

    def doc(case: str) -> dict:
        done = _diff(*_paths(case), *DATA, "--format", "json")
        return json.loads(done.stdout)

    retime = doc("retime_step")
    assert [(c["kind"], c["op"], c["name"], c["aspect"]) for c in retime["changes"]] == [
        ("step", "changed", "新客培育 · s2", "timing")
    ]
    effect = retime["effect"]
    assert effect["counts"] == {"added": 0, "removed": 0, "changed": 2}
    moved = [(x["old"]["at"], x["new"]["at"], x["what"]) for x in effect["examples"]["changed"]]
    assert moved[0] == ("2026-12-02T10:00:00+08:00", "2026-12-03T10:00:00+08:00", ["time"])

    text = doc("change_text")
    assert [(c["kind"], c["name"], c["aspect"]) for c in text["changes"]] == [("content", "欢迎语", "text")]
    (first, *_) = text["effect"]["examples"]["changed"]
    assert (
        first["what"] == ["text"]
        and "本周新品到店" in first["new"]["text"]
        and first["old"]["at"] == first["new"]["at"]
    )

    added = doc("add_journey")
    assert {(c["kind"], c["op"], c["name"]) for c in added["changes"]} == {
        ("content", "added", "下单感谢"),
        ("journey", "added", "下单感谢"),
    }
    assert added["effect"]["counts"]["added"] == 8 and added["effect"]["counts"]["removed"] == 0
    assert added["effect"]["by_journey"] == [{"flow": "下单感谢", "channel": "dm", "added": 8, "removed": 0,
                                              "changed": 0}]  # fmt: skip

    burst = doc("add_segment_journey")["effect"]  # everyone already in 已购 enters at once: held by quiet hours
    assert burst["first_hour"]["new"] == {} and burst["busiest_hour"]["old"]["touches"] == 1
    assert burst["busiest_hour"]["new"] == {"at": "2026-12-01T08:00:00+08:00", "touches": 32}

    tight = doc("tighten_limit")
    (limit,) = tight["changes"]
    assert (limit["kind"], limit["aspect"], limit.get("tightened")) == ("limit", "count", True)
    assert tight["effect"]["sent"]["new"] < tight["effect"]["sent"]["old"]

    same = doc("comment_only")
    assert same["changes"] == [] and same["old"]["version"] == same["new"]["version"]
    assert same["effect"]["counts"] == {"added": 0, "removed": 0, "changed": 0}


def test_exit_codes_without_data_and_on_errors(tmp_path: Path) -> None:
    old, new = _paths("retime_step")
    assert _diff(old, new).returncode == 2  # no data: a graph change counts
    assert _diff(old, old).returncode == 0
    broken = tmp_path / "new_customer.pb"
    broken.write_text("journey 坏 {", encoding="utf-8")
    done = _diff(old, str(broken))
    assert done.returncode == 1 and "new_customer.pb:1:" in done.stderr
    assert _diff(old).returncode == 1  # a usage error is 1 here, not click's 2 ("changes")
    assert _diff(old, new, "--events", "playbooks/events.jsonl").returncode == 1
    assert _diff(old, new, "--contacts", str(tmp_path / "missing.csv")).returncode == 1
    assert _diff(old, new, *DATA, "--adapter", "nosuch").returncode == 1
    assert _diff(old, new, *DATA, "--adapter", "wecom").returncode == 2  # the platform's limits, as `plan --adapter`


BASE = """\
playbook "t"
timezone "Asia/Shanghai"
limit dm 3 per contact per day
limit task 9 per account per week
segment 老客 = orders >= 1
content 欢迎 = "你好"
journey 欢迎 {
  on friend_added
  after 5m: dm 欢迎
  task "跟进"
}
"""


@pytest.mark.parametrize(("edit", "expected"), [
    (("after 5m: dm 欢迎", "after 1h: dm 欢迎"), [("step", "changed", "欢迎 · s1", "timing")]),
    (('task "跟进"', 'task "回访"'), [("step", "changed", "欢迎 · s2", "text")]),
    (('"你好"', '"您好"'), [("content", "changed", "欢迎", "text")]),
    (("limit dm 3", "limit dm 2"), [("limit", "changed", "dm per contact per day", "count")]),
    (("limit task 9 per account per week\n", ""), [("limit", "removed", "task per account per week", "")]),
    (("orders >= 1", "orders >= 2"), [("segment", "changed", "老客", "expr")]),
    (("on friend_added", "on purchase"), [("journey", "changed", "欢迎", "entry")]),
    (('  task "跟进"\n', ""), [("step", "changed", "欢迎 · s1", "order"), ("step", "removed", "欢迎 · s2", "")]),
    (("# none", ""), []),
])  # fmt: skip
def test_graph_changes_of_small_edits(edit: tuple[str, str], expected: list[tuple[str, str, str, str]]) -> None:
    before = compile_text(BASE, "t.pb").doc
    after = compile_text(BASE.replace(*edit), "t.pb").doc
    assert before is not None and after is not None
    assert [(c.kind, c.op, c.name, c.aspect) for c in graph_changes(before, after)] == expected


def test_reformatting_is_no_change() -> None:
    a = compile_path(ROOT / "playbooks" / "new_customer.pb").doc
    b = compile_text("# a comment\n\n" + (ROOT / "playbooks" / "new_customer.pb").read_text(encoding="utf-8"),
                     "new_customer.pb").doc  # fmt: skip
    assert a is not None and b is not None
    assert graph_changes(a, b) == []


def _touch(key: str, at: int, *, outcome: str = "ok", text: str = "hi", account: str = "a1") -> Touch:
    return Touch(at=at, due=at, channel="dm", account=account, flow="j", step="s1", content="c", text=text,
                 outcome=outcome, reason="" if outcome == "ok" else "limit dm 1 per contact per day", version="v",
                 key=key, contact=key.split("/")[2])  # fmt: skip


def test_effect_matches_touches_by_key_without_the_version() -> None:
    """Same step for the same contact across versions; skipped touches do not go out."""
    clock, start = LocalTime("Asia/Shanghai"), 1_796_054_400  # 2026-12-01 00:00 +08:00
    old = [_touch("v1/j/c1/s1/1", start + 60), _touch("v1/j/c2/s1/1", start + 60),
           _touch("v1/j/c3/s1/1", start + 7200, outcome="skipped"), _touch("v1/j/c4/s1/1", start + 60),
           _touch("v1/j/c5/s1/1", start + 60), _touch("v1/j/c6/s1/1", start + 60)]  # fmt: skip
    new = [_touch("v2/j/c1/s1/1", start + 60),  # the same: no difference
           _touch("v2/j/c2/s1/1", start + 86400),  # later
           _touch("v2/j/c3/s1/1", start + 7200),  # skipped before, goes out now: added
           _touch("v2/j/c4/s1/1", start + 60, outcome="skipped"),  # goes out no more: removed
           _touch("v2/j/c5/s1/1", start + 60, text="hello", account="a2"),  # another text and account
           _touch("v2/j/c7/s1/1", start + 30)]  # new; c6's is gone: removed  # fmt: skip
    sides = {"old": Side(old, start, start + 7 * 86400, clock), "new": Side(new, start, start + 7 * 86400, clock)}
    e = effect(lambda side: sides[side])
    assert e.sent == {"old": 5, "new": 5}
    assert sorted(b.contact for _, b in e.added) == ["c3", "c7"]
    assert [a.outcome for a, _ in e.added if a is not None] == ["skipped"]
    assert sorted(a.contact for a, _ in e.removed) == ["c4", "c6"]
    assert sorted((b.contact, tuple(what)) for _, b, what in e.changed) == [
        ("c2", ("time",)),
        ("c5", ("text", "account")),
    ]
    assert e.by_flow() == {("j", "dm"): {"added": 2, "removed": 2, "changed": 2}}
    assert e.burst == {"old": {"dm": 5}, "new": {"dm": 3}} and e.alters_sending  # c3 at 02:00, c2 a day later
    assert e.peak == {"old": (start, 5), "new": (start, 3)}
    same = effect(lambda side: sides["old"])
    assert not same.alters_sending and not (same.added or same.removed or same.changed)


@pytest.mark.parametrize(("example", "edit", "expected"), [
    ("presale_group", ("lasts 3d", "lasts 2d"), [("group", "changed", "车厘子预售群", "lasts")]),
    ("presale_group", ("size 200", "size 100"), [("group", "changed", "车厘子预售群", "size")]),
    ("presale_group", ("day 1 at 20:00: post 预售介绍", "day 1 at 21:00: post 预售介绍"),
     [("step", "changed", "车厘子预售群 · s2", "timing")]),
    ("moments_and_service", ("every day at 08:30: post 早安", "every day at 09:00: post 早安"),
     [("moments", "changed", "日常朋友圈", "timing")]),
    ("moments_and_service", ("visible to in 已购", "visible to not in 已购\n"),
     [("moments", "changed", "日常朋友圈", "visible")]),
    ("moments_and_service", ("within 10m during", "within 5m during"), [("sla", "changed", "及时回复", "within")]),
    ("moments_and_service", ("each contact every 30d", "each contact every 14d"),
     [("rotation", "changed", "朋友圈互动", "period")]),
    ("moments_and_service", ("quiet 22:30-07:30", "quiet 22:00-08:00"), [("playbook", "changed", "朋友圈日历与服务标准", "quiet")]),
])  # fmt: skip
def test_graph_changes_of_groups_moments_rotations_slas(example: str, edit: tuple[str, str],
                                                      expected: list[tuple[str, str, str, str]]) -> None:  # fmt: skip
    source = (ROOT / "playbooks" / f"{example}.pb").read_text(encoding="utf-8")
    assert edit[0] in source
    before = compile_text(source, f"{example}.pb").doc
    after = compile_text(source.replace(*edit), f"{example}.pb").doc
    assert before is not None and after is not None
    assert [(c.kind, c.op, c.name, c.aspect) for c in graph_changes(before, after)] == expected
